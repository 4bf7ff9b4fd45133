"""Console set-up and the error-to-exit mapping: what every process of the engine shares.

Low level: it imports nothing of the package but `sweep.errors`, so any module may use it.
`quiet_libraries` silences the ML stack's progress bars and advisory warnings (the driver,
a Ray worker and a command alike); `guarded` turns a command function into an entry point
where `ConfigError` (bad input) becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from sweep.errors import ConfigError


def quiet_libraries() -> None:
    """Progress bars and advisory warnings of the ML stack would drown the progress view."""
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*")
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except Exception:  # noqa: BLE001
        pass
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def guarded(fn: Callable[[list[str]], int | None]) -> Callable[[], None]:
    """An entry point running `fn(sys.argv[1:])`: bad input -> one line, exit 2; Ctrl-C -> 130."""

    def main() -> None:
        args = sys.argv[1:]
        try:
            code = fn(args)
        except ConfigError as exc:
            print(f"error: {exc.message()}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: rerun the same command to resume; finished trials are kept", file=sys.stderr)
            sys.exit(130)
        sys.exit(code or 0)

    return main
