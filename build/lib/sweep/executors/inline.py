"""Inline executor: trials one after another in the sweep's own process."""

from __future__ import annotations

from sweep import optuna_internals
from sweep.executors.contract import SweepContext, claim, execute, tell, trial_workdir
from sweep.storage import Heartbeat


class InlineExecutor:
    name = "inline"

    def run(self, ctx: SweepContext) -> None:
        while (claimed := claim(ctx)) is not None:
            trial, params = claimed
            ctx.progress.trial_started(trial.number, params)
            p = ctx.space.from_values(params)
            plan = getattr(ctx.memory_cap, "plan", None)  # memory.Planner: estimate + micro-batch cap
            placement = plan(p) if plan is not None else None
            if placement is not None and placement.estimated_peak_mb is not None:
                trial.set_user_attr("estimated_peak_mb", round(placement.estimated_peak_mb, 1))
            cap = placement.micro_batch_cap if placement is not None else ctx.memory_cap(p)
            with Heartbeat(ctx.study, trial):
                outcome = execute(ctx.cfg, ctx.space, optuna_internals.trial_id(trial), params,
                                  trial_workdir(ctx.cfg, trial.number), study=ctx.study,
                                  memory_cap=cap, on_progress=ctx.progress.update)
            tell(ctx, trial, outcome)
