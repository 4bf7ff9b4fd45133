"""Every use of Optuna's non-public names, in one place (written for Optuna 5.0-5.1).

The engine uses Optuna through its public API (`create_study`, `ask`/`tell`, `Trial.report`,
`should_prune`, `set_user_attr`, `enqueue_trial`, storages by URL, samplers and pruners). A few
jobs have no public route; each is one function here, with the reason, and
tests/test_optuna_internals.py checks each against the installed Optuna, so an Optuna release
that moves one of them fails there first (pyproject.toml bounds the version):

- `storage`, `trial_id`, `trial_id_of`: a trial is run in another process (a Ray worker, or
  through `StudyReporter.attach`) and reports to the same study; `optuna.Trial(study, trial_id)`
  is public, but the id it takes is only reachable through `Study._storage` and `Trial._trial_id`.
  The driver also reads a RUNNING trial's reports (the live view under Ray) and records the
  outcome's attributes on a trial before `study.tell`.
- `heartbeat_enabled`, `stale_trial_ids`, `record_heartbeat`: heartbeats are public only inside
  `Study.optimize`; an ask-and-tell driver must beat and find stale trials itself.
- `make_grpc_server`: `optuna.storages.run_grpc_proxy_server` blocks forever; the driver needs a
  server it can stop when the sweep ends.
- `StudyView`: TPE reads trials through `Study._get_trials`; the OOM-aware sampler (sweep.sampling)
  shows it a study where an out-of-memory failure counts as the worst trial.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

WRITTEN_FOR = ("5.0", "5.1")  # Optuna minor versions these uses were checked against


def storage(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The study's storage (its cache in front of an RDB storage)."""
    return study._storage


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage id of a trial (what `optuna.Trial(study, trial_id)` takes)."""
    return trial._trial_id


def trial_id_of(study: optuna.Study, number: int) -> int:
    """The storage id of trial `number` of `study`."""
    return study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)


def heartbeat_enabled(st: optuna.storages.BaseStorage) -> bool:
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    return isinstance(st, BaseHeartbeat) and is_heartbeat_enabled(st)


def heartbeat_interval(st: optuna.storages.BaseStorage) -> int | None:
    return getattr(st, "get_heartbeat_interval", lambda: None)()


def record_heartbeat(st: optuna.storages.BaseStorage, tid: int) -> None:
    st.record_heartbeat(tid)


def stale_trial_ids(study: optuna.Study) -> list[int]:
    """RUNNING trials whose last heartbeat is older than the storage's grace period."""
    return list(study._storage._get_stale_trial_ids(study._study_id))


def stale_trial_callback(st: optuna.storages.BaseStorage) -> Callable[[optuna.Study, Any], None] | None:
    return st.get_heartbeat_stale_trial_callback()


def grpc_server_available() -> bool:
    try:
        import grpc  # noqa: F401
        from optuna.storages._grpc.server import make_server  # noqa: F401
    except Exception:  # noqa: BLE001 - missing grpcio, protobuf or a version clash
        return False
    return True


def make_grpc_server(st: optuna.storages.BaseStorage, host: str, port: int) -> Any:
    """A gRPC storage proxy server over `st` that the caller starts and stops."""
    from optuna.storages._grpc.server import make_server

    return make_server(st, host, port)


def finished_or_pruned_count(study: optuna.Study, states: tuple[Any, ...]) -> int:
    """How many trials are in `states`, read from the study's cache (a sampler's hot path)."""
    return len(study._get_trials(deepcopy=False, states=states, use_cache=True))


class StudyView:
    """A study as a sampler sees it: every trial passed through `transform` (None hides it).

    Samplers read trials through `Study._get_trials`; everything else is the study itself."""

    def __init__(self, study: optuna.Study, transform: Callable[[Any], Any]):
        self._study = study
        self._transform = transform

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states: Any = None, use_cache: bool = False) -> list[Any]:
        out = []
        for t in self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache):
            t = self._transform(t)
            if t is not None and (states is None or t.state in states):
                out.append(t)
        return out


__all__ = ["WRITTEN_FOR", "StudyView", "finished_or_pruned_count", "grpc_server_available", "heartbeat_enabled",
           "heartbeat_interval", "make_grpc_server", "record_heartbeat", "stale_trial_callback", "stale_trial_ids",
           "storage", "trial_id", "trial_id_of"]
