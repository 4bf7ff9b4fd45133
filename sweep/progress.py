"""The live progress view: one line per eval report and per finished trial.

Plain lines (not a redrawn screen) so the view reads the same in a terminal, a CI log and
Ray's forwarded worker output.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def _fmt_s(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    def __init__(self, n_trials: int, already: int = 0, stream=None):
        self.n_trials = n_trials
        self.already = already
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.finished_here = 0
        self.states = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}

    def counts(self) -> str:
        return f"done {self.states['COMPLETE']} pruned {self.states['PRUNED']} failed {self.states['FAIL']}"

    def eta(self) -> str:
        if not self.finished_here:
            return "?"
        left = self.n_trials - self.already - self.finished_here
        return _fmt_s((time.monotonic() - self.started) / self.finished_here * left)

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        k = self.already + self.finished_here + 1
        shown = " ".join(f"{k_}={_short(v)}" for k_, v in params.items())
        self._print(f"[trial {number} | {k}/{self.n_trials}] start {shown}")

    def update(self, number: int, info: dict[str, Any]) -> None:
        k = self.already + self.finished_here + 1
        self._print(f"[trial {number} | {k}/{self.n_trials}] step {info['step']}/{info['total_steps']} "
                    f"eval_loss={info['eval_loss']:.4f} | {self.counts()} | ETA {self.eta()}")

    def trial_finished(self, number: int, state: str, value: float | None, reason: str | None = None) -> None:
        self.states[state] = self.states.get(state, 0) + 1
        self.finished_here += 1
        k = self.already + self.finished_here
        what = f"value={value:.4f}" if value is not None else (reason or "")
        self._print(f"[trial {number} | {k}/{self.n_trials}] {state} {what} | {self.counts()} | ETA {self.eta()}")


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
