"""Kill it, run it twice, make it diverge, give it secrets: it loses and leaks nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from sweep import engine, search_space
from sweep.config import load_config
from tests.conftest import REPO, run_cli, tiny_overrides, with_test_model


def _args(tmp_path, *extra):
    return ["search_space=quick", f"output_dir={tmp_path}", "study_name=r", "eval.behaviour=false",
            "train.num_threads=1", "train.eval_every=2", *extra]


def _load(tmp_path, name="r"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / name / 'study.db'}")


def _trial_states(db: Path) -> list[tuple[str, int]]:
    """(state, eval reports so far) per trial, read through a read-only SQLite connection: an
    Optuna storage opened here could race the sweep's own schema creation."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        rows = con.execute("SELECT t.state, (SELECT COUNT(*) FROM trial_intermediate_values v "
                           "WHERE v.trial_id = t.trial_id) FROM trials t ORDER BY t.number").fetchall()
    except sqlite3.Error:  # no schema yet, or busy
        return []
    finally:
        con.close()
    return [(state, min(int(n), 2)) for state, n in rows]


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "ray"])
def test_kill_9_mid_trial_then_rerun_loses_no_finished_trial(tmp_path, executor):
    args = _args(tmp_path, "n_trials=3", "+fixed.max_steps=120", f"executor={executor}", "pruner=none",
                 "executor.num_cpus=1")
    log = tmp_path / "driver.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sweep", *with_test_model(args)], cwd=REPO, stderr=err,
                                stdout=subprocess.DEVNULL, text=True)
    # wait (on the study itself, not on log lines) until trial 0 finished and trial 1 has
    # reported at least two evals, i.e. is mid-training
    deadline = time.time() + 300
    while True:
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"trial 1 never got mid-training: {log.read_text()[-2000:]}")
        if _trial_states(tmp_path / "r" / "study.db") == [("COMPLETE", 2), ("RUNNING", 2)]:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    st = _load(tmp_path)
    assert [t.state for t in st.trials] == [TrialState.COMPLETE, TrialState.RUNNING]
    interrupted_params = st.trials[1].params
    res = run_cli("sweep", [*args])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "interrupted" in res.stderr
    st = _load(tmp_path)
    numbers = [t.number for t in st.trials]
    assert len(numbers) == len(set(numbers))
    assert st.trials[0].state == TrialState.COMPLETE  # the finished trial is kept as it was
    assert st.trials[1].state == TrialState.FAIL and st.trials[1].user_attrs["fail_reason"] == "interrupted"
    retry = [t for t in st.trials if t.user_attrs.get("retry_of") == 1]
    assert len(retry) == 1 and retry[0].params == interrupted_params
    finished = [t for t in st.trials if t.state != TrialState.RUNNING and
                t.user_attrs.get("fail_reason") != "interrupted"]
    assert len(finished) == 3


@pytest.mark.slow
def test_two_processes_share_one_study_without_duplicates(tmp_path):
    # trials long enough (and never pruned) that the two processes overlap even on a loaded machine
    args = _args(tmp_path, "n_trials=4", "+fixed.max_steps=20", "pruner=none")
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, "-m", "sweep", *with_test_model(args)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=400)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    st = _load(tmp_path)
    assert len(st.trials) == 4, [t.number for t in st.trials]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in st.trials)
    pids = {t.user_attrs["driver_pid"] for t in st.trials}
    assert len(pids) == 2  # both processes did work


def test_nan_loss_stops_the_trial_at_once_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_FAULT_NAN_AT_STEP", "3")
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=1", "++fixed.max_steps=40", "train.eval_every=20"))
    st = engine.run(cfg).study
    t = st.trials[0]
    assert t.state == TrialState.FAIL and t.user_attrs["fail_reason"] == "diverged"
    assert "nan at step 3" in t.user_attrs["fail_detail"]
    assert not t.intermediate_values  # stopped before its first eval at step 20


