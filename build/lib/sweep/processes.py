"""Processes on this machine: whether a process id still names a live process."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, exited but not reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: an exited process its parent has not reaped yet (a zombie) is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
