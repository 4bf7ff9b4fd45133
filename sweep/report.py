"""The study report (report.html). Stub; see issue 5."""

from __future__ import annotations

from typing import Any


def write_report(cfg: Any, study: Any) -> None:
    """Write <study folder>/report.html from the study."""
