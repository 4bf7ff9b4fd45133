"""The Ray executor: fresh worker per trial, pruning by the conf's pruner, crashed workers,
placement checks, adapters shipped back across machines, and a real two-node cluster.

One local Ray (2 CPUs) serves the module; the two-node test shuts it down and starts its own
cluster with `ray start`, whose processes it ends by their process group in a finalizer.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from sweep import engine, search_space
from sweep.config import load_config
from sweep.errors import ConfigError
from sweep.fault_injection import FAULT_KILL_ENV

ray = pytest.importorskip("ray")

from sweep.executors.ray import (  # noqa: E402 - after the importorskip
    RayExecutor,
    check_cluster,
    collect,
    pack_dir,
    trial_worker,
    unpack_dir,
)

GOOD_LR, BAD_LR = 5.0e-3, 1.0e-7


def sweep_config(out: Path, name: str, *overrides: str, space: dict | None = None):
    space = space or {
        "params": {"learning_rate": {"type": "categorical", "choices": [GOOD_LR, 2.0e-3, BAD_LR]}},
        "fixed": {"max_steps": 4, "lora_r": 4, "effective_batch_size": 4, "warmup_ratio": 0.0},
    }
    path = out / f"{name}.space.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(space))
    return load_config([
        f"search_space={path}", f"study_name={name}", f"output_dir={out}", "executor=ray",
        "train.num_threads=1", "train.eval_every=2", "eval.behaviour=false", "+data.max_eval_examples=16",
        "sampler=random", "pruner=median", *overrides])


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def test_fresh_worker_per_trial_pruning_and_a_killed_worker(local_ray, tmp_path, monkeypatch):
    """Trial 0 completes, trial 1's worker is SIGKILLed, trial 2 (lr 1e-7) is pruned by the
    median pruner in its worker; the sweep ends with all three recorded."""
    space = {
        "params": {"learning_rate": {"type": "categorical", "choices": [GOOD_LR, 2.0e-3, BAD_LR]}},
        "fixed": {"max_steps": 4, "lora_r": 4, "effective_batch_size": 4, "warmup_ratio": 0.0},
        "enqueue": [{"learning_rate": GOOD_LR}, {"learning_rate": 2.0e-3}, {"learning_rate": BAD_LR}],
    }
    monkeypatch.setenv(FAULT_KILL_ENV, "1")  # reaches the workers through the task's runtime_env
    cfg = sweep_config(tmp_path, "ray", "n_trials=3", "executor.max_concurrent=1", "pruner=median",
                       "pruner.n_startup_trials=1", "pruner.n_warmup_steps=0", space=space)
    summary = engine.run(cfg)

    t0, t1, t2 = summary.study.trials
    assert t0.state == TrialState.COMPLETE, t0.user_attrs
    assert t1.state == TrialState.FAIL
    assert t1.user_attrs["fail_reason"].startswith("worker died: "), t1.user_attrs["fail_reason"]
    assert t2.state == TrialState.PRUNED, t2.user_attrs
    assert t2.user_attrs["prune_reason"].startswith("pruned at step 2")
    # each trial in its own fresh worker process, none in the driver
    pids = [t0.user_attrs["pid"], t2.user_attrs["pid"]]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    node = ray.get_runtime_context().get_node_id()
    assert t0.user_attrs["ray_node_id"] == t2.user_attrs["ray_node_id"] == node
    for t in (t0, t1, t2):  # the plan is recorded by the driver before the worker starts
        assert t.user_attrs["estimated_peak_mb"] > 0
        assert t.user_attrs["ray_gpus"] == 0.0 and t.user_attrs["ray_cpus"] == 1.0
    assert t0.user_attrs["worker_storage"] == "sqlite"

    with open(tmp_path / "ray" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "PRUNED"]
    for column in ("pid", "ray_node_id", "estimated_peak_mb", "peak_memory_mb", "micro_batch_size",
                   "gradient_accumulation_steps", "effective_batch_size"):
        assert column in rows[0] and rows[0][column] != "", column
    assert (tmp_path / "ray" / "best_adapter" / "adapter_config.json").is_file()


def test_collect_names_how_a_task_ended(local_ray):
    @ray.remote(max_retries=0)
    def boom():
        raise ValueError("bad value")

    @ray.remote(max_retries=0)
    def sleepy():
        time.sleep(60)

    outcome, files = collect(ray, boom.remote())
    assert (outcome.state, outcome.reason, files) == ("FAIL", "ValueError: bad value", None)
    ref = sleepy.remote()
    time.sleep(0.5)
    ray.cancel(ref, force=True)
    outcome, _ = collect(ray, ref)
    assert outcome.state == "FAIL" and outcome.reason.startswith("worker died: "), outcome.reason


def test_a_ray_worker_holds_out_the_same_rows(local_ray, tmp_path):
    """A user's file without data.eval_path: the trial worker draws the driver's eval split."""
    from sweep import data

    p = tmp_path / "mine.csv"
    p.write_text("instruction,input,output\n" + "".join(f"Code of box {i}?,,Box {i} has {i * 7}.\n" for i in range(50)))
    cfg = load_config([f"data.path={p}", "seed=3"])
    here = [r.where for r in data.load_splits(cfg.data, cfg.seed)[1]]
    worker = local_ray.remote(lambda c: [r.where for r in data.load_splits(c.data, c.seed)[1]])
    assert local_ray.get(worker.remote(cfg)) == here and len(here) == 5


def test_impossible_placement_is_a_config_error(local_ray, tmp_path):
    with pytest.raises(ConfigError) as exc:
        check_cluster(sweep_config(tmp_path, "cpu", "executor.cpus_per_trial=8"), ray)
    assert exc.value.problems[0].key == "executor.cpus_per_trial"
    with pytest.raises(ConfigError) as exc:
        check_cluster(sweep_config(tmp_path, "gpu", "executor.gpus_per_trial=0.5"), ray)
    assert exc.value.problems[0].key == "executor.gpus_per_trial"


def test_adapter_travels_back_when_the_worker_does_not_share_the_disk(local_ray, tmp_path):
    """A worker that cannot read the driver's token trains in a temp folder and returns the
    adapter as bytes (run in this process: the logic, not the transport, is under test)."""
    from sweep.executors.contract import SweepContext, ask

    cfg = sweep_config(tmp_path, "ship", "n_trials=1")
    space = search_space.load_for_config(cfg)
    st = engine.open_or_resume(cfg, space)
    ctx = SweepContext(cfg=cfg, space=space, study=st, progress=None, on_trial_end=lambda t: None)
    trial, params = ask(ctx)
    workdir = tmp_path / "ship" / "trials" / str(trial.number)
    verbosity = optuna.logging.get_verbosity()  # the worker quiets Optuna; this is our process
    try:
        outcome, files = trial_worker(cfg, space, trial._trial_id, trial.number, params, str(workdir), None,
                                      0.0, driver_token="not-the-drivers")
    finally:
        optuna.logging.set_verbosity(verbosity)
    assert outcome.state == "COMPLETE", outcome
    assert not workdir.exists() and files is not None
    unpack_dir(files, tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / "adapter" / "adapter_config.json").is_file()
    assert pack_dir(tmp_path / "unpacked")  # round trip


# --------------------------------------------------------------------------- two nodes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(args: list[str], log: Path) -> subprocess.Popen:
    """`ray start --block` in its own process group: terminating the group ends every process
    of that node (raylet, GCS, agents, workers) and nothing else on this machine."""
    ports = [
        "--node-ip-address=127.0.0.1", f"--node-manager-port={_free_port()}",
        f"--object-manager-port={_free_port()}", f"--metrics-export-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
    ]
    base = 20000 + (os.getpid() * 7 + len(args) * 997) % 20000  # worker ports apart from other Rays
    ports += [f"--min-worker-port={base}", f"--max-worker-port={base + 100}"]
    ray_bin = Path(sys.executable).with_name("ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([str(ray_bin), "start", "--block", *args, *ports], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_for(log: Path, proc: subprocess.Popen, text: str, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"ray start did not report {text!r}:\n{log.read_text(errors='replace')[-3000:]}")


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM the node's process group, then SIGKILL what is left (a head's GCS and monitor
    were seen to outlive SIGTERM)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group may outlive its leader (workers, agents)
    except ProcessLookupError:
        pass


@pytest.fixture
def two_node_cluster(request):
    """Head + one worker node on 127.0.0.1, 1 CPU each; yields the head's address."""
    if ray.is_initialized():
        ray.shutdown()  # the module's local Ray: a driver talks to one cluster at a time
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths are length-limited
    port = _free_port()
    address = f"127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []

    def teardown() -> None:
        for proc in reversed(procs):
            _end_group(proc)
        shutil.rmtree(temp, ignore_errors=True)

    request.addfinalizer(teardown)
    head_log, worker_log = temp / "head.log", temp / "worker.log"
    procs.append(_ray_start(["--head", f"--port={port}", "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false",
                             f"--ray-client-server-port={_free_port()}", f"--temp-dir={temp}"], head_log))
    _wait_for(head_log, procs[0], "Ray runtime started")
    procs.append(_ray_start([f"--address={address}", "--num-cpus=1", "--num-gpus=0"], worker_log))
    _wait_for(worker_log, procs[1], "Ray runtime started")
    ray.init(address=address)  # wait until the GCS lists both nodes, then let the sweep connect itself
    try:
        end = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < end:
            time.sleep(0.5)
        assert sum(n["Alive"] for n in ray.nodes()) == 2
    finally:
        ray.shutdown()
    return address


