"""Which trials count toward `n_trials`, and which process stands down in a race for the last one.

An interrupted trial that was retried does not count (its retry does), nor does a `surplus`
trial: asked by a process that raced another (on another machine, which the study folder's lock
does not cover) for the study's last trial, and never run.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

SURPLUS = "surplus"  # asked by a process that raced another for the study's last trial; never run
INTERRUPTED = "interrupted"  # the reason sweep.resume gives the trials a dead sweep left running
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


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
