"""Errors the engine raises on purpose.

`ConfigError` is the one bad-input error: it carries every problem found (key, value, fix),
and the command-line entry points turn it into one message and exit status 2 before any
work starts and before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One bad input: which key, what value, how to fix it."""

    key: str
    value: object
    fix: str

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}: {self.fix}"


class ConfigError(Exception):
    """Bad input. Raised before any training and before anything is written."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.message())

    def message(self) -> str:
        """All problems on one line (a library's multi-line error text is folded)."""
        text = "; ".join(str(p) for p in self.problems)
        return "invalid input: " + " ".join(text.split())


class Problems:
    """Collects problems so one error can name all of them (litgpt's `validate_args` style)."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, key: str, value: object, fix: str) -> None:
        self.items.append(Problem(key, value, fix))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


class TrialPruned(Exception):
    """Raised inside a trial when the pruner says stop (mapped to optuna.TrialPruned)."""


class TrialDiverged(Exception):
    """Training loss became NaN/inf or exploded; the trial stops at once."""


class OutOfMemoryAtMinimum(Exception):
    """Out of memory at micro batch 1: nothing left to fall back to."""