def test_exploding_loss_stops_the_trial(tmp_path):
    # a random-init tiny model cannot really explode (RMSNorm bounds it); with a factor just
    # above 1, a step whose loss exceeds the first one trips the same rule (seeded: deterministic;
    # which seed trips depends on the batch order, so on the sample data: seed 0 trips at step 2
    # with the 380-row sample (6.99 > 6.93), seed 1 no longer does; seed 1 was chosen for the
    # 308-row sample, seed 0 for the 260-row one)
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=1", "train.divergence_factor=1.000001",
                                     "+fixed.learning_rate=5.0", "seed=0"))
    t = engine.run(cfg).study.trials[0]
    assert t.state == TrialState.FAIL and t.user_attrs["fail_reason"] == "diverged"
    assert "exceeds 1x the first loss" in t.user_attrs["fail_detail"]


def test_secrets_never_reach_outputs(tmp_path, monkeypatch, capsys):
    secrets = {"WANDB_API_KEY": "wandb-secret-123", "HF_TOKEN": "hf_secret_456",
               "MY_SERVICE_TOKEN": "tok-secret-789", "OPENAI_API_KEY": "sk-secret-000"}
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=2", "tracker=recording"))
    monkeypatch.setenv("SWEEP_RECORD_TRACKER", str(tmp_path / "tracker.jsonl"))
    engine.run(cfg)
    for path in Path(tmp_path).rglob("*"):
        if path.is_file() and path.suffix not in (".safetensors", ".db"):
            text = path.read_bytes().decode("utf-8", "ignore")
            for v in secrets.values():
                assert v not in text, f"{v} leaked into {path}"
    db = (tmp_path / "t" / "study.db").read_bytes()
    assert not any(v.encode() in db for v in secrets.values())
    logs = "".join(capsys.readouterr())  # the sweep's own output: progress, summary, commands
    assert "study t" in logs and not any(v in logs for v in secrets.values())


def test_storage_password_is_masked_in_records(tmp_path):
    cfg = load_config(tiny_overrides(tmp_path, "storage=postgresql://me:hunter2@db:5432/s"))
    assert "hunter2" not in yaml.safe_dump(cfg.to_dict())


def test_trust_remote_code_is_off_unless_set_per_model():
    assert load_config([]).model.trust_remote_code is False
    assert load_config(["model=llama"]).model.trust_remote_code is False
    assert load_config(["model.trust_remote_code=true"]).model.trust_remote_code is True


