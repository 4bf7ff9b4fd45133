"""Behaviour evaluation. Stub; see issue 7."""

from __future__ import annotations

from typing import Any


def evaluate_after_sweep(cfg: Any, space: Any, study: Any) -> None:
    """Evaluate the best trials' adapters (and the base model); write behaviour.csv."""
