"""Test hooks: faults and races injected through environment variables, off unless set.

Production code calls these where a real fault or race would happen; with the variables unset
each is one environment read and does nothing. The tests set them (and scripts/gpu_check.py's
CPU smoke mode, which cannot make a real out-of-memory error):

- `SWEEP_FAULT_OOM_ABOVE_MICRO_BATCH=N`: every micro batch above N runs out of memory (0: even
  micro batch 1); `SWEEP_FAULT_OOM_FROM_STEP=k`: only from optimizer step k on;
  `SWEEP_FAULT_OOM_PHASE=forward|backward|eval`: only there (unset: forward and eval);
- `SWEEP_FAULT_NAN_AT_STEP=k`: the training loss is NaN from step k on;
- `SWEEP_FAULT_KILL_TRIAL=N`: the Ray worker of trial N kills itself (SIGKILL), as a crash;
- `SWEEP_TEST_CLAIM_BARRIER=DIR:N`: N sweep processes enter every claim (count, then ask)
  together, as processes on different machines racing for a study's last trial.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweep.processes import pid_alive

FAULT_OOM_ENV = "SWEEP_FAULT_OOM_ABOVE_MICRO_BATCH"
FAULT_OOM_STEP_ENV = "SWEEP_FAULT_OOM_FROM_STEP"
FAULT_OOM_PHASE_ENV = "SWEEP_FAULT_OOM_PHASE"
OOM_PHASES = ("forward", "backward", "eval")
FAULT_NAN_ENV = "SWEEP_FAULT_NAN_AT_STEP"
FAULT_KILL_ENV = "SWEEP_FAULT_KILL_TRIAL"
CLAIM_BARRIER_ENV = "SWEEP_TEST_CLAIM_BARRIER"
CLAIM_BARRIER_TIMEOUT_S = 600  # a barrier whose peers never arrive gives up (a test then fails on its own)


@dataclass(frozen=True)
class OomFault:
    """The injected out-of-memory rule of one trainer (read once, when the trainer is built)."""

    above: int | None = None  # None: off
    from_step: int = 0
    phases: frozenset[str] = field(default_factory=lambda: frozenset({"forward", "eval"}))

    @classmethod
    def from_env(cls) -> OomFault:
        raw = os.environ.get(FAULT_OOM_ENV, "").strip()
        phase = os.environ.get(FAULT_OOM_PHASE_ENV, "").strip()
        if phase and phase not in OOM_PHASES:
            raise ValueError(f"{FAULT_OOM_PHASE_ENV}={phase!r}: use one of {OOM_PHASES}")
        return cls(above=int(raw) if raw else None,
                   from_step=int(os.environ.get(FAULT_OOM_STEP_ENV, "").strip() or 0),
                   phases=frozenset({phase}) if phase else frozenset({"forward", "eval"}))

    def fires(self, phase: str, size: int, step: int) -> bool:
        return self.above is not None and size > self.above and phase in self.phases and step >= self.from_step

    def message(self, step: int) -> str:
        return f"injected by {FAULT_OOM_ENV}={self.above} at step {step}"


def nan_from_step() -> int:
    """The step from which the training loss is replaced by NaN (0: never)."""
    return int(os.environ.get(FAULT_NAN_ENV, "0") or 0)


def kill_if_trial(number: int) -> None:
    """In a Ray worker: die as a crash does (no exception, no result) when told to for `number`."""
    fault = os.environ.get(FAULT_KILL_ENV, "").strip()
    if fault and int(fault) == number:
        os.kill(os.getpid(), signal.SIGKILL)


_claim_rounds = [0]


def claim_barrier() -> None:
    """Between counting a study's trials and asking for one: wait until every other live sweep
    process (N in all) reached the same round, so they count, then ask, at the same moment."""
    raw = os.environ.get(CLAIM_BARRIER_ENV, "").strip()
    if not raw:
        return
    folder, _, n = raw.rpartition(":")
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    _claim_rounds[0] += 1
    me, rnd = os.getpid(), _claim_rounds[0]
    (d / f"{me}.{rnd}").touch()
    deadline = time.monotonic() + CLAIM_BARRIER_TIMEOUT_S
    while time.monotonic() < deadline:
        peers = {int(f.name.split(".")[0]) for f in d.iterdir()} - {me}
        if len(peers) + 1 >= int(n) and all((d / f"{pid}.{rnd}").exists() or not pid_alive(pid)
                                            for pid in peers):
            return
        time.sleep(0.05)
