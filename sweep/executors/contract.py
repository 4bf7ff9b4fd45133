"""The driver-side contract every executor shares: claim a trial from the study (`claim`), run
it in any process (`execute`, which never raises), tell the study how it ended (`tell`), refresh
the outputs (`SweepContext.on_trial_end`). `sweep.executors` picks the executor.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sweep import fault_injection, optuna_internals, selection, tracking
from sweep.config import SweepConfig
from sweep.errors import ConfigError, OutOfMemoryAtMinimum, TrialDiverged, TrialPruned
from sweep.sampling import OOM
from sweep.search_space import SearchSpace
from sweep.storage import study_lock
from sweep.study import StudyReporter
from sweep.trial import run_trial
from sweep.trial_counts import SURPLUS, missing, over_budget


@dataclass
class Outcome:
    """What a trial process hands back to the driver."""

    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass
class SweepContext:
    cfg: SweepConfig
    space: SearchSpace
    study: optuna.Study
    progress: Any
    on_trial_end: Callable[[optuna.trial.FrozenTrial], None]
    memory_cap: Callable[[Any], int | None] = lambda params: None


def trial_workdir(cfg: SweepConfig, number: int) -> Path:
    return cfg.study_dir / "trials" / str(number)


def ask(ctx: SweepContext) -> tuple[optuna.Trial, dict[str, Any]]:
    """A new trial with every dimension sampled; the driver's identity recorded on it."""
    import warnings

    with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize": we beat ourselves
        warnings.simplefilter("ignore", UserWarning)
        trial = ctx.study.ask()
    trial.set_user_attr("driver_pid", os.getpid())
    trial.set_user_attr("driver_node", socket.gethostname())
    ctx.space.suggest(trial)
    return trial, dict(trial.params)


def claim(ctx: SweepContext) -> tuple[optuna.Trial, dict[str, Any]] | None:
    """The next trial to run, or None when the study has (or is running) n_trials."""
    with study_lock(ctx.cfg):
        if missing(ctx.study, ctx.cfg.n_trials) <= 0:
            return None
        fault_injection.claim_barrier()  # test hook: between counting and asking, where processes race
        trial, params = ask(ctx)
        if not over_budget(ctx.study, trial.number, ctx.cfg.n_trials):
            return trial, params
    # another process (another machine) asked the study's last trial at the same moment
    trial.set_user_attr("fail_reason", SURPLUS)  # from here it never counts, even if left RUNNING
    frozen = _tell(ctx.study, optuna_internals.trial_id(trial), trial.number, None, TrialState.FAIL)
    if "fixed_params" in frozen.system_attrs:  # an enqueued configuration (a retry): keep it queued
        keep = {k: frozen.user_attrs[k] for k in ("retry_of", "enqueued") if k in frozen.user_attrs}
        if "retry_of" not in keep and frozen.system_attrs.get("failed_trial") is not None:
            keep["retry_of"] = frozen.system_attrs["failed_trial"]  # an Optuna heartbeat retry
        ctx.study.enqueue_trial(frozen.params, user_attrs=keep, skip_if_exists=False)  # as drawn
    print(f"trial {trial.number} not run: another process started the study's last trial at the same time",
          file=sys.stderr)
    return None


def _ran(exc: BaseException) -> dict[str, Any]:
    """Steps, tokens/s, peak memory and wall time of a trial that ended early (if it trained)."""
    return dict(getattr(exc, "trial_stats", None) or {})


def execute(cfg: SweepConfig, space: SearchSpace, trial_id: int, params: dict[str, Any],
            workdir: Path | None, *, study: optuna.Study | None = None, memory_cap: int | None = None,
            on_progress: Callable[[int, dict], None] | None = None) -> Outcome:
    """Run one trial in the current process and classify how it ended. Never raises."""
    run = None
    try:
        p = space.from_values(params)
        if study is not None:
            reporter = StudyReporter(optuna.Trial(study, trial_id), on_progress)
        else:
            reporter = StudyReporter.attach(cfg, space, trial_id, None, on_progress)
        run = tracking.start_trial(cfg, reporter.trial.number, {**params})
        reporter.tracker = run
        ask = None
        if cfg.eval.behaviour and cfg.eval.top_k > 0:  # among the best K when it finishes: asked now
            st = reporter.trial.study
            ask = lambda value: selection.should_ask(st, value, cfg.eval.top_k)  # noqa: E731
        result = run_trial(cfg, p, reporter, workdir, memory_cap=memory_cap, ask_behaviour=ask)
        value = result.pop("value")
        outcome = Outcome("COMPLETE", value, result)
    except TrialPruned as exc:
        outcome = Outcome("PRUNED", None, _ran(exc), str(exc))
    except OutOfMemoryAtMinimum as exc:
        outcome = Outcome("FAIL", None, {**_ran(exc), "fail_detail": str(exc)}, OOM)
    except TrialDiverged as exc:
        outcome = Outcome("FAIL", None, {**_ran(exc), "fail_detail": str(exc)}, "diverged")
    except ConfigError as exc:
        outcome = Outcome("FAIL", None, {}, f"config: {exc.message()}")
    except Exception as exc:  # noqa: BLE001 - one trial's failure never takes the sweep down
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "error.log").write_text(traceback.format_exc())
        outcome = Outcome("FAIL", None, _ran(exc), f"{type(exc).__name__}: {str(exc)[:300]}")
    if run is not None:
        try:
            run.finish(outcome.state, {"value": outcome.value, "reason": outcome.reason, **outcome.attrs})
        except Exception:  # noqa: BLE001 - tracking never fails a trial
            pass
    return outcome


def _tell(study: optuna.Study, trial_id: int, number: int, value: float | None,
          state: TrialState) -> optuna.trial.FrozenTrial:
    """`study.tell`, tolerant of GridSampler.after_trial, which runs after the state is stored and
    calls study.stop() outside optimize (RuntimeError) or reads a grid_id an enqueued trial lacks
    (KeyError)."""
    try:
        return study.tell(number, value, state=state, skip_if_finished=True)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
    except KeyError as exc:
        if "grid_id" not in str(exc):
            raise
    return optuna_internals.storage(study).get_trial(trial_id)


def tell(ctx: SweepContext, trial: optuna.Trial | int, outcome: Outcome) -> optuna.trial.FrozenTrial:
    """Record an outcome on the study (the single source of truth) and refresh outputs."""
    study = ctx.study
    storage = optuna_internals.storage(study)
    number = trial.number if isinstance(trial, optuna.Trial) else trial
    trial_id = optuna_internals.trial_id(trial) if isinstance(trial, optuna.Trial) else \
        optuna_internals.trial_id_of(study, number)
    current = storage.get_trial(trial_id)
    if current.state.is_finished():  # another process declared it dead meanwhile: keep its record
        print(f"trial {number} was already {current.state.name} in the study; its {outcome.state} "
              "result is not recorded", file=sys.stderr)
        ctx.progress.trial_finished(number, current.state.name, current.value, "finished elsewhere")
        ctx.on_trial_end(current)
        return current
    for k, v in outcome.attrs.items():
        storage.set_trial_user_attr(trial_id, k, v)
    if outcome.reason:
        storage.set_trial_user_attr(trial_id, "fail_reason" if outcome.state == "FAIL" else "prune_reason",
                                           outcome.reason)
    state = TrialState[outcome.state]
    frozen = _tell(study, trial_id, number, outcome.value if state == TrialState.COMPLETE else None, state)
    ctx.progress.trial_finished(number, outcome.state, outcome.value, outcome.reason)
    ctx.on_trial_end(frozen)
    return frozen
