"""The pruner named in conf (`pruner=successive_halving|median|hyperband|none`), built the same
way in every process that asks it (the driver, a Ray worker), so every executor prunes alike.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep import noise, schedules
from sweep.config import SweepConfig
from sweep.errors import ConfigError, Problem


def first_rung(cfg: SweepConfig, min_resource: int | None = None) -> int:
    """The optimizer step of a rung pruner's first rung (conf's min_resource counts eval reports);
    n_warmup_steps moves it, so `sweep.plan`'s warm-up holds whatever the pruner."""
    evals = cfg.pruner.min_resource if min_resource is None else min_resource
    return max(evals * cfg.train.eval_every, cfg.pruner.n_warmup_steps, 1)


class NoiseAwarePruner(optuna.pruners.BasePruner):
    """The conf's pruner, except that a trial it would stop is kept while its eval loss is within
    `z` paired standard errors (sweep.noise: the same eval rows, per-row NLL) of the worst trial the
    rung keeps: the top 1/`reduction_factor` of the trials that reported at this step (the median
    pruner keeps the better half: `reduction_factor` 2). Hyperband is refused (config.validate):
    its rungs are per bracket, and this bar is over every trial of the study."""

    def __init__(self, base: optuna.pruners.BasePruner, z: float, reduction_factor: int):
        if z < 0:
            raise ValueError(f"z must be >= 0, but got {z=}.")
        self.base, self.z, self.reduction_factor = base, z, max(reduction_factor, 2)
        # trial number -> the step at which this process's last decision overruled the base pruner;
        # StudyReporter.should_prune moves it into the trial's KEPT_ATTR (the summary counts them)
        self.kept: dict[int, int] = {}

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        if not self.base.prune(study, trial):
            return False
        if self.kept_by_noise(study, trial):
            self.kept[trial.number] = trial.last_step
            return False
        return True

    def kept_by_noise(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        peers = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                                      TrialState.RUNNING))
                 if t.number != trial.number and step in t.intermediate_values]
        ranked = sorted([*peers, trial], key=lambda t: t.intermediate_values[step])
        bar_trial = ranked[max(len(ranked) // self.reduction_factor - 1, 0)]
        if bar_trial.number == trial.number:
            return False
        mine, theirs = noise.report_rows(trial.user_attrs, step), noise.report_rows(bar_trial.user_attrs, step)
        tokens = noise.rows_of(trial.user_attrs).get("tokens")
        if not mine or not theirs or not tokens or not len(mine) == len(theirs) == len(tokens) or len(mine) < 2:
            return False  # no rows (or one) to judge the noise by: the base pruner decides
        se = noise.paired_se(mine, theirs, tokens)
        return noise.within_noise(value, bar_trial.intermediate_values[step], se, self.z)


KEPT_ATTR = "kept_within_noise"  # a trial's user attr: the steps at which the noise rule overruled the pruner


def kept_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The trials the noise rule kept at least once where the conf's pruner would have stopped them."""
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(KEPT_ATTR)]


def warmup_warning(cfg: SweepConfig, max_steps: int | None, warmup_ratio: float) -> str | None:
    """A line for the user when the pruner's first rung falls inside the learning-rate warm-up
    of a `max_steps`-step trial (the largest `warmup_ratio` the space can pick): trials would be
    compared before they reach their learning rate, where a high rate looks worst (issue 22's
    short-horizon bias). None when it does not, or the steps are not fixed, or nothing prunes."""
    if cfg.pruner.name == "none" or not max_steps:
        return None
    warm = schedules.warmup_steps(warmup_ratio, max_steps)
    first = first_rung(cfg)
    if first > warm:
        return None
    return (f"warning: the pruner's first rung (step {first}) is inside the learning-rate warm-up (steps 1-{warm} "
            f"of {max_steps} at warmup_ratio {warmup_ratio:g}): trials are compared before they reach their "
            f"learning rate; set pruner.n_warmup_steps={warm + 1} or more (or raise pruner.min_resource)")


def make_pruner(cfg: SweepConfig, max_steps: int | None = None) -> optuna.pruners.BasePruner:
    """The pruner named in conf; used by every executor (Ray workers build the same one). With
    `pruner.noise_z` > 0 it never stops a trial within that many standard errors of the rung's
    survivors (`NoiseAwarePruner`)."""
    base = _base_pruner(cfg, max_steps)
    if cfg.pruner.noise_z > 0 and cfg.pruner.name != "none":
        return NoiseAwarePruner(base, cfg.pruner.noise_z,
                                2 if cfg.pruner.name == "median" else cfg.pruner.reduction_factor)
    return base


def _base_pruner(cfg: SweepConfig, max_steps: int | None = None) -> optuna.pruners.BasePruner:
    p, first = cfg.pruner, first_rung(cfg)
    try:
        if p.name == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials,
                                               n_warmup_steps=p.n_warmup_steps, interval_steps=p.interval_steps)
        if p.name == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=max_steps or "auto",
                                                  reduction_factor=p.reduction_factor)
        if p.name == "successive_halving":
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=p.reduction_factor)
    except ValueError as exc:
        raise ConfigError(Problem(f"pruner={p.name}", str(exc), "fix the pruner's arguments")) from None
    return optuna.pruners.NopPruner()