@pytest.mark.parametrize("remote_code", [False, True])
def test_trust_remote_code_reaches_every_loader_as_set(tmp_path, monkeypatch, remote_code):
    """A real sweep (preflight, memory estimate, the trial, the behaviour evaluation) with a spy on
    every transformers entry point that can run a repository's code: each call passes
    trust_remote_code explicitly, and it is the model's setting."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    calls = []

    def spy(kind, real):
        def wrapper(*args, **kwargs):
            calls.append((kind, kwargs.get("trust_remote_code", "not passed")))
            return real(*args, **kwargs)
        return wrapper

    for kind, cls in (("tokenizer", AutoTokenizer), ("model", AutoModelForCausalLM), ("config", AutoConfig)):
        monkeypatch.setattr(cls, "from_pretrained", spy(kind, cls.from_pretrained))
    overrides = ["n_trials=1", "++fixed.max_steps=2", "eval.behaviour=true", "eval.max_examples=2",
                 "eval.max_new_tokens=4", "executor=inline"]
    if remote_code:
        overrides.append("model.trust_remote_code=true")
    engine.run(load_config(tiny_overrides(tmp_path, *overrides)))
    assert {kind for kind, _ in calls} == {"tokenizer", "model", "config"}, calls
    assert len([k for k, _ in calls if k == "model"]) >= 2  # the trial and the behaviour evaluation
    assert all(value is remote_code for _, value in calls), calls


YAML_READS_OK = {"safe_load", "safe_load_all"}
YAML_WRITES = {"safe_dump", "safe_dump_all", "dump", "dump_all"}
SAFE_LOADERS = {"SafeLoader", "CSafeLoader"}


def _yaml_calls(source: str) -> list[tuple[str, bool]]:
    """Every call of a PyYAML function in `source` (however yaml or the function was imported):
    (name, safe). A read is safe only as safe_load(_all), or load(_all) with Loader=SafeLoader."""
    import ast

    tree = ast.parse(source)
    modules, functions = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "yaml"}
        elif isinstance(node, ast.ImportFrom) and node.module == "yaml":
            functions |= {a.asname or a.name: a.name for a in node.names}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in modules:
            name = f.attr
        elif isinstance(f, ast.Name) and f.id in functions:
            name = functions[f.id]
        else:
            continue
        loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
        loader_name = getattr(loader, "attr", None) or getattr(loader, "id", None)
        safe = (name in YAML_READS_OK or name in YAML_WRITES or name.endswith("Error") or name in SAFE_LOADERS
                or (name in ("load", "load_all") and loader_name in SAFE_LOADERS))
        found.append((name, safe))
    return found


def test_every_yaml_read_in_the_package_is_safe():
    calls = {}
    for path in sorted((REPO / "sweep").rglob("*.py")):
        for name, safe in _yaml_calls(path.read_text()):
            assert safe, f"{path.relative_to(REPO)}: yaml.{name}(...) can build arbitrary Python objects"
            calls.setdefault(name, []).append(path.name)
    assert len(calls.get("safe_load", [])) >= 4, calls  # the scan sees the package's reads
    # and it would see an unsafe one, however it is spelled
    for bad in ("import yaml\nyaml.load(s)", "import yaml as y\ny.full_load(s)",
                "from yaml import unsafe_load as u\nu(s)", "import yaml\nyaml.load(s, Loader=yaml.Loader)",
                "from yaml import load_all\nload_all(s)", "import yaml\nyaml.Loader(s)"):
        assert [safe for _, safe in _yaml_calls(bad)] == [False], bad
    assert _yaml_calls("import yaml\nyaml.load(s, Loader=yaml.SafeLoader)") == [("load", True)]


def test_nearly_full_disk_refuses_to_start_with_numbers(tmp_path):
    res = run_cli("sweep", _args(tmp_path, "n_trials=1", "min_free_disk_gb=1000000"))
    assert res.returncode == 2
    assert "GiB free" in res.stderr and "min_free_disk_gb=1e+06" in res.stderr
    assert not (tmp_path / "r").exists()


def test_keep_adapters_keeps_top_k(tmp_path):
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=3", "keep_adapters=2", "pruner=none"))
    st = engine.run(cfg).study
    ranked = sorted((t for t in st.trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    kept = sorted(int(p.name) for p in (cfg.study_dir / "trials").iterdir() if (p / "adapter").is_dir())
    assert kept == sorted(t.number for t in ranked[:2])


def test_resumed_sweep_samples_new_configurations(tmp_path):
    engine.run(load_config(tiny_overrides(tmp_path, "sampler=random", "++fixed.max_steps=2")))
    st = engine.run(load_config(tiny_overrides(tmp_path, "sampler=random", "++fixed.max_steps=2",
                                               "n_trials=4"))).study
    first, resumed = [t.params for t in st.trials[:2]], [t.params for t in st.trials[2:]]
    assert len(resumed) == 2 and not any(p in first for p in resumed)


def test_heartbeat_retried_trial_does_not_count_as_finished(tmp_path):
    from optuna.trial import create_trial

    from sweep import trial_counts

    st = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    st.add_trial(create_trial(state=TrialState.COMPLETE, value=1.0))
    failed = create_trial(state=TrialState.FAIL)
    st.add_trial(failed)
    # what Optuna's RetryHeartbeatStaleTrialCallback leaves: the retry waits, pointing at trial 1
    st.add_trial(create_trial(state=TrialState.WAITING, system_attrs={"failed_trial": 1}))
    assert trial_counts.counts(st)["finished"] == 1
    assert trial_counts.missing(st, 2) == 1  # the retry gets to run


def test_result_for_a_trial_finished_elsewhere_does_not_crash_the_sweep(tmp_path, capsys):
    from sweep import search_space
    from sweep.executors.contract import Outcome, SweepContext, ask, tell
    from sweep.progress import Progress

    cfg = load_config(tiny_overrides(tmp_path))
    space = search_space.load(cfg.search_space, targets=cfg.model.target_modules.keys())
    st = engine.open_or_resume(cfg, space)
    ended = []
    ctx = SweepContext(cfg=cfg, space=space, study=st, progress=Progress(2), on_trial_end=ended.append)
    trial, _ = ask(ctx)
    st._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # another process did this
    frozen = tell(ctx, trial, Outcome("COMPLETE", 1.23, {"steps": 5}))
    assert frozen.state == TrialState.FAIL and ended == [frozen]
    assert "already FAIL" in capsys.readouterr().err


def test_new_study_of_an_old_name_does_not_show_old_outputs(tmp_path):
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=1"))
    engine.run(cfg)
    (cfg.study_dir / "study.db").unlink()
    (cfg.study_dir / "trials").mkdir(exist_ok=True)
    old_marker = (cfg.study_dir / "best_adapter" / "TRIAL").read_text()
    engine.run(load_config(tiny_overrides(tmp_path, "n_trials=1", "seed=1")))
    assert (cfg.study_dir / "best_adapter" / "TRIAL").read_text() != old_marker


def test_processes_on_two_machines_never_run_more_than_n_trials(tmp_path, monkeypatch, capsys):
    """The study folder's lock covers one machine. Two processes elsewhere can both count "one
    trial missing" and both ask: the one whose trial got the later number stands down (FAIL
    "surplus", not counted), and an interrupted trial's retry it drew is put back."""
    import io

    from sweep import study, trial_counts
    from sweep.executors import contract
    from sweep.progress import Progress

    cfg = load_config(tiny_overrides(tmp_path, "n_trials=2"))
    space = search_space.load_for_config(cfg)
    cfg.study_dir.mkdir(parents=True)
    st = study.create_or_load(cfg, space)
    ctx = contract.SweepContext(cfg=cfg, space=space, study=st, progress=Progress(2, stream=io.StringIO()),
                                 on_trial_end=lambda t: None)
    assert contract.claim(ctx)[0].number == 0  # machine A
    st.enqueue_trial({"learning_rate": 1e-3, "lora_r": 8}, user_attrs={"retry_of": 7})  # a retry waits
    assert contract.claim(ctx)[0].number == 1  # machine B draws the retry: the last trial
    assert trial_counts.missing(st, 2) == 0 and contract.claim(ctx) is None  # counted now: nothing to ask
    st.enqueue_trial({"learning_rate": 2e-3, "lora_r": 4}, user_attrs={"retry_of": 8})
    # machine C counted "1 missing" at the same moment as B (a stale count), and asks
    monkeypatch.setattr(contract, "missing", lambda *_: 1)
    assert contract.claim(ctx) is None
    trials = st.get_trials(deepcopy=False)
    surplus = trials[2]
    assert surplus.state == TrialState.FAIL and surplus.user_attrs["fail_reason"] == trial_counts.SURPLUS
    assert "trial 2 not run" in capsys.readouterr().err
    monkeypatch.undo()
    c = trial_counts.counts(st)
    assert (c["RUNNING"], c["FAIL"], c["finished"]) == (2, 0, 0)  # the surplus trial does not count
    # the retry it drew is waiting again, with the same settings
    (waiting,) = [t for t in st.get_trials(deepcopy=False) if t.state == TrialState.WAITING]
    assert waiting.system_attrs["fixed_params"] == surplus.params and waiting.user_attrs["retry_of"] == 8
    from sweep import html_report

    assert "surplus (never run)" in html_report.render(st, cfg)  # shown apart from failed trials


