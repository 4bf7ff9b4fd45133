"""Trackers: where trial runs are logged (none, W&B). Stub; see issue 5."""

from __future__ import annotations

from typing import Any


class NullTrialTracker:
    def log_config(self, values: dict[str, Any]) -> None:
        pass

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        pass

    def finish(self, state: str, summary: dict[str, Any]) -> None:
        pass


def start_trial(cfg: Any, number: int, config: dict[str, Any]) -> NullTrialTracker:
    """Open the tracker run of one trial, in the trial's own process."""
    return NullTrialTracker()


def finish_study(cfg: Any, space: Any, study: Any) -> None:
    """After the sweep, in the driver: per-study summary (e.g. a W&B table)."""