@pytest.mark.slow
def test_two_node_cluster_runs_trials_on_both_nodes_through_the_storage_proxy(two_node_cluster, tmp_path):
    """Two trials at once on a cluster of two 1-CPU nodes must use both nodes; with no
    storage_proxy_port set, the driver starts the gRPC storage proxy by itself (grpcio installed:
    the workers of another machine could not open a SQLite file here) or, without grpcio, the
    workers use the SQLite file itself (both nodes being on this machine)."""
    try:
        import grpc  # noqa: F401
        proxy = True
    except ImportError:
        proxy = False
    cfg = sweep_config(tmp_path, "cluster", "n_trials=2", f"executor.address={two_node_cluster}")
    assert cfg.executor.storage_proxy_port is None
    summary = engine.run(cfg)

    trials = summary.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, [t.user_attrs for t in trials]
    assert {t.user_attrs["worker_storage"] for t in trials} == {"grpc" if proxy else "sqlite"}
    assert len({t.user_attrs["ray_node_id"] for t in trials}) == 2
    assert not ray.is_initialized()  # the executor disconnected from the cluster it joined


def test_executor_name():
    assert RayExecutor.name == "ray"


@pytest.mark.parametrize(("cuda", "address", "env", "expect"), [
    (False, None, None, "inline"),  # this CPU machine
    (True, None, None, "ray"),  # a GPU is visible
    (False, "ray://head:10001", None, "ray"),  # executor.address
    (False, None, "10.0.0.1:6379", "ray"),  # RAY_ADDRESS
])
def test_auto_executor_picks_ray_for_a_gpu_or_a_cluster(cuda, address, env, expect, monkeypatch, tmp_path):
    import torch

    from sweep import executors

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    if env:
        monkeypatch.setenv("RAY_ADDRESS", env)
    else:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    overrides = [f"output_dir={tmp_path}"] + ([f"executor.address={address}"] if address else [])
    cfg = load_config(overrides)
    assert cfg.executor.name == "auto"
    assert executors.resolve_name(cfg) == expect
    assert executors.resolve_name(load_config([*overrides, "executor=inline"])) == "inline"


