"""Inline executor: trials one after another in the sweep's own process."""

from __future__ import annotations

from sweep.executors import SweepContext, claim, execute, tell, trial_workdir
from sweep.study import Heartbeat


class InlineExecutor:
    name = "inline"

    def run(self, ctx: SweepContext) -> None:
        while (claimed := claim(ctx)) is not None:
            trial, params = claimed
            ctx.progress.trial_started(trial.number, params)
            with Heartbeat(ctx.study, trial._trial_id):
                outcome = execute(ctx.cfg, ctx.space, trial._trial_id, params,
                                  trial_workdir(ctx.cfg, trial.number), study=ctx.study,
                                  memory_cap=ctx.memory_cap(ctx.space.from_values(params)),
                                  on_progress=ctx.progress.update)
            tell(ctx, trial, outcome)
