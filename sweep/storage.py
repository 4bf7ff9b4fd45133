"""Where a study lives and who may touch it when: storage URLs, heartbeats, the folder lock.

`make_storage` opens any Optuna storage URL (SQLite in the study folder by default, PostgreSQL
for several machines, a journal file, the driver's gRPC proxy) with heartbeats on RDB storages,
so a trial whose sweep died is found and retried (sweep.resume). `study_lock` serialises the
bookkeeping of the sweep processes sharing a study folder on one machine; `Heartbeat` beats for
a running trial from the driver (ask-and-tell has no built-in one).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

import optuna

from sweep import optuna_internals
from sweep.config import SweepConfig, redact_url
from sweep.errors import ConfigError, Problem

HEARTBEAT_S = 10  # at most this long between a running trial's heartbeats
GRACE_S = 60  # the default of `heartbeat_grace_s`


def heartbeat_interval_s(grace_s: int) -> int:
    """Seconds between heartbeats: three beats fit in the grace period (at most HEARTBEAT_S)."""
    return max(1, min(HEARTBEAT_S, grace_s // 3))


def make_storage(url: str, grace_s: int = GRACE_S) -> optuna.storages.BaseStorage:
    """Any Optuna storage URL; `journal:///abs/file.log` for a journal file. RDB storages get
    heartbeats: a RUNNING trial with none for `grace_s` seconds is failed and retried."""
    import warnings

    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

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


def load_existing(cfg: SweepConfig) -> optuna.Study | None:
    """The study if it exists in its storage, without creating anything."""
    url = cfg.storage_url()
    if url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):]):
        return None
    try:
        return optuna.load_study(study_name=cfg.study_name, storage=make_storage(url, cfg.heartbeat_grace_s))
    except KeyError:
        return None


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

    def __init__(self, study: optuna.Study, trial: optuna.Trial):
        self.storage = optuna_internals.storage(study)
        self.trial_id = optuna_internals.trial_id(trial)
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if optuna_internals.heartbeat_enabled(self.storage):
            optuna_internals.record_heartbeat(self.storage, self.trial_id)
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        interval = optuna_internals.heartbeat_interval(self.storage) or HEARTBEAT_S
        while not self.stop.wait(interval):
            try:
                optuna_internals.record_heartbeat(self.storage, self.trial_id)
            except Exception:  # noqa: BLE001 - a missed beat is not fatal
                pass

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=1)
