"""OOM fallback through the whole sweep, in both executors (../shared/DESIGN.md decision 5).

The fault hook SWEEP_FAULT_OOM_ABOVE_MICRO_BATCH=N makes every micro batch above N raise
`torch.OutOfMemoryError` before its forward pass, exactly where a real CUDA OOM would surface;
SWEEP_FAULT_OOM_FROM_STEP=k and SWEEP_FAULT_OOM_PHASE=forward|backward|eval make it fire only
from optimizer step k on and only there (inside backward: with the activations alive).
The trainer halves the micro batch and doubles accumulation; a run that fell back from 8 to 2
must train the same steps on the same examples as a run that started at 2 (same loss curve),
and a trial that is still out of memory at micro batch 1 ends FAIL "oom" without stopping
the sweep.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from sweep import engine
from sweep.config import load_config
from sweep.fault_injection import FAULT_OOM_ENV, FAULT_OOM_PHASE_ENV, FAULT_OOM_STEP_ENV

SPACE = {
    "params": {"learning_rate": {"type": "categorical", "choices": [2.0e-3]}},
    "fixed": {"max_steps": 6, "lora_r": 4, "effective_batch_size": 8, "warmup_ratio": 0.0},
}
EXECUTORS = ["inline", "ray"]


def sweep_config(out: Path, name: str, executor: str, *overrides: str):
    space = out / "space.yaml"
    if not space.exists():
        space.parent.mkdir(parents=True, exist_ok=True)
        space.write_text(yaml.safe_dump(SPACE))
    return load_config([
        f"search_space={space}", f"study_name={name}", f"output_dir={out}", f"executor={executor}",
        "n_trials=1", "train.num_threads=1", "train.eval_every=2", "eval.behaviour=false",
        "+data.max_eval_examples=16", "sampler=random", *overrides])


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module's Ray runs (the executor reuses an initialised Ray)."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The trial started at micro batch 2 with no fault: the curve a fallback must reproduce."""
    for name in (FAULT_OOM_ENV, FAULT_OOM_STEP_ENV, FAULT_OOM_PHASE_ENV):
        os.environ.pop(name, None)
    out = tmp_path_factory.mktemp("reference")
    summary = engine.run(sweep_config(out, "at2", "inline", "train.micro_batch_size=2"))
    (trial,) = summary.study.trials
    assert trial.state == TrialState.COMPLETE
    assert trial.user_attrs["oom_fallbacks"] == []
    return trial


