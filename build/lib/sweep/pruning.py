"""The pruner named in conf (`pruner=successive_halving|median|hyperband|none`), built the same
way in every process that asks it (the driver, a Ray worker), so every executor prunes alike.
"""

from __future__ import annotations

import optuna

from sweep.config import SweepConfig
from sweep.errors import ConfigError, Problem


def first_rung(cfg: SweepConfig, min_resource: int | None = None) -> int:
    """The optimizer step of a rung pruner's first rung (conf's min_resource counts eval reports);
    n_warmup_steps moves it, so `sweep.plan`'s warm-up holds whatever the pruner."""
    evals = cfg.pruner.min_resource if min_resource is None else min_resource
    return max(evals * cfg.train.eval_every, cfg.pruner.n_warmup_steps, 1)


def make_pruner(cfg: SweepConfig, max_steps: int | None = None) -> optuna.pruners.BasePruner:
    """The pruner named in conf; used by every executor (Ray workers build the same one)."""
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
