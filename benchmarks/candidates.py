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

from sweep.pruning import first_rung, make_pruner


def winners_bar(done: list[FrozenTrial], step: int, top_k: int, sign: float = 1.0) -> float | None:
    """The worst (sign * value) eval loss at `step` among the `top_k` COMPLETE trials with the best
    final values: what an eventual winner looked like then; None when none reported at `step`."""
    best = sorted(done, key=lambda t: sign * t.value)[:top_k]
    at_step = [sign * t.intermediate_values[step] for t in best if step in t.intermediate_values]
    return max(at_step) if at_step else None


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
        bar = winners_bar(done, step, self.top_k, sign)
        return bar is not None and sign * value > bar + self.margin * abs(bar)


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


class ProtectedRungsPruner(BasePruner):
    """Successive halving with a lenient first rung and aggressive later ones.

    Rungs at `first_rung * growth**k` optimizer steps (k = 0, 1, ...). At rung 0 a trial
    continues if it is in the best `first_keep` share of the trials that reached that rung (a
    slow starter is not judged on its noisiest, earliest report); at later rungs only the best
    `1 / later_rf`. Like Optuna's SuccessiveHalvingPruner, a rung with fewer trials than needed
    to keep one keeps the trial only when it is the best so far.

    Args:
        first_rung: optimizer steps of rung 0 (the engine: min_resource x train.eval_every).
        growth: rung spacing factor.
        first_keep: share kept at rung 0 (1.0: rung 0 never prunes).
        later_rf: reduction factor of the later rungs (keep the best 1/later_rf).
    """

    def __init__(self, first_rung: int, growth: float = 2.0, first_keep: float = 0.5, later_rf: float = 4.0) -> None:
        self.first_rung = first_rung
        self.growth = growth
        self.first_keep = first_keep
        self.later_rf = later_rf

    def rungs(self, max_step: int) -> list[int]:
        out, r = [], float(self.first_rung)
        while r < max_step:
            out.append(int(round(r)))
            r *= self.growth
        return out

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        if math.isnan(value):
            return True
        rung_steps = self.rungs(step + 1)
        if not rung_steps or rung_steps[-1] > step:
            return False
        k = len(rung_steps) - 1
        rung = rung_steps[-1]
        # the first report at or past the rung step, for this trial and the others
        if min((s for s in trial.intermediate_values if s >= rung), default=None) != step:
            return False
        others = []
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number:
                continue
            at = [s for s in t.intermediate_values if s >= rung]
            if at:
                others.append(t.intermediate_values[min(at)])
        competing = sorted([*others, value])
        keep = self.first_keep if k == 0 else 1.0 / self.later_rf
        n_keep = int(len(competing) * keep)
        if n_keep == 0:
            return value > competing[0]
        return value > competing[n_keep - 1]


def protected_rungs(cfg: Any, space: Any, growth: float = 2.0, first_keep: float = 0.5,
                    later_rf: float = 4.0, first_rung_evals: int | None = None) -> BasePruner:
    """`ProtectedRungsPruner` with rung 0 at the conf's first rung (min_resource eval reports)."""
    return ProtectedRungsPruner(first_rung=first_rung(cfg, first_rung_evals), growth=growth, first_keep=first_keep,
                                later_rf=later_rf)


def schedule_steps(space: Any) -> int | None:
    """The trials' optimizer steps when the space fixes them (`fixed: max_steps`), else None."""
    fixed = getattr(space, "fixed", None) or {}
    steps = fixed.get("max_steps") if isinstance(fixed, dict) else None
    return int(steps) if steps else None


def sh_progress(cfg: Any, space: Any, min_progress: float = 0.5, reduction_factor: int | None = None) -> BasePruner:
    """Successive halving whose first rung is at least `min_progress` of the trial's schedule
    (rounded up to an eval report): on a short cosine schedule a high learning rate is worst
    at its first reports and best at the end, so rungs early in the schedule cut the winners."""
    every = cfg.train.eval_every
    first = first_rung(cfg)
    total = schedule_steps(space)
    if total:
        first = max(first, every * math.ceil(min_progress * total / every))
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=first, reduction_factor=reduction_factor or cfg.pruner.reduction_factor)


