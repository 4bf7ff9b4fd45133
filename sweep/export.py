"""Axolotl export. Stub; see issue 6."""

from __future__ import annotations

from typing import Any


def write_axolotl(cfg: Any, space: Any, study: Any) -> None:
    """Write <study folder>/axolotl.yaml for the best trial."""
