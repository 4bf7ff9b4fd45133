"""Thin command-line entry points shared by `python -m sweep` and its sub-commands.

Each one turns `ConfigError` (bad input) into one line on stderr and exit status 2, and
prints the composed config for `--cfg`, as Hydra users expect.
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


def _sweep(args: list[str]) -> int:
    from sweep.config import compose, from_dict

    if args and args[0] in ("-h", "--help"):
        print(__doc__ or "", "usage: python -m sweep [key=value ...] [--cfg]\n"
              "  e.g. python -m sweep model=tiny_qwen search_space=quick n_trials=4 study_name=x")
        return 0
    show = "--cfg" in args or "-c" in args
    overrides = [a for a in args if a not in ("--cfg", "-c", "job")]
    raw = compose(overrides)
    if show:
        import yaml

        print(yaml.safe_dump(raw, sort_keys=False))
        return 0
    cfg = from_dict(raw)
    quiet_libraries()
    from sweep import engine

    engine.run(cfg)
    return 0


main_sweep = guarded(_sweep)