def test_every_attempt_of_a_heartbeat_retry_chain_is_not_counted():
    """Optuna's retry callback copies the failed trial's attrs: a retry of a retry still names
    the original in failed_trial, and the earlier attempts in retry_history."""
    from optuna.distributions import FloatDistribution

    from sweep import trial_counts

    st = optuna.create_study()
    dist = {"x": FloatDistribution(0, 1)}

    def add(state, number_attrs):
        st.add_trial(optuna.trial.create_trial(state=state, params={"x": 0.5}, distributions=dist,
                                               system_attrs=number_attrs, value=1.0 if state.name == "COMPLETE" else None))

    add(TrialState.FAIL, {})  # 0: went stale
    add(TrialState.FAIL, {"failed_trial": 0, "retry_history": [0]})  # 1: its retry, stale too
    add(TrialState.COMPLETE, {"failed_trial": 0, "retry_history": [0, 1]})  # 2: the retry that ran
    add(TrialState.COMPLETE, {})  # 3
    c = trial_counts.counts(st)
    assert (c["COMPLETE"], c["FAIL"], c["finished"]) == (2, 0, 2)


def test_telling_an_enqueued_trial_under_the_grid_sampler_does_not_crash():
    """GridSampler.after_trial reads a grid_id that an enqueued retry lacks (KeyError) once one
    grid point is left; the state is stored before that, and the sweep must go on."""
    from sweep.executors.contract import _tell

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [1, 2, 3]}, seed=0))
    t0 = st.ask()
    x0 = t0.suggest_categorical("x", [1, 2, 3])
    t1 = st.ask()
    t1.suggest_categorical("x", [1, 2, 3])
    st.tell(t1, 1.0)
    st._storage.set_trial_state_values(t0._trial_id, TrialState.FAIL)  # interrupted
    st.enqueue_trial({"x": x0}, user_attrs={"retry_of": 0})
    t2 = st.ask()
    t2.suggest_categorical("x", [1, 2, 3])
    assert "grid_id" not in st._storage.get_trial_system_attrs(t2._trial_id)
    frozen = _tell(st, t2._trial_id, t2.number, 2.0, TrialState.COMPLETE)
    assert frozen.state == TrialState.COMPLETE and frozen.value == 2.0


