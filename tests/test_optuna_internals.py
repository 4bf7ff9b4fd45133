"""Each non-public Optuna use in sweep/optuna_internals.py, checked against the installed Optuna,
and none anywhere else in the package: an Optuna release that moves one fails here first."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep import optuna_internals as oi

PACKAGE = Path(__file__).resolve().parent.parent / "sweep"


def _rdb(tmp_path, grace: int | None = None):
    kwargs = {"heartbeat_interval": 1, "grace_period": grace} if grace else {}
    return optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}", **kwargs)


def test_the_installed_optuna_is_one_these_uses_were_written_for():
    assert ".".join(optuna.__version__.split(".")[:2]) in oi.WRITTEN_FOR, optuna.__version__


def test_storage_and_trial_ids_reach_the_same_trial_from_another_handle(tmp_path):
    study = optuna.create_study(storage=_rdb(tmp_path))
    trial = study.ask()
    assert isinstance(oi.storage(study), optuna.storages.BaseStorage)
    tid = oi.trial_id(trial)
    assert oi.trial_id_of(study, trial.number) == tid
    optuna.Trial(study, tid).report(1.5, 3)  # what a Ray worker does with the id
    assert oi.storage(study).get_trial(tid).intermediate_values == {3: 1.5}
    assert oi.trial_id(study.trials[0]) == tid  # a FrozenTrial's id too


def test_heartbeats_and_stale_trials(tmp_path):
    calls = []
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat_interval=1, grace_period=1,
                                         heartbeat_stale_trial_callback=lambda study, trial: calls.append(trial.number))
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    st = oi.storage(study)
    assert oi.heartbeat_enabled(st) and oi.heartbeat_interval(st) == 1
    assert not oi.heartbeat_enabled(oi.storage(optuna.create_study()))  # in-memory: none
    oi.record_heartbeat(st, oi.trial_id(trial))
    assert oi.stale_trial_ids(study) == []
    time.sleep(2.2)  # past the grace period without a beat
    assert oi.stale_trial_ids(study) == [oi.trial_id(trial)]
    callback = oi.stale_trial_callback(st)
    assert callback is not None
    callback(study, study.trials[0])
    assert calls == [0]


def test_a_grpc_server_we_can_start_and_stop(tmp_path):
    import socket

    assert oi.grpc_server_available()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = oi.make_grpc_server(_rdb(tmp_path), "127.0.0.1", port)
    server.start()
    try:
        proxy = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)
        study = optuna.create_study(study_name="via-proxy", storage=proxy)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        assert len(optuna.load_study(study_name="via-proxy", storage=_rdb(tmp_path)).trials) == 2
        proxy.close()
    finally:
        server.stop(grace=None)


def test_a_sampler_sees_the_study_through_a_view(tmp_path):
    study = optuna.create_study()
    for x in (0.1, 0.2, 0.3):
        study.add_trial(optuna.trial.create_trial(params={"x": x}, value=x,
                                                  distributions={"x": optuna.distributions.FloatDistribution(0, 1)}))
    hide_first = oi.StudyView(study, lambda t: None if t.number == 0 else t)
    assert [t.number for t in hide_first._get_trials(deepcopy=False)] == [1, 2]
    assert hide_first.direction == study.direction  # everything else is the study
    assert oi.finished_or_pruned_count(study, (TrialState.COMPLETE,)) == 3
    # TPE reads trials through the view (sweep.sampling relies on it)
    sampler = optuna.samplers.TPESampler(n_startup_trials=0, seed=0)
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    seen = []
    view = oi.StudyView(study, lambda t: seen.append(t.number) or t)
    sampler.sample_independent(view, study.ask(), "x", space["x"])
    assert {0, 1, 2} <= set(seen)


PRIVATE_ATTRS = {"_storage", "_study_id", "_trial_id", "_get_trials", "_backend", "_get_stale_trial_ids",
                 "_get_cached_trial"}


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if p.name != "optuna_internals.py"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_other_module_uses_optuna_internals(path):
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRS:
            found.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("optuna") and (
                any(part.startswith("_") for part in (node.module or "").split("."))
                or any(a.name.startswith("_") for a in node.names)):
            found.append(f"line {node.lineno}: from {node.module} import ...")
    assert not found, f"{path.name} uses Optuna internals (move them to sweep/optuna_internals.py): {found}"