def test_trackers_run_in_the_workers_and_the_driver_shows_live_progress(local_ray, tmp_path, monkeypatch, capsys):
    import json

    from sweep.executors import ray as ray_executor

    monkeypatch.setattr(ray_executor, "PROGRESS_POLL_S", 0.05)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("SWEEP_RECORD_TRACKER", str(record))  # reaches the workers (SWEEP_* env)
    space = {"params": {"learning_rate": {"type": "categorical", "choices": [GOOD_LR, 2.0e-3]}},
             "fixed": {"max_steps": 40, "lora_r": 4, "effective_batch_size": 4, "warmup_ratio": 0.0}}
    cfg = sweep_config(tmp_path, "tracked", "n_trials=2", "executor.max_concurrent=1", "pruner=none",
                       "tracker=recording", space=space)
    summary = engine.run(cfg)
    events = [json.loads(line) for line in record.read_text().splitlines()]
    for t in summary.study.trials:
        own = [e for e in events if e.get("trial") == t.number]
        assert [own[0]["event"], own[-1]["event"]] == ["start", "finish"]
        assert {e["pid"] for e in own} == {t.user_attrs["pid"]} != {os.getpid()}  # logged in the worker
        assert {e["step"]: e["metrics"]["eval_loss"] for e in own if e["event"] == "log"} == \
            pytest.approx(t.intermediate_values)
    # the driver's live view: "[trial N | k/2] step s/40 eval_loss=... | done .. | ETA .."
    err = capsys.readouterr().err
    steps = [line for line in err.splitlines() if line.startswith("[trial ") and "] step " in line]
    assert steps and all("/40 eval_loss=" in line and "ETA" in line for line in steps), err[-2000:]