def _executor(request, name: str) -> None:
    if name == "ray":
        request.getfixturevalue("ray_session")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_fallback_from_8_to_2_keeps_steps_and_loss_curve(executor, reference, tmp_path, monkeypatch, request):
    _executor(request, executor)
    monkeypatch.setenv(FAULT_OOM_ENV, "2")
    summary = engine.run(sweep_config(tmp_path, "fallback", executor, "train.micro_batch_size=8"))

    (trial,) = summary.study.trials
    a, ref = trial.user_attrs, reference.user_attrs
    assert trial.state == TrialState.COMPLETE, a
    assert (a["micro_batch_size"], a["gradient_accumulation_steps"], a["effective_batch_size"]) == (2, 4, 8)
    assert a["oom_fallbacks"] == [{"step": 1, "from_micro_batch": 8, "to_micro_batch": 4},
                                  {"step": 1, "from_micro_batch": 4, "to_micro_batch": 2}]
    assert a["steps"] == ref["steps"] == a["total_steps"] == 6
    steps = [s for s, _ in a["eval_history"]]
    assert steps == [s for s, _ in ref["eval_history"]] == [2, 4, 6]
    for (_, got), (_, want) in zip(a["eval_history"], ref["eval_history"], strict=True):
        assert got == pytest.approx(want, rel=1e-4)
    assert trial.value == pytest.approx(reference.value, rel=1e-4)
    if executor == "ray":
        assert a["pid"] != os.getpid()  # trained in a Ray worker, not here

    with open(tmp_path / "fallback" / "trials.csv") as f:
        row = next(csv.DictReader(f))
    for column in ("micro_batch_size", "gradient_accumulation_steps", "effective_batch_size", "pid"):
        assert row[column] != "", column
    assert (row["micro_batch_size"], row["gradient_accumulation_steps"], row["effective_batch_size"]) == ("2", "4", "8")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_oom_at_micro_batch_1_fails_the_trial_not_the_sweep(executor, tmp_path, monkeypatch, request):
    _executor(request, executor)
    monkeypatch.setenv(FAULT_OOM_ENV, "0")  # every micro batch, even 1, runs out of memory
    summary = engine.run(sweep_config(tmp_path, "oom", executor, "n_trials=2", "train.micro_batch_size=4"))

    trials = summary.study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all(t.user_attrs["fail_reason"] == "oom" for t in trials)
    assert "micro batch 1" in trials[0].user_attrs["fail_detail"]
    assert summary.counts["FAIL"] == 2 and summary.counts["finished"] == 2
    with open(tmp_path / "oom" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["FAIL", "FAIL"]
    assert all(r["micro_batch_size"] == "1" and r["gradient_accumulation_steps"] == "8" for r in rows)
    # what it ran is recorded even though it failed: no step finished, memory was measured
    a = trials[0].user_attrs
    assert a["steps"] == 0 and a["peak_memory_mb"] > 0 and a["wall_time_s"] > 0
    assert [f["to_micro_batch"] for f in a["oom_fallbacks"]] == [2, 1]


def test_oom_in_eval_halves_the_eval_batch_and_keeps_the_curve(reference, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_OOM_ENV, "2")  # training at micro batch 2 fits; eval at 8 does not
    summary = engine.run(sweep_config(tmp_path, "evaloom", "inline", "train.micro_batch_size=2",
                                      "train.eval_batch_size=8"))
    (trial,) = summary.study.trials
    a, ref = trial.user_attrs, reference.user_attrs
    assert trial.state == TrialState.COMPLETE, a
    assert a["oom_fallbacks"] == [{"step": 2, "phase": "eval", "from_eval_batch": 8, "to_eval_batch": 4},
                                  {"step": 2, "phase": "eval", "from_eval_batch": 4, "to_eval_batch": 2}]
    assert a["micro_batch_size"] == 2 and a["steps"] == 6
    for (s1, got), (s2, want) in zip(a["eval_history"], ref["eval_history"], strict=True):
        assert s1 == s2 and got == pytest.approx(want, rel=1e-4)


def _same_curve(trial, reference) -> None:
    a, ref = trial.user_attrs, reference.user_attrs
    assert a["steps"] == ref["steps"] == 6
    assert [s for s, _ in a["eval_history"]] == [s for s, _ in ref["eval_history"]] == [2, 4, 6]
    for (_, got), (_, want) in zip(a["eval_history"], ref["eval_history"], strict=True):
        assert got == pytest.approx(want, rel=1e-4)
    assert trial.value == pytest.approx(reference.value, rel=1e-4)


@pytest.fixture
def frees_outside_except(monkeypatch):
    """Every fallback frees memory with no exception being handled: inside `except` the
    traceback (and its frames) would still hold the failed step's activations."""
    import sys

    from sweep import training

    real, calls = training.free_memory, []

    def checked():
        calls.append(sys.exc_info()[0])
        real()

    monkeypatch.setattr(training, "free_memory", checked)
    return calls


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_oom_at_a_later_step_falls_back_and_keeps_the_curve(phase, reference, tmp_path, monkeypatch,
                                                            frees_outside_except):
    """Steps 1-2 run at micro batch 8; at step 3 (in the forward pass, or inside backward after
    two micro batches' gradients were accumulated) micro batches above 2 run out of memory: the
    step is redone at 4, then 2, and the whole curve is that of a run started at 2."""
    monkeypatch.setenv(FAULT_OOM_ENV, "2")
    monkeypatch.setenv(FAULT_OOM_STEP_ENV, "3")
    monkeypatch.setenv(FAULT_OOM_PHASE_ENV, phase)
    summary = engine.run(sweep_config(tmp_path, phase, "inline", "train.micro_batch_size=8"))
    (trial,) = summary.study.trials
    a = trial.user_attrs
    assert trial.state == TrialState.COMPLETE, a
    assert a["oom_fallbacks"] == [{"step": 3, "from_micro_batch": 8, "to_micro_batch": 4},
                                  {"step": 3, "from_micro_batch": 4, "to_micro_batch": 2}]
    assert (a["micro_batch_size"], a["gradient_accumulation_steps"]) == (2, 4)
    _same_curve(trial, reference)
    assert frees_outside_except == [None, None]


def test_oom_in_a_later_eval_halves_the_eval_batch_and_keeps_the_curve(reference, tmp_path, monkeypatch,
                                                                        frees_outside_except):
    monkeypatch.setenv(FAULT_OOM_ENV, "2")  # the eval at step 2 fits at 8; the one at step 4 does not
    monkeypatch.setenv(FAULT_OOM_STEP_ENV, "4")
    monkeypatch.setenv(FAULT_OOM_PHASE_ENV, "eval")
    summary = engine.run(sweep_config(tmp_path, "laterevaloom", "inline", "train.micro_batch_size=2",
                                      "train.eval_batch_size=8"))
    (trial,) = summary.study.trials
    a = trial.user_attrs
    assert trial.state == TrialState.COMPLETE, a
    assert a["oom_fallbacks"] == [{"step": 4, "phase": "eval", "from_eval_batch": 8, "to_eval_batch": 4},
                                  {"step": 4, "phase": "eval", "from_eval_batch": 4, "to_eval_batch": 2}]
    _same_curve(trial, reference)
    assert frees_outside_except == [None, None]


def test_fault_hook_is_off_when_unset_and_zero_means_every_micro_batch(monkeypatch):
    import torch

    from sweep.training import Trainer, TrainSpec

    spec = TrainSpec(learning_rate=1e-3, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                     optimizer="sgd", max_grad_norm=0.0, effective_batch_size=2, micro_batch_size=1,
                     total_steps=1, eval_every=1, seed=0)
    monkeypatch.delenv(FAULT_OOM_ENV, raising=False)
    assert Trainer(None, [], [], spec, 0, None, torch.device("cpu")).oom_fault.above is None
    monkeypatch.setenv(FAULT_OOM_ENV, "")
    assert Trainer(None, [], [], spec, 0, None, torch.device("cpu")).oom_fault.above is None
    monkeypatch.setenv(FAULT_OOM_ENV, "0")
    trainer = Trainer(None, [{"input_ids": [1, 2], "labels": [1, 2]}], [], spec, 0, None, torch.device("cpu"))
    assert trainer.oom_fault.above == 0
    with pytest.raises(torch.OutOfMemoryError):
        trainer._accumulate(trainer.train_data)


def _oom_proposals(sampler_cls, seed: int, n: int = 40, startup: int = 5, liar: bool = True) -> int:
    """Trials after start-up that asked for a configuration that runs out of memory.

    r x batch >= 512 runs out of memory even at micro batch 1 (FAIL "oom"); among the others
    a larger rank is a little better, so a sampler that ignores the failures drifts into them.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = optuna.create_study(sampler=sampler_cls(n_startup_trials=startup, multivariate=True, seed=seed,
                                                 constant_liar=liar))
    ooms = 0
    for i in range(n):
        t = st.ask()
        r = t.suggest_categorical("lora_r", [8, 16, 32, 64])
        b = t.suggest_categorical("effective_batch_size", [4, 8, 16])
        lr = t.suggest_float("learning_rate", 1e-5, 1e-2, log=True)
        if r * b >= 512:
            t.set_user_attr("fail_reason", "oom")
            st.tell(t, state=TrialState.FAIL)
            ooms += i >= startup
        else:
            st.tell(t, (math.log10(lr) + 3) ** 2 + 0.5 / r)
    assert all(t.state != TrialState.PRUNED for t in st.trials)  # the study records FAIL as FAIL
    return ooms


@pytest.mark.parametrize("liar", [True, False])  # the conf default is constant_liar=true
def test_the_sampler_learns_of_oom_failures(tmp_path, liar):
    from sweep.sampling import OomAwareTPESampler, make_sampler

    cfg = load_config([f"output_dir={tmp_path}"])
    assert isinstance(make_sampler(cfg, None), OomAwareTPESampler)  # the default sampler is this one
    plain = [_oom_proposals(optuna.samplers.TPESampler, s, liar=liar) for s in range(3)]
    aware = [_oom_proposals(OomAwareTPESampler, s, liar=liar) for s in range(3)]
    # measured (Optuna 5.0, seeds 0-2, 35 trials after start-up): plain TPE 16-20, OOM-aware 1-7
    assert max(aware) < min(plain) and sum(aware) * 2 < sum(plain), (plain, aware)


def test_oom_failures_do_not_count_as_start_up_trials():
    """Start-up trials are random whatever failed: five OOMs first leave TPE in start-up mode."""
    from sweep.sampling import OomAwareTPESampler

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = OomAwareTPESampler(n_startup_trials=5, seed=0)
    st = optuna.create_study(sampler=sampler)
    for _ in range(5):
        t = st.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        t.set_user_attr("fail_reason", "oom")
        st.tell(t, state=TrialState.FAIL)
    assert sampler._view(st) is st  # no finished trial yet: TPE stays random
    t = st.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    st.tell(t, 1.0)
    assert sampler._view(st) is st  # 1 of 5 start-up trials
