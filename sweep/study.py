"""The Optuna study: the single source of truth of a sweep (../shared/DESIGN.md decision 2).

This module owns the sampler and pruner built from conf, the storage (SQLite in the study folder
by default, any Optuna URL otherwise, with heartbeats so a killed sweep's running trial is
found and retried), resuming by name, and the reporter through which a trial, in any process,
reports eval losses, asks the pruner and records attributes.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import TrialState

from sweep import models
from sweep.config import SweepConfig, redact_url, to_plain
from sweep.datasource import fingerprint
from sweep.errors import ConfigError, Problem
from sweep.search_space import SearchSpace

HEARTBEAT_S = 10  # at most this long between a running trial's heartbeats
GRACE_S = 60  # the default of `heartbeat_grace_s`
INTERRUPTED = "interrupted"
SURPLUS = "surplus"  # asked by a process that raced another for the study's last trial; never run
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


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


OOM = "oom"


def _oom_as_worst(trial: optuna.trial.FrozenTrial) -> optuna.trial.FrozenTrial:
    seen = copy.copy(trial)
    seen.state = TrialState.PRUNED
    seen.intermediate_values = {}  # TPE ranks a pruned trial with no report below every other
    return seen


class _OomView:
    """The study as TPE should see it: a trial that FAILed with reason "oom" is a PRUNED trial
    with no eval report, i.e. the worst observed outcome. Everything else is the study itself."""

    def __init__(self, study: optuna.Study):
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states: Any = None, use_cache: bool = False) -> list[Any]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache)
        out = []
        for t in trials:
            if t.state == TrialState.FAIL and t.user_attrs.get("fail_reason") == OOM and t.params:
                t = _oom_as_worst(t)
            if states is None or t.state in states:
                out.append(t)
        return out


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
        real = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=True)
        return study if len(real) < max(self._n_startup_trials, 1) else _OomView(study)

    def infer_relative_search_space(self, study: optuna.Study, trial: Any) -> dict[str, Any]:
        return super().infer_relative_search_space(self._view(study), trial)

    def sample_relative(self, study: optuna.Study, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        return super().sample_relative(self._view(study), trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: Any, param_name: str, param_distribution: Any) -> Any:
        return super().sample_independent(self._view(study), trial, param_name, param_distribution)


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


def heartbeat_interval_s(grace_s: int) -> int:
    """Seconds between heartbeats: three beats fit in the grace period (at most HEARTBEAT_S)."""
    return max(1, min(HEARTBEAT_S, grace_s // 3))


def make_storage(url: str, grace_s: int = GRACE_S) -> optuna.storages.BaseStorage:
    """Any Optuna storage URL; `journal:///abs/file.log` for a journal file. RDB storages get
    heartbeats: a RUNNING trial with none for `grace_s` seconds is failed and retried."""
    import warnings

    try:
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry
    except ImportError:  # Optuna < 4.9
        from optuna.storages import RetryFailedTrialCallback as Retry

    if url.startswith("journal://"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal://"):]))
    if url.startswith("grpc://"):
        host, _, port = url[len("grpc://"):].partition(":")
        return optuna.storages.GrpcStorageProxy(host=host, port=int(port or 13000))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; we rely on them
                warnings.simplefilter("ignore")
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=heartbeat_interval_s(grace_s), grace_period=grace_s,
                    heartbeat_stale_trial_callback=Retry(max_retry=2), **kwargs)
        except (IntegrityError, OperationalError):
            # another process (a second sweep, sweep.report, optuna-dashboard) created the schema
            # at the same moment: the tables exist now, so opening again succeeds
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def check_storage(cfg: SweepConfig) -> None:
    """A user-given storage URL must parse and have its driver installed (checked in preflight)."""
    url = cfg.storage
    if not url or url.startswith("grpc://"):
        return
    if url.startswith("journal://"):
        parent = os.path.dirname(url[len("journal://"):]) or "."
        if not os.path.isdir(parent):
            raise ConfigError(Problem("storage", url, f"folder {parent} does not exist; create it first"))
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
        (getattr(dialect, "import_dbapi", None) or dialect.dbapi)()  # the driver itself
    except ArgumentError:
        raise ConfigError(Problem("storage", redact_url(url), "not a storage URL; e.g. sqlite:////abs/path.db, "
                                  "postgresql://user:PASSWORD@host:5432/db, journal:///abs/file.log")) from None
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(Problem("storage", redact_url(url), f"its database driver is not installed ({exc}); "
                                  "for PostgreSQL: pip install 'psycopg[binary]' (or psycopg2-binary with postgresql+psycopg2://)")) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        parent = os.path.dirname(os.path.abspath(parsed.database))
        if not os.path.isdir(parent):
            raise ConfigError(Problem("storage", url, f"folder {parent} does not exist; create it first"))


def open_study(cfg: SweepConfig, space: SearchSpace, max_steps: int | None = None,
               storage: optuna.storages.BaseStorage | None = None, seed: int | None = None) -> optuna.Study:
    return optuna.create_study(
        study_name=cfg.study_name, storage=storage or make_storage(cfg.storage_url(), cfg.heartbeat_grace_s),
        sampler=make_sampler(cfg, space, seed), pruner=make_pruner(cfg, max_steps),
        direction="minimize", load_if_exists=True)


def load_existing(cfg: SweepConfig) -> optuna.Study | None:
    """The study if it exists in its storage, without creating anything."""
    url = cfg.storage_url()
    if url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):]):
        return None
    try:
        return optuna.load_study(study_name=cfg.study_name, storage=make_storage(url, cfg.heartbeat_grace_s))
    except KeyError:
        return None


# --------------------------------------------------------------------------- bookkeeping

IDENTITY_KEYS = ("model", "model_content", "data", "data_files", "objective", "seed", "eval_every",
                 "search_space_content")
_SHOWN = {"search_space_content": "search space", "data": "data configuration", "data_files": "data file content",
          "model_content": "model content (other weights under the same preset name)",
          "eval_every": "train.eval_every"}


def identity(cfg: SweepConfig, space: SearchSpace) -> dict[str, Any]:
    """What must not change when a study is resumed (else results are not comparable): the
    model, by content too (`models.fingerprint`: another folder behind `model.path` or another
    GGUF under the same name is another model), the data settings (file, eval file or split
    share, format, ...), the data files' content, the seed (it also draws the eval split), the
    eval cadence and the search space."""
    content = models.fingerprint(cfg.model, models.resolve(cfg.model))
    files = [fingerprint(p) for p in (cfg.data.path, cfg.data.eval_path) if p]
    return {"model": cfg.model.name, "model_content": content,
            "data": json.dumps(to_plain(cfg.data), sort_keys=True),
            "data_files": " ".join(files),
            "objective": cfg.objective, "seed": cfg.seed, "eval_every": cfg.train.eval_every,
            "search_space_content": json.dumps(space.to_dict(), sort_keys=True, default=str)}


def _changes(key: str, was: Any, now: Any) -> str:
    """What differs, in the user's words: `data.path: 'a.jsonl' -> 'b.jsonl'`."""
    if key in ("data", "search_space_content"):
        try:
            old, new = json.loads(was), json.loads(now)
        except (TypeError, ValueError):
            old, new = None, None
        if isinstance(old, dict) and isinstance(new, dict):
            prefix = "data."
            if key == "search_space_content":  # {params: {...}, fixed: {...}, enqueue: [...]}
                old, new, prefix = _flat(old), _flat(new), ""
            order = {"params": 0, "fixed": 1, "enqueue": 2}  # what is searched first
            keys = sorted(set(old) | set(new), key=lambda k: (order.get(k.split(".")[0], 0), k))
            diffs = [f"{prefix}{k.rstrip('.')}: {_short(old.get(k))} -> {_short(new.get(k))}"
                     for k in keys if old.get(k) != new.get(k)]
            if diffs:
                return ", ".join(diffs[:3]) + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else "")
    if key == "data_files":
        return "a data file was edited since the study started"
    return f"{_short(was)} -> {_short(now)}"