@pytest.mark.parametrize(("overrides", "nodes", "expect"), [
    ([], 1, None),  # one node: workers open the SQLite file themselves
    ([], 2, "free"),  # several nodes on SQLite: the driver serves it over gRPC
    (["executor.storage_proxy=never"], 2, None),  # the user's shared disk or firewall: off
    (["executor.storage_proxy=always"], 1, "free"),
    (["executor.storage_proxy_port=13000"], 1, 13000),  # a configured port means "serve it"
    (["storage=postgresql://u:p@db/s"], 2, None),  # an RDB every node reaches needs no proxy
])
def test_storage_proxy_switch(overrides, nodes, expect, tmp_path):
    from sweep.executors.ray import proxy_port

    port = proxy_port(load_config([f"output_dir={tmp_path}", *overrides]), nodes)
    if expect == "free":
        assert isinstance(port, int) and port > 0
    else:
        assert port == expect


def test_workers_of_a_joined_cluster_get_secrets_only_where_needed(tmp_path):
    from sweep.executors.ray import worker_env

    env = {"WANDB_API_KEY": "k" * 40, "HF_TOKEN": "hf_secret", "WANDB_PROJECT": "p", "SWEEP_FAULT_X": "1",
           "HF_HOME": "/cache", "SWEEP_DB_PASSWORD": "pw", "PATH": "/bin"}
    base = [f"output_dir={tmp_path}"]
    tiny = worker_env(load_config(base), env)  # tiny local model, no tracker
    assert tiny == {"WANDB_PROJECT": "p", "SWEEP_FAULT_X": "1", "HF_HOME": "/cache"}
    online = worker_env(load_config([*base, "tracker=wandb", "tracker.mode=online"]), env)
    assert online["WANDB_API_KEY"] == env["WANDB_API_KEY"] and "HF_TOKEN" not in online
    hub = worker_env(load_config([*base, "model=llama"]), env)
    assert hub["HF_TOKEN"] == "hf_secret" and "WANDB_API_KEY" not in hub
    assert all("SWEEP_DB_PASSWORD" not in e for e in (tiny, online, hub))
