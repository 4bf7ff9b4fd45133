"""The sampler named in conf (`sampler=tpe|random|grid`), seeded so a new study is reproducible.

TPE is Optuna's, except that a trial that ran out of memory even at micro batch 1 counts as its
worst trial (`OomAwareTPESampler`), so it proposes fewer configurations that do not fit.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import optuna
from optuna.trial import TrialState

from sweep import optuna_internals
from sweep.config import SweepConfig
from sweep.search_space import SearchSpace

OOM = "oom"  # the fail_reason of a trial out of memory at micro batch 1 (sweep.executors.contract)


def sampler_seed(cfg: SweepConfig, existing_trials: int) -> int:
    """`cfg.seed` for a new study (reproducible); a resumed or joined study gets a seed that
    differs per run and per process, so it does not propose the first run's points again."""
    if existing_trials == 0:
        return cfg.seed
    return (cfg.seed * 1_000_003 + existing_trials * 7919 + os.getpid()) % 2**31


def make_sampler(cfg: SweepConfig, space: SearchSpace, seed: int | None = None) -> optuna.samplers.BaseSampler:
    s = cfg.sampler
    seed = cfg.seed if seed is None else seed
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    return OomAwareTPESampler(n_startup_trials=s.n_startup_trials, multivariate=s.multivariate,
                              constant_liar=s.constant_liar, seed=seed)


def _oom_as_worst(trial: optuna.trial.FrozenTrial) -> optuna.trial.FrozenTrial:
    """An "oom" FAIL as TPE should see it: a PRUNED trial with no eval report, i.e. the worst
    observed outcome. Every other trial as it is."""
    if trial.state == TrialState.FAIL and trial.user_attrs.get("fail_reason") == OOM and trial.params:
        seen = copy.copy(trial)
        seen.state = TrialState.PRUNED
        seen.intermediate_values = {}  # TPE ranks a pruned trial with no report below every other
        return seen
    return trial


class OomAwareTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPE, except that a trial that ran out of memory even at micro batch 1 counts.

    TPE models COMPLETE and PRUNED trials only; a FAIL is invisible to it, so a configuration
    too big for the GPU would be proposed again and again. Here an "oom" FAIL stays FAIL in the
    study (and in every output) but TPE sees it as its worst trial, so it samples less of that
    region. Start-up (random) trials are unaffected (they count real finished trials only);
    other failures stay invisible to TPE.
    """

    def _view(self, study: optuna.Study) -> Any:
        # Until n_startup_trials trials really finished (COMPLETE or PRUNED) TPE samples at random
        # as usual, and its "good" group always holds real trials, never only OOM stand-ins.
        real = optuna_internals.finished_or_pruned_count(study, (TrialState.COMPLETE, TrialState.PRUNED))
        return study if real < max(self._n_startup_trials, 1) else optuna_internals.StudyView(study, _oom_as_worst)

    def infer_relative_search_space(self, study: optuna.Study, trial: Any) -> dict[str, Any]:
        return super().infer_relative_search_space(self._view(study), trial)

    def sample_relative(self, study: optuna.Study, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        return super().sample_relative(self._view(study), trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: Any, param_name: str, param_distribution: Any) -> Any:
        return super().sample_independent(self._view(study), trial, param_name, param_distribution)
