"""How much of a difference between two eval reports is noise: paired standard errors.

Every trial of a study is evaluated on the same eval rows (common random numbers: the eval
split is drawn once with `seed`, and every trial trains on the same data order), and each
report keeps its rows' summed NLL and label counts (sweep.training; one user attr per report,
`eval_rows/<kind>:<step>`, plus `eval_rows/tokens`, so no attr outgrows a storage's text column
and a report writes only its own rows). An eval loss is
a ratio, L = sum(nll) / sum(tokens); the difference of two trials' losses on the same rows is
D = sum(d_i) / N with d_i = nll_a,i - nll_b,i and N = sum(tokens), and its standard error
(rows as the sampling unit) is sqrt(m / (m - 1) * sum((d_i - mean d)^2)) / N. Row difficulty
is shared by both trials and cancels, so this is far smaller than either report's own error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

ROWS_PREFIX = "eval_rows/"


def as_attrs(rows: dict[str, Any]) -> dict[str, Any]:
    """User attrs for per-row records keyed "tokens" or "<kind>:<step>" (kind main, branch, prefix)."""
    return {ROWS_PREFIX + k: v for k, v in rows.items()}


def rows_of(user_attrs: dict[str, Any]) -> dict[str, Any]:
    """A trial's per-row records, keyed as `as_attrs` took them (also reads the single `eval_rows`
    dict that studies of the first WSD commit kept)."""
    rows = dict(user_attrs.get("eval_rows") or {})
    rows.update({k[len(ROWS_PREFIX):]: v for k, v in user_attrs.items() if k.startswith(ROWS_PREFIX)})
    return rows


def report_rows(user_attrs: dict[str, Any], step: int) -> list[float] | None:
    """The per-row NLL sums of the report a trial made at `step` (its cooldown branch's when it
    reported one there), or None when the trial kept no rows."""
    rows = rows_of(user_attrs)
    found = rows.get(f"branch:{step}") or rows.get(f"main:{step}")
    return list(found) if found else None


def paired_se(a: Sequence[float], b: Sequence[float], tokens: Sequence[int]) -> float:
    """Standard error of L_a - L_b for two reports on the same rows (see the module docstring)."""
    if not (len(a) == len(b) == len(tokens)) or len(a) < 2:
        raise ValueError(f"need two reports on the same rows (>= 2), but got {len(a)=}, {len(b)=}, {len(tokens)=}.")
    n = float(sum(tokens))
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / len(d)
    var = sum((x - mean) ** 2 for x in d) * len(d) / (len(d) - 1)
    return math.sqrt(var) / n


def within_noise(value: float, bar: float, se: float, z: float) -> bool:
    """True when `value` is worse than `bar` by at most `z` standard errors."""
    return value - bar <= z * se


def final_rows(user_attrs: dict[str, Any]) -> tuple[list[float], list[int]] | None:
    """A finished trial's last report's rows and their label counts, None without rows."""
    rows = rows_of(user_attrs)
    steps = [int(k.split(":")[1]) for k in rows if k.startswith("main:")]
    if not steps or not rows.get("tokens"):
        return None
    return list(rows[f"main:{max(steps)}"]), list(rows["tokens"])


def tied_with(best: Any, others: Sequence[Any], z: float = 2.0) -> list[int]:
    """Numbers of the complete trials whose final eval loss is within `z` paired standard errors
    of `best`'s (the same eval rows): the finalists the eval set cannot tell apart."""
    mine = final_rows(best.user_attrs)
    if mine is None:
        return []
    tied = []
    for t in others:
        theirs = final_rows(t.user_attrs)
        if t.number == best.number or theirs is None or len(theirs[0]) != len(mine[0]) or len(mine[0]) < 2:
            continue
        se = paired_se(theirs[0], mine[0], mine[1])
        if abs(t.value - best.value) <= z * se:
            tied.append(t.number)
    return tied


__all__ = ["ROWS_PREFIX", "as_attrs", "final_rows", "paired_se", "report_rows", "rows_of", "tied_with",
           "within_noise"]
