"""Resuming a study by name: what must not change, and what a dead sweep left running.

`identity` is what a study was started with (model by content, data settings and file content,
seed, eval cadence, search space); `check_resumable` refuses a rerun that differs, naming the
change. `recover_interrupted` fails the trials a killed sweep left RUNNING (this host's by
process id at once, other hosts' by Optuna's heartbeat) with reason `interrupted`, and retries
their configurations.
"""

from __future__ import annotations

import copy
import json
import os
import socket
from typing import Any

import optuna
from optuna.trial import TrialState

from sweep import models, optuna_internals
from sweep.config import SweepConfig, to_plain
from sweep.datasource import fingerprint
from sweep.errors import ConfigError, Problem
from sweep.processes import pid_alive
from sweep.pruning import KEPT_ATTR
from sweep.search_space import SearchSpace
from sweep.trial_counts import INTERRUPTED, SURPLUS

IDENTITY_KEYS = ("model", "model_content", "data", "data_files", "objective", "seed", "eval_every",
                 "cooldown_steps", "search_space_content")
_SHOWN = {"search_space_content": "search space", "data": "data configuration", "data_files": "data file content",
          "model_content": "model content (other weights under the same preset name)",
          "eval_every": "train.eval_every", "cooldown_steps": "train.cooldown_steps"}


def identity(cfg: SweepConfig, space: SearchSpace) -> dict[str, Any]:
    """What must not change when a study is resumed (else results are not comparable): the
    model, by content too (`models.fingerprint`: another folder behind `model.path` or another
    GGUF under the same name is another model), the data settings (file, eval file or split
    share, format, ...), the data files' content, the seed (it also draws the eval split), the
    eval cadence, what a report measures (`train.cooldown_steps`: a cooldown branch's loss or
    the run's own) and the search space."""
    content = models.fingerprint(cfg.model, models.resolve(cfg.model))
    files = [fingerprint(p) for p in (cfg.data.path, cfg.data.eval_path) if p]
    return {"model": cfg.model.name, "model_content": content,
            "data": json.dumps(to_plain(cfg.data), sort_keys=True),
            "data_files": " ".join(files),
            "objective": cfg.objective, "seed": cfg.seed, "eval_every": cfg.train.eval_every,
            "cooldown_steps": cfg.train.cooldown_steps,
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
            storage, tid = optuna_internals.storage(study), optuna_internals.trial_id(t)
            if t.user_attrs.get("fail_reason") == SURPLUS:  # stood down, never ran: just close it
                storage.set_trial_state_values(tid, TrialState.FAIL)
                continue
            storage.set_trial_user_attr(tid, "fail_reason", INTERRUPTED)
            storage.set_trial_state_values(tid, TrialState.FAIL)
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
            recovered.append(t.number)
    recovered += _fail_stale(study)
    return recovered


def _fail_stale(study: optuna.Study) -> list[int]:
    """Optuna's `fail_stale_trials`, naming the reason: a RUNNING trial whose heartbeat is older
    than the grace period is marked 'interrupted', failed, and retried by the storage's callback
    (RetryHeartbeatStaleTrialCallback: an enqueued copy with system attr failed_trial)."""
    from optuna.exceptions import UpdateFinishedTrialError

    storage = optuna_internals.storage(study)
    if not optuna_internals.heartbeat_enabled(storage):
        return []
    failed = []
    for trial_id in optuna_internals.stale_trial_ids(study):
        try:
            surplus = storage.get_trial(trial_id).user_attrs.get("fail_reason") == SURPLUS
            if not surplus:  # the reason first: a finished trial's attributes cannot change
                storage.set_trial_user_attr(trial_id, "fail_reason", INTERRUPTED)
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL) and not surplus:
                failed.append(trial_id)  # a surplus trial never ran: closed, not retried
        except UpdateFinishedTrialError:  # another process failed (or finished) it first
            pass
    callback = optuna_internals.stale_trial_callback(storage)
    numbers = []
    for trial_id in failed:
        frozen = copy.deepcopy(storage.get_trial(trial_id))
        numbers.append(frozen.number)
        if callback is not None:  # the retry inherits the user attrs, not the reason nor what the pruner did
            frozen.user_attrs = {k: v for k, v in frozen.user_attrs.items() if k not in ("fail_reason", KEPT_ATTR)}
            callback(study, frozen)
    return numbers
