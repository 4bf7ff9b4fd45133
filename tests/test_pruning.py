"""The conf's pruner decides, driven with ask/report/should_prune/tell (no training)."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from sweep import search_space, study
from sweep.config import load_config
from sweep.study import StudyReporter


def _study(tmp_path, *overrides):
    cfg = load_config([f"output_dir={tmp_path}", "search_space=quick", *overrides])
    space = search_space.load(cfg.search_space, targets=cfg.model.target_modules.keys())
    cfg.study_dir.mkdir(parents=True)
    return cfg, space, study.create_or_load(cfg, space, max_steps=30)


def _run(st, curve):
    trial = st.ask()
    rep = StudyReporter(trial)
    for step, v in enumerate(curve, start=1):
        rep.report(step * 10, v)
        if rep.should_prune():
            st.tell(trial, state=TrialState.PRUNED)
            return "PRUNED"
    st.tell(trial, curve[-1])
    return "COMPLETE"


def test_median_pruner_from_conf_prunes_worse_than_median(tmp_path):
    cfg, _, st = _study(tmp_path, "pruner=median", "pruner.n_startup_trials=2")
    assert isinstance(st.pruner, optuna.pruners.MedianPruner)
    assert _run(st, [3.0, 2.5, 2.0]) == "COMPLETE"
    assert _run(st, [3.1, 2.6, 2.1]) == "COMPLETE"
    assert _run(st, [5.0, 4.9, 4.8]) == "PRUNED"
    assert _run(st, [2.9, 2.4, 1.9]) == "COMPLETE"


def test_no_pruning_before_startup_trials(tmp_path):
    _, _, st = _study(tmp_path, "pruner=median", "pruner.n_startup_trials=3")
    assert _run(st, [1.0]) == "COMPLETE"
    assert _run(st, [9.0, 9.0]) == "COMPLETE"


def test_none_pruner_never_prunes(tmp_path):
    _, _, st = _study(tmp_path, "pruner=none")
    for curve in ([1.0, 0.5], [9.0, 9.0], [9.0, 9.0]):
        assert _run(st, curve) == "COMPLETE"


@pytest.mark.parametrize("name, cls", [("hyperband", optuna.pruners.HyperbandPruner),
                                       ("successive_halving", optuna.pruners.SuccessiveHalvingPruner)])
def test_other_pruners_are_built_from_conf(tmp_path, name, cls):
    _, _, st = _study(tmp_path, f"pruner={name}")
    assert isinstance(st.pruner, cls)


def test_reporter_attached_in_another_process_uses_the_same_pruner(tmp_path):
    """What a Ray worker does: rebuild the study from storage + conf and ask the pruner."""
    cfg, space, st = _study(tmp_path, "pruner=median", "pruner.n_startup_trials=1")
    _run(st, [1.0, 0.9])
    trial = st.ask()
    remote = StudyReporter.attach(cfg, space, trial._trial_id, 30)
    remote.report(10, 9.0)
    assert remote.should_prune()
    assert st.trials[-1].intermediate_values == {10: 9.0}


def test_default_pruner_never_judges_a_trial_on_its_first_report(tmp_path):
    """The default (benchmarks/RESULTS.md, table suite): successive halving whose first rung is the
    second eval report, keeping the best third. A trial worst of all at its first report (a high
    learning rate in warm-up) goes on; one still worst at its second report is pruned."""
    _, _, st = _study(tmp_path, "train.eval_every=10")
    assert isinstance(st.pruner, optuna.pruners.SuccessiveHalvingPruner)
    for curve in ([2.2, 2.0, 1.8], [2.1, 1.9, 1.7], [2.0, 1.8, 1.6]):  # each the best so far
        assert _run(st, curve) == "COMPLETE"
    assert _run(st, [9.0, 1.5, 1.2]) == "COMPLETE"  # worst at step 10, best at step 20
    assert _run(st, [9.0, 8.0, 7.0]) == "PRUNED"  # still worst at step 20
    pruned = st.trials[-1]
    assert max(pruned.intermediate_values) == 20