@pytest.mark.parametrize("change", ["data", "search_space", "cooldown"])
def test_resume_with_another_data_set_or_search_space_is_refused(tmp_path, change):
    """The model stays the same: only the data set (another file), the search space (another
    range, same name of file) or what a report measures (cooldown branches) differs, and the
    resume is refused before the study changes."""
    import shutil

    from sweep.errors import ConfigError

    train = tmp_path / "train.jsonl"
    shutil.copy(REPO / "sample_data" / "knowledge_train.jsonl", train)
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\n")
    common = ["n_trials=1", "++fixed.max_steps=2", f"data.path={train}", f"search_space={space}"]
    engine.run(load_config(tiny_overrides(tmp_path, *common)))
    if change == "data":
        other = tmp_path / "other.jsonl"
        other.write_text("".join(train.read_text().splitlines(keepends=True)[1:]))  # one row fewer
        override, shown = f"data.path={other}", "data configuration"
    elif change == "cooldown":  # reports would be branch losses, not comparable with the run's own
        override, shown = "train.cooldown_steps=1", "train.cooldown_steps"
    else:
        space.write_text("params:\n  learning_rate: {type: float, low: 1.0e-5, high: 1.0e-2, log: true}\n")
        override, shown = f"search_space={space}", "search space"
    with pytest.raises(ConfigError, match=f"different {shown}") as exc:
        engine.run(load_config(tiny_overrides(tmp_path, *common, "n_trials=2", override)))
    assert exc.value.problems[0].key == "study_name"
    assert len(_load(tmp_path, "t").trials) == 1  # nothing was added to the study