def _flat(sections: dict[str, Any]) -> dict[str, Any]:
    """{"params": {"lora_r": ...}} -> {"params.lora_r": ...}; a list stays whole."""
    return {f"{name}.{k}": v for name, body in sections.items()
            for k, v in (body.items() if isinstance(body, dict) else [("", body)])}


def _short(value: Any) -> str:
    """A value in a message; long ones keep their end (a path's file name)."""
    text = str(value)
    return repr(text if len(text) <= 48 else "..." + text[-45:])


def check_resumable(study: optuna.Study, cfg: SweepConfig, space: SearchSpace) -> None:
    """Refuse to resume a study with other model, data (file, eval split) or search space."""
    stored = study.user_attrs.get("identity")
    if not stored:
        return
    now = identity(cfg, space)
    for key in IDENTITY_KEYS:
        if key in stored and stored.get(key) != now.get(key):
            raise ConfigError(Problem("study_name", cfg.study_name,
                                      f"this study was run with a different {_SHOWN.get(key, key)} "
                                      f"({_changes(key, stored.get(key), now.get(key))}); use a new study_name, "
                                      "or the original settings to resume"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: an exited process its parent has not reaped yet (a zombie) is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def recover_interrupted(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials whose sweep process died as FAIL ('interrupted') and retry them.

    Trials of a dead driver on this host are found at once by pid; trials of other hosts are
    found by Optuna's heartbeat (stale after the grace period) and retried by its callback.
    """
    host = socket.gethostname()
    recovered = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        node, pid = t.user_attrs.get("driver_node"), t.user_attrs.get("driver_pid")
        if node == host and isinstance(pid, int) and pid != os.getpid() and not pid_alive(pid):
            storage = study._storage
            if t.user_attrs.get("fail_reason") == SURPLUS:  # stood down, never ran: just close it
                storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                continue
            storage.set_trial_user_attr(t._trial_id, "fail_reason", INTERRUPTED)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
            recovered.append(t.number)
    recovered += _fail_stale(study)
    return recovered


def _fail_stale(study: optuna.Study) -> list[int]:
    """Optuna's `fail_stale_trials`, naming the reason: a RUNNING trial whose heartbeat is older
    than the grace period is marked 'interrupted', failed, and retried by the storage's callback
    (RetryHeartbeatStaleTrialCallback: an enqueued copy with system attr failed_trial)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    storage = study._storage
    if not isinstance(storage, BaseHeartbeat) or not is_heartbeat_enabled(storage):
        return []
    failed = []
    for trial_id in storage._get_stale_trial_ids(study._study_id):
        try:
            surplus = storage.get_trial(trial_id).user_attrs.get("fail_reason") == SURPLUS
            if not surplus:  # the reason first: a finished trial's attributes cannot change
                storage.set_trial_user_attr(trial_id, "fail_reason", INTERRUPTED)
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL) and not surplus:
                failed.append(trial_id)  # a surplus trial never ran: closed, not retried
        except UpdateFinishedTrialError:  # another process failed (or finished) it first
            pass
    callback = storage.get_heartbeat_stale_trial_callback()
    numbers = []
    for trial_id in failed:
        frozen = copy.deepcopy(storage.get_trial(trial_id))
        numbers.append(frozen.number)
        if callback is not None:  # the retry inherits the user attrs, not the reason
            frozen.user_attrs = {k: v for k, v in frozen.user_attrs.items() if k != "fail_reason"}
            callback(study, frozen)
    return numbers


def _retried(trials: list[Any]) -> set[Any]:
    """Numbers of trials that were retried: ours (user attr retry_of) and every earlier attempt
    of Optuna's heartbeat retries (system attrs failed_trial and retry_history)."""
    out: set[Any] = set()
    for t in trials:
        out.add(t.user_attrs.get("retry_of"))
        out.add(t.system_attrs.get("failed_trial"))
        out.update(t.system_attrs.get("retry_history") or ())
    out.discard(None)
    return out


def _counts(t: Any, retried: set[Any]) -> bool:
    """Whether a trial counts toward n_trials: not an interrupted (retried) one, not a surplus one."""
    reason = t.user_attrs.get("fail_reason")
    if reason == SURPLUS:  # stood down before training, whatever state a crash left it in
        return False
    if t.state == TrialState.FAIL and (reason == INTERRUPTED or t.number in retried):
        return False
    return not (t.state == TrialState.RUNNING and reason == INTERRUPTED)


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state; interrupted trials (retried) and surplus ones (never run) do not count."""
    c = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0}
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    for t in trials:
        if _counts(t, retried):
            c[t.state.name] = c.get(t.state.name, 0) + 1
    c["finished"] = c["COMPLETE"] + c["PRUNED"] + c["FAIL"]
    return c


def missing(study: optuna.Study, n_trials: int) -> int:
    c = counts(study)
    return max(0, n_trials - c["finished"] - c["RUNNING"])


def over_budget(study: optuna.Study, number: int, n_trials: int) -> bool:
    """True when trial `number`, just asked, is one too many: n_trials counted trials with lower
    numbers already exist. Two processes that counted at the same moment (on different machines,
    which the study folder's lock does not cover) both ask; the storage numbers their trials in
    one order, so exactly the later one sees the earlier and stands down."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    earlier = sum(1 for t in trials if t.number < number and t.state != TrialState.WAITING
                  and _counts(t, retried))
    return earlier >= n_trials


@contextlib.contextmanager
def study_lock(cfg: SweepConfig):
    """Serialise study bookkeeping (create, recover, count-then-ask, refresh outputs) among the
    sweep processes sharing a study folder on one machine. Processes on other machines that
    share an RDB study are not covered by it; `over_budget` stops the trial one of them would
    run beyond n_trials."""
    import fcntl

    cfg.study_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.study_dir / ".ask.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Heartbeat:
    """Records a trial's heartbeat from the driver while it runs (ask/tell has no built-in one)."""

    def __init__(self, study: optuna.Study, trial_id: int):
        self.storage = study._storage
        self.trial_id = trial_id
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        from optuna.storages._heartbeat import is_heartbeat_enabled

        if is_heartbeat_enabled(self.storage):
            self.storage.record_heartbeat(self.trial_id)
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        interval = getattr(self.storage, "get_heartbeat_interval", lambda: None)() or HEARTBEAT_S
        while not self.stop.wait(interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001 - a missed beat is not fatal
                pass

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=1)


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
        study = open_study(cfg, space, max_steps)
        return cls(optuna.Trial(study, trial_id), on_progress)

    def report(self, step: int, value: float) -> None:
        self.trial.report(value, step)

    def should_prune(self) -> bool:
        return self.trial.should_prune()

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        for k, v in attrs.items():
            self.trial.set_user_attr(k, v)
        if self.tracker is not None:
            self.tracker.log_config({k: v for k, v in attrs.items() if k != "eval_rows"})  # rows: the study's

    def progress(self, info: dict[str, Any]) -> None:
        if self.tracker is not None:
            self.tracker.log(info["step"], info)
        if self.on_progress:
            self.on_progress(self.trial.number, info)
