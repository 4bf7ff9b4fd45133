"""Ray executor: every trial in its own Ray worker process, placed by estimated memory.

Before the study is opened, `check_cluster_can_run` (called by engine.preflight) checks that
the cluster can run a trial as configured, without starting a local Ray.

Driver loop, top to bottom (`RayExecutor.run`):
1. join the cluster (`executor.address` / `RAY_ADDRESS`) or start a local Ray;
2. optionally serve the study's storage over Optuna's gRPC proxy so that workers on other
   machines can reach a SQLite study (`executor.storage_proxy_port`);
3. while trials are missing and the cluster has room: ask the study for a trial, plan it
   (`sweep.memory.Planner`: micro batch that fits, GPU fraction), record the plan on the trial
   and submit it as a fresh worker (`max_calls=1`: a finished, pruned or crashed trial gives
   all its memory back; `max_retries=0`: a crashed trial is a result, not something to rerun);
4. `ray.wait` for whichever trial ends first and tell the study at once (no batch barrier);
   a trial is asked only when the cluster has room for it, so the sampler sees every result
   that came in before.

The worker calls `sweep.executors.contract.execute` with `study=None`, so it attaches to the same
storage and the conf's pruner decides pruning in the worker; pruned trials end PRUNED. A worker
that dies (killed, segfault, Ray's memory monitor) is recorded FAIL with reason
"worker died: ..." and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import io
import os
import secrets
import shutil
import socket
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweep import fault_injection, optuna_internals
from sweep.config import SweepConfig
from sweep.console import quiet_libraries
from sweep.errors import ConfigError, Problem
from sweep.executors.contract import Outcome, SweepContext, claim, execute, tell, trial_workdir
from sweep.memory import Placement, Planner, visible_gpu_memory_mb
from sweep.redaction import SECRET_ENV_NAME
from sweep.storage import Heartbeat
from sweep.wandb_setup import resolve_mode

# Driver environment forwarded to workers (a worker's environment is its raylet's, which on
# another machine, or in a Ray started before the variable was set, does not have them).
FORWARD_ENV_PREFIXES = ("SWEEP_", "WANDB_", "HF_", "TRANSFORMERS_")
DRIVER_TOKEN = ".driver_token"  # in the study folder: tells a worker whether it shares our disk
INSTALL_HINT = "pip install 'ray>=2.40' (or `pip install -e .`), or use executor=inline"


def import_ray() -> Any:
    """Ray, imported lazily (it is heavy and only the ray executor needs it)."""
    # Ray's log de-duplication treats lines that differ only in numbers as repeats, so
    # "[trial 1] step 4/120" would be folded into trial 0's lines; a user who wants it sets it.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(Problem("executor", "ray", f"Ray is not installed: {INSTALL_HINT}")) from None
    return ray


# --------------------------------------------------------------------------- worker side


def _shares_disk(cfg: SweepConfig, token: str) -> bool:
    try:
        return (cfg.study_dir / DRIVER_TOKEN).read_text().strip() == token
    except OSError:
        return False


def pack_dir(path: Path) -> bytes:
    """A folder as tar bytes (adapters travel back to the driver when disks are not shared)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(path, arcname=".")
    return buf.getvalue()


