"""Candidate changes of the engine's defaults that conf cannot express yet.

Module-level factories `(cfg, space) -> sampler | pruner` (picklable, for replay in worker
processes) and one new pruner. Nothing here is used by the engine; `benchmarks.run` measures them
against the shipped defaults, and RESULTS.md proposes the winners to the engine.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState


class TopTrajectoryPruner(BasePruner):
    """Prune a trial that is slower than every good finished trial was at the same step.

    The reference is the `top_k` COMPLETE trials with the best *final* values, and the bar at
    step s is the worst (highest) eval loss any of them had at s (the slowest eventual winner).
    A trial is pruned at s when its eval loss is above that bar by more than `margin`
    (relative). Unlike the median pruner, a configuration that only looked good early (a high
    learning rate that later overfits or plateaus) never sets the bar unless it also ended among
    the best, and a slow starter that ended well lowers it; so good slow starters survive and the
    many clearly worse trials are stopped at their first report.

    Args:
        top_k: finished trials that define the bar (the best `top_k` by final value).
        n_startup_trials: no pruning until this many trials are COMPLETE.
        n_warmup_steps: no pruning before this step.
        margin: relative slack above the bar (0.0: none).
    """

    def __init__(self, top_k: int = 3, n_startup_trials: int = 3, n_warmup_steps: int = 0,
                 margin: float = 0.0) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, but got {top_k=}.")
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, but got {n_startup_trials=}.")
        if n_warmup_steps < 0:
            raise ValueError(f"n_warmup_steps must be >= 0, but got {n_warmup_steps=}.")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, but got {margin=}.")
        self.top_k = top_k
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.margin = margin

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if len(done) < max(self.n_startup_trials, 1):
            return False
        value = trial.intermediate_values[step]
        if math.isnan(value):
            return True
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
        best = sorted(done, key=lambda t: sign * t.value)[: self.top_k]
        at_step = [t.intermediate_values[step] for t in best if step in t.intermediate_values]
        if not at_step:
            return False
        bar = max(sign * v for v in at_step)
        return sign * value > bar + self.margin * abs(bar)


def top_trajectory(cfg: Any, space: Any, top_k: int = 3, n_startup_trials: int | None = None,
                   n_warmup_steps: int | None = None, margin: float = 0.0) -> BasePruner:
    """`TopTrajectoryPruner` with the conf's start-up / warm-up unless given."""
    return TopTrajectoryPruner(
        top_k=top_k,
        n_startup_trials=cfg.pruner.n_startup_trials if n_startup_trials is None else n_startup_trials,
        n_warmup_steps=cfg.pruner.n_warmup_steps if n_warmup_steps is None else n_warmup_steps,
        margin=margin)


def percentile(cfg: Any, space: Any, percentile: float = 25.0, n_startup_trials: int | None = None,
               n_warmup_steps: int | None = None) -> BasePruner:
    """Optuna's PercentilePruner (keep the best `percentile`% at each step)."""
    return optuna.pruners.PercentilePruner(
        percentile, n_startup_trials=cfg.pruner.n_startup_trials if n_startup_trials is None else n_startup_trials,
        n_warmup_steps=cfg.pruner.n_warmup_steps if n_warmup_steps is None else n_warmup_steps)
