"""The live progress view: one line per trial start, per eval report and per finished trial.

Plain lines (not a redrawn screen, no colours, no carriage returns) so the view reads the same
in a terminal, a CI log and Ray's forwarded worker output:

    [trial 4 | 3/8] start learning_rate=0.00137 lora_r=4 effective_batch_size=8
    [trial 4 | 3/8] step 10/30 eval_loss=6.8486 | done 1 pruned 1 failed 0 | ETA 1m20s
    [trial 4 | 3/8] PRUNED pruned at step 10 (eval loss 6.8486) in 9s | done 1 pruned 2 failed 0 | ETA 58s

`k/N` is the trial's place in the sweep (N = n_trials, trials of an earlier run included).
The ETA divides the time this run has spent by the trials' worth of work it has done (finished
trials plus the share of steps done by the running ones) and multiplies by the work left, so
it is there from the first eval report on, counts pruned trials at their real cost and
accounts for trials running in parallel. A running trial that reports no steps here (Ray
workers print their own) counts by its age against the mean finished trial.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


def _fmt_s(s: float) -> str:
    s = int(round(max(s, 0)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class _Running:
    slot: int  # k in "k/N"
    started: float
    fraction: float | None = None  # share of the trial's optimizer steps done (None: no report yet)


class Progress:
    """Prints the sweep's progress; called by the executor from one or several threads.

    Args:
        n_trials: Finished trials the study should have at the end.
        already: Finished trials the study had when this run started (resume).
        stream: Where lines go (stderr by default).
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, n_trials: int, already: int = 0, stream: TextIO | None = None, *,
                 clock: Callable[[], float] = time.monotonic):
        self.n_trials = n_trials
        self.already = already
        self.stream = stream or sys.stderr
        self.clock = clock
        self.started = clock()
        self.started_here = 0
        self.finished_here = 0
        self.states = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}
        self.running: dict[int, _Running] = {}
        self.durations: list[float] = []  # wall seconds of the trials finished here
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ numbers
    def counts(self) -> str:
        return f"done {self.states['COMPLETE']} pruned {self.states['PRUNED']} failed {self.states['FAIL']}"

    def _fraction(self, r: _Running, now: float) -> float:
        """How much of a running trial is done: its step share, else guessed from its age.

        Trials under Ray report their steps in the worker, not here; their age against the
        mean duration of finished trials stands in (capped: it may run longer than most).
        """
        if r.fraction is not None:
            return r.fraction
        if not self.durations:
            return 0.0
        return min((now - r.started) / (sum(self.durations) / len(self.durations)), 0.9)

    def eta_seconds(self) -> float | None:
        """Seconds until n_trials are finished, or None before anything can be measured."""
        now = self.clock()
        fractions = [self._fraction(r, now) for r in self.running.values()]
        not_started = max(self.n_trials - self.already - self.finished_here - len(self.running), 0)
        left = not_started + sum(1.0 - f for f in fractions)
        if left <= 0:
            return 0.0
        done = self.finished_here + sum(fractions)
        elapsed = now - self.started
        if done <= 0 or elapsed <= 0:
            return None
        return elapsed / done * left

    def eta(self) -> str:
        s = self.eta_seconds()
        return "?" if s is None else _fmt_s(s)

    # ------------------------------------------------------------------ events
    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _slot(self, number: int) -> int:
        r = self.running.get(number)
        return r.slot if r else self.already + self.finished_here + 1

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        with self._lock:
            self.started_here += 1
            k = self.already + self.started_here
            self.running[number] = _Running(slot=k, started=self.clock())
            shown = " ".join(f"{name}={_short(v)}" for name, v in params.items())
            self._print(f"[trial {number} | {k}/{self.n_trials}] start {shown}")

    def update(self, number: int, info: dict[str, Any]) -> None:
        with self._lock:
            r = self.running.get(number)
            step, total = info.get("step"), info.get("total_steps")
            if r is not None and isinstance(step, int | float) and total:
                r.fraction = min(max(step / total, 0.0), 1.0)
            parts = [f"step {step}/{total}" if total else f"step {step}"]
            # the latest eval loss (what the pruner judges); train loss only on train-only reports
            key = "eval_loss" if isinstance(info.get("eval_loss"), int | float) else "train_loss"
            if isinstance(info.get(key), int | float):
                parts.append(f"{key}={info[key]:.4f}")
            self._print(f"[trial {number} | {self._slot(number)}/{self.n_trials}] {' '.join(parts)} | "
                        f"{self.counts()} | ETA {self.eta()}")

    def trial_finished(self, number: int, state: str, value: float | None, reason: str | None = None) -> None:
        with self._lock:
            k = self._slot(number)
            r = self.running.pop(number, None)
            self.states[state] = self.states.get(state, 0) + 1
            self.finished_here += 1
            what = f"value={value:.4f}" if value is not None else (reason or "")
            took = ""
            if r is not None:
                self.durations.append(self.clock() - r.started)
                took = f" in {_fmt_s(self.durations[-1])}"
            self._print(f"[trial {number} | {k}/{self.n_trials}] {state} {what}{took} | "
                        f"{self.counts()} | ETA {self.eta()}")


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