class IncumbentGuard(BasePruner):
    """The engine's pruner, but never below the bar the finished winners set.

    `inner` decides as usual; its decision to prune is overruled when the trial's eval loss at
    this step is no worse than the worst of the `top_k` best COMPLETE trials' at the same step
    (what an eventual winner looked like then). Until `n_startup_trials` trials are COMPLETE, no
    trial is pruned. On a schedule where winners start slowly (a high learning rate on a short
    cosine schedule), the first finished winner lowers every rung's bar to its own slow start.
    """

    def __init__(self, inner: BasePruner, top_k: int = 3, n_startup_trials: int = 3) -> None:
        self.inner = inner
        self.top_k = top_k
        self.n_startup_trials = n_startup_trials

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if len(done) < self.n_startup_trials:
            return False
        if not self.inner.prune(study, trial):
            return False
        value = trial.intermediate_values[step]
        if math.isnan(value):
            return True
        bar = winners_bar(done, step, self.top_k)
        return bar is None or value > bar


def guarded(cfg: Any, space: Any, top_k: int = 3, n_startup_trials: int = 3) -> BasePruner:
    """`IncumbentGuard` around the engine's own pruner (conf/pruner)."""
    return IncumbentGuard(make_pruner(cfg), top_k=top_k, n_startup_trials=n_startup_trials)


class ExtrapolatingRungsPruner(BasePruner):
    """Successive-halving rungs that rank trials on their *extrapolated* final eval loss.

    Issue 22's third fidelity: a prefix of a decaying schedule ranks badly (a high learning rate
    is worst at its first reports and best at the end), so compare trials on the final loss
    predicted from their own report and the study's finished trials, fitted on data at hand (no
    downloaded learning-curve surrogate). At a rung step s, a least-squares fit over the COMPLETE
    trials that reported at s, `final ~ a + b * L_s + c * log(lr)`, predicts every trial's final
    from its report at s and its learning rate; a trial is kept when its prediction is among the
    best 1/`reduction_factor` of the trials that reported at s (Optuna's successive-halving
    rule: with fewer than `reduction_factor` of them only the best is kept). With fewer than
    `min_fit` finished trials there is no fit and the report itself is ranked (plain SH).
    """

    def __init__(self, first_rung: int, reduction_factor: int = 3, min_fit: int = 5, ridge: float = 1e-3) -> None:
        if first_rung < 1 or reduction_factor < 2 or min_fit < 3:
            raise ValueError(f"need first_rung >= 1, reduction_factor >= 2, min_fit >= 3, but got "
                             f"{first_rung=}, {reduction_factor=}, {min_fit=}.")
        self.first_rung, self.rf, self.min_fit, self.ridge = first_rung, reduction_factor, min_fit, ridge

    def is_rung(self, step: int) -> bool:
        r = self.first_rung
        while r < step:
            r *= self.rf
        return r == step

    @staticmethod
    def _lr(t: FrozenTrial) -> float:
        return math.log(float(t.params.get("learning_rate", 1.0)))

    def predictor(self, done: list[FrozenTrial], step: int) -> Any:
        """value at `step`, trial -> predicted final; None when too few finished trials reported."""
        import numpy as np

        fit = [t for t in done if step in t.intermediate_values and t.value is not None]
        if len(fit) < self.min_fit:
            return None
        x = np.array([[1.0, t.intermediate_values[step], self._lr(t)] for t in fit])
        y = np.array([t.value for t in fit])
        coef = np.linalg.solve(x.T @ x + self.ridge * np.eye(3), x.T @ y)
        return lambda value, t: float(coef[0] + coef[1] * value + coef[2] * self._lr(t))

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or not self.is_rung(step):
            return False
        value = trial.intermediate_values[step]
        if math.isnan(value):
            return True
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        peers = [t for t in trials if t.number != trial.number and step in t.intermediate_values]
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        predict = self.predictor(done, step) or (lambda v, t: v)
        mine = predict(value, trial)
        competing = sorted([mine, *(predict(t.intermediate_values[step], t) for t in peers)])
        keep = max(len(competing) // self.rf, 1)
        return mine > competing[keep - 1]


def extrapolating(cfg: Any, space: Any, min_fit: int = 5) -> BasePruner:
    """`ExtrapolatingRungsPruner` on the conf's rungs (first rung, reduction factor)."""
    return ExtrapolatingRungsPruner(first_rung=first_rung(cfg), reduction_factor=cfg.pruner.reduction_factor,
                                    min_fit=min_fit)