def test_any_exception_in_a_trial_is_recorded_on_it_and_the_sweep_goes_on(tmp_path, monkeypatch):
    """A real inline sweep in which the first trial's training raises an arbitrary exception in
    the middle (at its first eval, after optimizer steps): that trial is FAIL with the reason and
    a traceback in its error.log; the other trials run and the outputs are written."""
    import csv

    from sweep.training import Trainer

    real_evaluate = Trainer.evaluate
    calls = []

    def evaluate_once_broken(self):
        calls.append(self.step)
        if len(calls) == 1:
            raise KeyError("a bug in the middle of trial 0")
        return real_evaluate(self)

    monkeypatch.setattr(Trainer, "evaluate", evaluate_once_broken)
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=3", "executor=inline", "pruner=none",
                                     "++fixed.max_steps=4", "train.eval_every=2"))
    summary = engine.run(cfg)
    t0, *rest = summary.study.trials
    assert t0.state == TrialState.FAIL
    assert t0.user_attrs["fail_reason"] == "KeyError: 'a bug in the middle of trial 0'"
    assert t0.user_attrs["steps"] == 2  # it had trained: what it ran is recorded too
    log = (cfg.study_dir / "trials" / "0" / "error.log").read_text()
    assert "Traceback" in log and "evaluate_once_broken" in log and "KeyError" in log
    assert [t.state for t in rest] == [TrialState.COMPLETE] * 2  # the sweep went on
    assert summary.counts["finished"] == 3 and summary.chosen.number in (1, 2)
    with open(cfg.study_dir / "trials.csv") as f:
        rows = {r["number"]: r for r in csv.DictReader(f)}
    assert rows["0"]["state"] == "FAIL" and "KeyError" in rows["0"]["fail_reason"]
    assert (cfg.study_dir / "best.yaml").is_file()


@pytest.mark.slow
def test_a_trial_of_another_host_is_failed_by_the_heartbeat_and_retried(tmp_path):
    """The pid check only applies on the host that ran the trial. Here the running trial is
    marked as another host's, its sweep is killed, and the rerun finds it through Optuna's
    heartbeat (grace 3 s), fails it and retries its configuration. Before the kill, the real
    heartbeat thread keeps the long-running trial alive through several grace periods."""
    from sweep import storage as storage_mod
    from sweep import trial_counts

    args = _args(tmp_path, "n_trials=1", "+fixed.max_steps=200", "train.eval_every=50", "executor=inline",
                 "pruner=none", "heartbeat_grace_s=3")
    db = tmp_path / "r" / "study.db"
    log = tmp_path / "driver.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sweep", *with_test_model(args)], cwd=REPO, stderr=err,
                                stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.time() + 300
        while [s for s, _ in _trial_states(db)] != ["RUNNING"]:
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail(f"trial 0 never started: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        storage = storage_mod.make_storage(f"sqlite:///{db}", grace_s=3)
        st = optuna.load_study(study_name="r", storage=storage)
        started = st.trials[0].datetime_start.timestamp()
        time.sleep(max(0.0, started + 5 - time.time()))  # more than a grace period of running
        optuna.storages.fail_stale_trials(st)
        t0 = st.trials[0]
        assert t0.state == TrialState.RUNNING, "the live trial's heartbeat went stale"
        assert time.time() - started > 4.5  # only heartbeats sent while it ran kept it alive
        st._storage.set_trial_user_attr(t0._trial_id, "driver_node", "another-host")  # ran elsewhere
        st._storage.set_trial_user_attr(t0._trial_id, "kept_within_noise", [50])  # as the noise rule marks it
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    params = st.trials[0].params
    time.sleep(4)  # past the grace period: its last heartbeat is stale
    res = run_cli("sweep", args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "interrupted" in res.stderr
    st = _load(tmp_path)
    numbers = [t.number for t in st.trials]
    assert len(numbers) == len(set(numbers))
    first = st.trials[0]
    assert first.state == TrialState.FAIL and first.user_attrs["fail_reason"] == "interrupted"
    (retry,) = [t for t in st.trials if t.system_attrs.get("failed_trial") == 0]
    assert retry.params == params and retry.state == TrialState.COMPLETE
    assert "fail_reason" not in retry.user_attrs  # the retry does not inherit the reason
    assert "kept_within_noise" not in retry.user_attrs  # nor what the noise rule did to the attempt
    assert trial_counts.counts(st)["finished"] == 1  # n_trials, the failed attempt not counted


def test_heartbeat_grace_period_is_validated():
    from sweep.errors import ConfigError
    from sweep.storage import heartbeat_interval_s

    with pytest.raises(ConfigError, match="heartbeat_grace_s=1"):
        load_config(["heartbeat_grace_s=1"])
    assert load_config([]).heartbeat_grace_s == 60 and heartbeat_interval_s(60) == 10
    assert heartbeat_interval_s(3) == 1  # three beats fit in any grace period