def unpack_dir(data: bytes, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse links and paths leaving `path`
            tar.extractall(path, filter="data")
        else:
            tar.extractall(path)  # noqa: S202 - written by our own worker


def trial_worker(cfg: SweepConfig, space: Any, trial_id: int, number: int, params: dict[str, Any],
                 workdir: str, memory_cap: int | None, gpus: float,
                 driver_token: str) -> tuple[Outcome, bytes | None]:
    """Run one trial in this (fresh) Ray worker; returns the outcome and, when this machine
    does not share the driver's disk, the trial's folder (adapter, answers) as tar bytes."""
    fault_injection.kill_if_trial(number)  # test hook: a crash as the driver sees it

    import ray

    quiet_libraries()  # the driver's filters: no "Using an existing study" or FutureWarnings per trial
    node_id = ray.get_runtime_context().get_node_id()
    if 0 < gpus < 1:
        _limit_gpu_memory(gpus)
    shared = _shares_disk(cfg, driver_token)
    local = Path(workdir)
    if not shared:
        import tempfile

        local = Path(tempfile.mkdtemp(prefix=f"sweep-trial-{number}-"))
    outcome = execute(cfg, space, trial_id, params, local, memory_cap=memory_cap,
                      on_progress=None)  # the driver shows progress from the study
    outcome.attrs.update({"ray_node_id": node_id, "ray_gpus": gpus,
                          "worker_storage": cfg.storage_url().split(":", 1)[0]})
    files = None
    if not shared:
        if (local / "adapter").is_dir():
            files = pack_dir(local)  # the adapter and the trial's answers (behaviour.jsonl)
        shutil.rmtree(local, ignore_errors=True)
    return outcome, files


def _limit_gpu_memory(fraction: float) -> None:
    """Keep a trial that shares a GPU inside its share: going past it raises OOM in this trial
    (which falls back to a smaller micro batch) instead of in a neighbour's."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(min(1.0, fraction), 0)
    except Exception:  # noqa: BLE001 - a missing limit only weakens isolation
        pass


def _gpu_memory_probe() -> float | None:
    return visible_gpu_memory_mb()


# --------------------------------------------------------------------------- driver side

PROGRESS_POLL_S = 2.0  # how often the driver refreshes the live view while trials run


@dataclass
class _Running:
    trial: Any  # optuna.Trial
    heartbeat: Heartbeat
    placement: Placement
    cpus: float
    submitted: float
    shown_step: int = 0  # the last eval step the progress view showed


def connect(cfg: SweepConfig) -> tuple[str | None, float]:
    """Join the configured cluster or start a local Ray.

    Returns ("local" | "joined" | None when Ray was already initialised here, seconds taken).
    """
    ray = import_ray()
    if ray.is_initialized():
        return None, 0.0
    t0 = time.perf_counter()
    address = cfg.executor.address or os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            # "local": a new Ray even if `ray start` left an address file on this machine
            ray.init(address="local", num_cpus=cfg.executor.num_cpus or os.cpu_count(), include_dashboard=False)
    except (ConnectionError, TimeoutError, ValueError) as exc:
        key = "executor.address" if cfg.executor.address else "RAY_ADDRESS"
        raise ConfigError(Problem(key, address, f"cannot join a Ray cluster there ({str(exc)[:200]}); start "
                                  "one with `ray start --head` or unset it to run a local Ray")) from None
    return ("joined" if address else "local"), time.perf_counter() - t0


def cluster_gpu_memory_mb(cfg: SweepConfig, ray: Any, n_gpus: float) -> float | None:
    """Memory of one GPU of the cluster: config, else this process's GPU, else ask a worker."""
    if not n_gpus:
        return None
    if cfg.executor.gpu_memory_gb:
        return cfg.executor.gpu_memory_gb * 1024
    local = visible_gpu_memory_mb()
    if local:
        return local
    probe = ray.remote(num_gpus=1, num_cpus=0, max_calls=1, max_retries=0)(_gpu_memory_probe)
    try:
        return ray.get(probe.remote(), timeout=120)
    except Exception as exc:  # noqa: BLE001 - without it every trial gets a whole GPU
        print(f"ray: could not read GPU memory ({type(exc).__name__}); each trial gets a whole GPU; "
              "set executor.gpu_memory_gb to share GPUs", file=sys.stderr)
        return None


def check_cluster(cfg: SweepConfig, ray: Any) -> dict[str, float]:
    """Fail early when no node can ever run a trial as configured; returns the totals."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    max_cpus = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0)
    total = ray.cluster_resources()
    _check_resources(cfg, max_cpus, total.get("GPU", 0.0))
    return {"CPU": total.get("CPU", 0.0), "GPU": total.get("GPU", 0.0), "nodes": float(len(nodes))}


def _check_resources(cfg: SweepConfig, max_node_cpus: float, total_gpus: float) -> None:
    ex = cfg.executor
    if ex.cpus_per_trial > max_node_cpus:
        raise ConfigError(Problem("executor.cpus_per_trial", ex.cpus_per_trial,
                                  f"no Ray node has that many CPUs (largest: {max_node_cpus:g}); lower it"))
    if ex.gpus_per_trial and not total_gpus:
        raise ConfigError(Problem("executor.gpus_per_trial", ex.gpus_per_trial,
                                  "the Ray cluster has no GPU; unset it (trials then run on CPUs)"))
    if ex.gpus_per_trial is not None and not 0 < ex.gpus_per_trial <= max(1.0, total_gpus):
        raise ConfigError(Problem("executor.gpus_per_trial", ex.gpus_per_trial,
                                  "use a fraction in (0, 1] to share GPUs, or whole GPUs"))


PROBE_TIMEOUT_S = 3.0  # an unreachable cluster address fails preflight in seconds


def check_cluster_can_run(cfg: SweepConfig) -> None:
    """Cluster problems found before the study folder is written (engine.preflight).

    A local Ray is not started for this: its resources are this machine's (`executor.num_cpus`
    or every core, the GPUs torch sees). A cluster address is first probed over TCP (an
    unreachable one fails in seconds, where joining would wait), then joined just long enough
    to read its nodes (joining does not start or stop the cluster).
    """
    address = cfg.executor.address or os.environ.get("RAY_ADDRESS")
    key = "executor.address" if cfg.executor.address else "RAY_ADDRESS"
    if not address or address == "local":
        import torch

        cpus = float(cfg.executor.num_cpus or os.cpu_count() or 1)
        _check_resources(cfg, cpus, float(torch.cuda.device_count()))
        return
    ray = import_ray()
    if ray.is_initialized():  # a driver that joined already (a library user): ask it
        check_cluster(cfg, ray)
        return
    hostport = _host_port(address)
    if hostport is not None:
        host, port = hostport
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                pass
        except OSError as exc:
            raise ConfigError(Problem(key, address, f"no Ray cluster answers there ({exc.strerror or exc}); "
                                      "start one with `ray start --head`, fix the address, or unset it "
                                      "to run a local Ray")) from None
    connect(cfg)
    try:
        check_cluster(cfg, ray)
    finally:
        ray.shutdown()  # leaves the cluster; the executor joins again when trials start


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of `host:port` or `ray://host:port`; None for `auto` (Ray finds it)."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def proxy_port(cfg: SweepConfig, nodes: int) -> int | None:
    """The gRPC storage proxy's port, or None for no proxy.

    `executor.storage_proxy`: `always` serves the study over gRPC; `never` does not; `auto`
    (default) does when a port is configured or when several nodes would otherwise share a
    SQLite file (reachable only from this machine or a shared disk). The port is
    `executor.storage_proxy_port`, else a free one.
    """
    ex = cfg.executor
    if ex.storage_proxy == "never":
        return None
    sqlite = cfg.storage_url().startswith("sqlite")
    wanted = ex.storage_proxy == "always" or bool(ex.storage_proxy_port) or (nodes > 1 and sqlite)
    if not wanted:
        return None
    if ex.storage_proxy == "auto" and not ex.storage_proxy_port and not optuna_internals.grpc_server_available():
        print(f"ray: {nodes} nodes share a SQLite study; workers on other machines can only reach it on a "
              "shared disk. Install grpcio (Optuna's storage proxy) or use an RDB storage URL (docs/ray.md)",
              file=sys.stderr)
        return None
    if ex.storage_proxy_port:
        return ex.storage_proxy_port
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def start_storage_proxy(cfg: SweepConfig, storage: Any, ray: Any, port: int) -> tuple[Any, str]:
    """Serve the driver's study storage over gRPC; returns (server, the URL workers use)."""
    if cfg.storage_url().startswith("journal"):
        raise ConfigError(Problem("executor.storage_proxy_port", port,
                                  "Optuna's gRPC proxy cannot serve a journal storage; use the default "
                                  "SQLite storage or an RDB URL"))
    if not optuna_internals.grpc_server_available():
        raise ConfigError(Problem("executor.storage_proxy_port", port,
                                  "the gRPC storage proxy needs grpcio: `pip install grpcio`"))
    # All interfaces: workers on other machines connect to this machine's cluster address.
    server = optuna_internals.make_grpc_server(storage, "0.0.0.0", port)
    server.start()
    return server, f"grpc://{ray.util.get_node_ip_address()}:{port}"


