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
        print(sweep_help())
        return 0
    if any(a in ("-m", "--multirun") for a in args):
        from sweep.errors import Problem

        raise ConfigError(Problem("--multirun", "-m", "not supported: one run is the whole sweep (n_trials "
                                  "trials, sampled by Optuna); drop -m and put the ranges in a search space"))
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


def sweep_help() -> str:
    """`python -m sweep --help`: usage, the config groups with their options, the top-level keys."""
    import yaml

    from sweep.config import CONF_DIR, REPO_ROOT

    lines = ["usage: python -m sweep [key=value ...] [--cfg]",
             "  Runs a LoRA hyperparameter sweep (Hydra overrides, version_base 1.3).",
             "  e.g. python -m sweep model=tiny_qwen search_space=quick n_trials=4 study_name=x",
             "  --cfg prints the composed config (every key) and exits.", "", "config groups (group=option):"]
    for group in sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir()):
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        lines.append(f"  {group:<12} {', '.join(options)}")
    spaces = sorted(p.stem for p in (REPO_ROOT / "search_spaces").glob("*.yaml"))
    lines.append(f"  {'search_space':<12} {', '.join(spaces)} (or a path to a YAML file)")
    raw = yaml.safe_load((CONF_DIR / "config.yaml").read_text())
    scalars = [k for k, v in raw.items() if k != "defaults" and not isinstance(v, dict)]
    sections = [k for k, v in raw.items() if isinstance(v, dict)]
    lines += ["", "top-level keys: " + ", ".join(scalars),
              "sections (section.key=value): " + ", ".join(sections),
              "pin a training setting: +fixed.NAME=VALUE (e.g. +fixed.max_steps=20)",
              "", "other commands: python -m sweep.report | sweep.export | sweep.train | sweep.compare | sweep.plan"]
    return "\n".join(lines)


main_sweep = guarded(_sweep)
