"""Executors: where trials run, chosen by `executor=auto|inline|ray`.

`inline` (`inline.py`: one trial after another in this process) and `ray` (`ray.py`: each trial
in its own Ray worker with the resources it asked for) share the driver-side contract in
`contract.py`: claim a trial, `execute` it in any process, `tell` the study.
"""

from __future__ import annotations

import os
from typing import Protocol

from sweep.config import SweepConfig
from sweep.executors.contract import SweepContext
from sweep.executors.inline import InlineExecutor
from sweep.executors.ray import RayExecutor


class Executor(Protocol):
    name: str

    def run(self, ctx: SweepContext) -> None: ...


def resolve_name(cfg: SweepConfig) -> str:
    """`auto`: ray when a GPU is visible or a cluster address is set, inline otherwise."""
    if cfg.executor.name != "auto":
        return cfg.executor.name
    if cfg.executor.address or os.environ.get("RAY_ADDRESS"):
        return "ray"
    import torch

    return "ray" if torch.cuda.is_available() else "inline"


def get(name: str) -> Executor:
    return RayExecutor() if name == "ray" else InlineExecutor()