def worker_env(cfg: SweepConfig, env: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's SWEEP_*, WANDB_*, HF_* and TRANSFORMERS_* variables for the workers of a
    joined cluster (a runtime_env, which the cluster's dashboard can show). Secrets go only where
    the trial needs them: the W&B key when it logs to W&B online, the HF token when the model
    comes from the hub; other variables named like a secret stay here."""
    env = dict(os.environ) if env is None else env
    needed: set[str] = set()
    if cfg.tracker.name == "wandb" and resolve_mode(cfg.tracker, env) == "online":
        needed.add("WANDB_API_KEY")
    if cfg.model.tiny is None and not cfg.model.path:
        needed |= {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}
    return {k: v for k, v in env.items()
            if k.startswith(FORWARD_ENV_PREFIXES) and (k in needed or not SECRET_ENV_NAME.search(k))}


def collect(ray: Any, ref: Any) -> tuple[Outcome, bytes | None]:
    """The worker's result, or a FAIL outcome naming how the worker ended."""
    exc_mod = ray.exceptions
    try:
        return ray.get(ref)
    except exc_mod.TaskCancelledError:
        return Outcome("FAIL", None, {}, "worker died: task cancelled"), None
    except exc_mod.OutOfMemoryError as exc:
        return Outcome("FAIL", None, {"fail_detail": _first_line(exc)},
                       "worker died: killed by Ray's memory monitor (host RAM)"), None
    except exc_mod.RayTaskError as exc:  # the worker function raised (execute itself never does)
        cause = getattr(exc, "cause", None) or exc
        return Outcome("FAIL", None, {}, f"{type(cause).__name__}: {str(cause)[:300]}"), None
    except exc_mod.RayError as exc:  # WorkerCrashedError, RayActorError, NodeDiedError, ...
        return Outcome("FAIL", None, {}, f"worker died: {type(exc).__name__}: {_first_line(exc)}"), None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class RayExecutor:
    """Trials as Ray tasks, each in a fresh worker with the resources it asked for."""

    name = "ray"

    def run(self, ctx: SweepContext) -> None:
        ray = import_ray()
        cfg = ctx.cfg
        started, startup_s = connect(cfg)
        server = None
        try:
            totals = check_cluster(cfg, ray)
            print(f"ray: {totals['nodes']:g} node(s), {totals['CPU']:g} CPUs, {totals['GPU']:g} GPUs"
                  + (f" ({'started' if started == 'local' else 'joined'} in {startup_s:.1f}s)" if started else ""),
                  file=sys.stderr)
            worker_cfg = cfg
            port = proxy_port(cfg, int(totals["nodes"]))
            if port:
                server, url = start_storage_proxy(cfg, optuna_internals.storage(ctx.study), ray, port)
                worker_cfg = dataclasses.replace(cfg, storage=url)
                how = "" if cfg.executor.storage_proxy_port else " (a free port; executor.storage_proxy_port " \
                    "picks one, executor.storage_proxy=never turns it off)"
                print(f"ray: workers reach the study through {url}{how}; the proxy has no authentication: "
                      "keep the port inside the cluster's network", file=sys.stderr)
            planner = Planner(cfg, gpu_memory_mb=cluster_gpu_memory_mb(cfg, ray, totals["GPU"]))
            token = secrets.token_hex(8)
            cfg.study_dir.mkdir(parents=True, exist_ok=True)
            (cfg.study_dir / DRIVER_TOKEN).write_text(token)
            # A Ray started here inherited this environment; forward it only where it may differ
            # (a joined cluster, a Ray started earlier): a runtime_env costs ~0.5 s per worker.
            env = {} if started == "local" else worker_env(cfg)
            self._loop(ctx, ray, worker_cfg, planner, token, env)
        finally:
            if server is not None:
                server.stop(grace=None)
            if started:
                ray.shutdown()

    def _loop(self, ctx: SweepContext, ray: Any, worker_cfg: SweepConfig, planner: Planner, token: str,
              env: dict[str, str]) -> None:
        cfg = ctx.cfg
        remote = ray.remote(max_calls=1, max_retries=0)(trial_worker)
        inflight: dict[Any, _Running] = {}
        try:
            while True:
                # claim = "trials missing? then ask", under the study folder's lock (other sweep
                # processes may share the study)
                while self._room(ray, cfg, inflight) and (claimed := claim(ctx)) is not None:
                    ref, running = self._submit(ctx, claimed, remote, worker_cfg, planner, token, env)
                    inflight[ref] = running
                if not inflight:
                    return
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=PROGRESS_POLL_S)
                if not done:
                    self._show_progress(ctx, inflight)
                    continue
                for ref in done:
                    running = inflight.pop(ref)
                    outcome, files = collect(ray, ref)
                    running.heartbeat.__exit__(None, None, None)
                    if files is not None:
                        unpack_dir(files, trial_workdir(cfg, running.trial.number))
                    outcome.attrs["ray_turnaround_s"] = round(time.perf_counter() - running.submitted, 3)
                    tell(ctx, running.trial, outcome)
        except BaseException:
            # Ctrl-C or a driver error: stop the workers; their trials stay RUNNING and the next
            # run of the same command retries them (sweep.resume.recover_interrupted).
            for ref, running in inflight.items():
                ray.cancel(ref, force=True)
                running.heartbeat.__exit__(None, None, None)
            raise

    @staticmethod
    def _show_progress(ctx: SweepContext, inflight: dict[Any, _Running]) -> None:
        """The live view under Ray: each running trial's newest eval report, read from the study
        (where the worker's reporter wrote it for the pruner)."""
        for running in inflight.values():
            try:
                t = optuna_internals.storage(ctx.study).get_trial(optuna_internals.trial_id(running.trial))
            except Exception:  # noqa: BLE001 - a busy storage only delays the view
                return
            iv = t.intermediate_values
            step = max(iv) if iv else 0
            if step > running.shown_step:
                running.shown_step = step
                ctx.progress.update(t.number, {"step": step, "total_steps": t.user_attrs.get("total_steps"),
                                               "eval_loss": iv[step]})

    def _room(self, ray: Any, cfg: SweepConfig, inflight: dict[Any, _Running]) -> bool:
        """Submit only what the cluster can start now, so no asked trial waits in Ray's queue
        (the sampler then sees every finished trial before it samples the next)."""
        if not inflight:
            return True
        ex = cfg.executor
        if ex.max_concurrent and len(inflight) >= ex.max_concurrent:
            return False
        total = ray.cluster_resources()  # re-read: nodes may join or leave during a sweep
        used_cpu = sum(r.cpus for r in inflight.values())
        if used_cpu + ex.cpus_per_trial > total.get("CPU", 0.0) + 1e-9:
            return False
        gpus = total.get("GPU", 0.0)
        return not gpus or sum(r.placement.gpus for r in inflight.values()) < gpus - 1e-9

    def _submit(self, ctx: SweepContext, claimed: tuple[Any, dict[str, Any]], remote: Any,
                worker_cfg: SweepConfig, planner: Planner, token: str,
                env: dict[str, str]) -> tuple[Any, _Running]:
        cfg = ctx.cfg
        trial, params = claimed
        placement = planner.plan(ctx.space.from_values(params))
        attrs: dict[str, Any] = {"ray_gpus": placement.gpus, "ray_cpus": cfg.executor.cpus_per_trial}
        if placement.estimated_peak_mb is not None:
            attrs["estimated_peak_mb"] = round(placement.estimated_peak_mb, 1)
        if not placement.fits:
            attrs["placement_note"] = "estimate exceeds one GPU even at micro batch 1"
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        ctx.progress.trial_started(trial.number, params)
        heartbeat = Heartbeat(ctx.study, trial).__enter__()
        options: dict[str, Any] = {"num_cpus": cfg.executor.cpus_per_trial, "num_gpus": placement.gpus,
                                   "name": f"{cfg.study_name}-trial-{trial.number}"}
        if env:
            options["runtime_env"] = {"env_vars": env}
        ref = remote.options(**options).remote(
            worker_cfg, ctx.space, optuna_internals.trial_id(trial), trial.number, params,
            str(trial_workdir(cfg, trial.number)), placement.micro_batch_cap, placement.gpus, token)
        return ref, _Running(trial, heartbeat, placement, cfg.executor.cpus_per_trial, time.perf_counter())


__all__ = ["RayExecutor", "check_cluster_can_run", "collect", "connect", "pack_dir", "trial_worker", "unpack_dir"]
