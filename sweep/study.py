"""The Optuna study of a sweep (../shared/DESIGN.md decision 2): opened with the conf's sampler,
pruner and storage, and a trial's handle on it in any process.

`create_or_load` opens (or creates) the study by name; `StudyReporter` is what a trial, inline
or in a Ray worker, reports eval losses to, asks the pruner through and records attributes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

from sweep import noise
from sweep.config import SweepConfig
from sweep.pruning import KEPT_ATTR, NoiseAwarePruner, make_pruner
from sweep.sampling import make_sampler
from sweep.search_space import SearchSpace
from sweep.storage import make_storage

# The study's one objective, named on the study (`Study.set_metric_names`) so that optuna-dashboard,
# the report and W&B all call it the same, not "Objective 0" / "value".
OBJECTIVE = "eval_loss"


def objective_name(study: optuna.Study) -> str:
    return (study.metric_names or [OBJECTIVE])[0]


def create_or_load(cfg: SweepConfig, space: SearchSpace, max_steps: int | None = None,
                   storage: optuna.storages.BaseStorage | None = None, seed: int | None = None) -> optuna.Study:
    """The study named `cfg.study_name` in its storage (created if new) with the conf's sampler
    (seeded with `seed`, else `cfg.seed`) and pruner."""
    return optuna.create_study(
        study_name=cfg.study_name, storage=storage or make_storage(cfg.storage_url(), cfg.heartbeat_grace_s),
        sampler=make_sampler(cfg, space, seed), pruner=make_pruner(cfg, max_steps),
        direction="minimize", load_if_exists=True)


class StudyReporter:
    """A trial's view of the study: report/should_prune/set_attrs, in any process."""

    def __init__(self, trial: optuna.Trial, on_progress: Callable[[int, dict], None] | None = None):
        self.trial = trial
        self.on_progress = on_progress
        self.tracker: Any = None  # per-trial tracker run (sweep.tracking), set by the executor

    @classmethod
    def attach(cls, cfg: SweepConfig, space: SearchSpace, trial_id: int, max_steps: int | None,
               on_progress: Callable[[int, dict], None] | None = None) -> StudyReporter:
        """Rebuild the study (same storage, the conf's pruner) in another process."""
        study = create_or_load(cfg, space, max_steps)
        return cls(optuna.Trial(study, trial_id), on_progress)

    def report(self, step: int, value: float) -> None:
        self.trial.report(value, step)

    def should_prune(self) -> bool:
        if self.trial.should_prune():
            return True
        pruner = self.trial.study.pruner
        step = pruner.kept.pop(self.trial.number, None) if isinstance(pruner, NoiseAwarePruner) else None
        if step is not None:  # the conf's pruner would have stopped it: say so on the trial
            steps = self.trial.user_attrs.get(KEPT_ATTR) or []
            self.set_attrs({KEPT_ATTR: sorted({*steps, int(step)})})
        return False

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        for k, v in attrs.items():
            self.trial.set_user_attr(k, v)
        if self.tracker is not None:
            # per-row NLLs (sweep.noise) stay in the study, not in the tracker's config
            shown = {k: v for k, v in attrs.items() if not k.startswith(noise.ROWS_PREFIX)}
            if shown:
                self.tracker.log_config(shown)

    def progress(self, info: dict[str, Any]) -> None:
        if self.tracker is not None:
            self.tracker.log(info["step"], info)
        if self.on_progress:
            self.on_progress(self.trial.number, info)
