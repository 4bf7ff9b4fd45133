"""`python -m sweep [key=value ...] [--cfg]`: compose the config with Hydra, run the sweep.

The sweep command (layer 1): composes and types the config (`sweep.config`), then runs
`sweep.engine`. Each command module of the package (`python -m sweep.<name>`: plan, export,
report, compare, retrain) is the same shape: `main = guarded(run)`, bad input (`ConfigError`)
becomes one line on stderr and exit status 2, and no library module imports a command.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sweep.config import CONF_DIR, SEARCH_SPACE_DIR, compose, conf_options, from_dict
from sweep.console import guarded, quiet_libraries
from sweep.errors import ConfigError, Problem


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(sweep_help())
        return 0
    if any(a in ("-m", "--multirun") for a in args):
        raise ConfigError(Problem("--multirun", "-m", "not supported: one run is the whole sweep (n_trials "
                                  "trials, sampled by Optuna); drop -m and put the ranges in a search space"))
    show = "--cfg" in args or "-c" in args
    overrides = [a for a in args if a not in ("--cfg", "-c", "job")]
    raw = compose(overrides)
    if show:
        print(yaml.safe_dump(raw, sort_keys=False))
        return 0
    cfg = from_dict(raw)
    quiet_libraries()
    # Lazy on purpose: the engine pulls torch, transformers and peft (seconds); --help, --cfg and
    # bad config answer without them. This layer is imported by nothing, so no loop is dodged.
    from sweep import engine

    engine.run(cfg)
    return 0


def sweep_help() -> str:
    """`python -m sweep --help`: usage, the config groups with their options, the top-level keys."""
    lines = ["usage: python -m sweep [key=value ...] [--cfg]",
             "  Runs a LoRA hyperparameter sweep (Hydra overrides, version_base 1.3).",
             "  e.g. python -m sweep model=tiny_qwen search_space=quick n_trials=4 study_name=x",
             "  --cfg prints the composed config (every key) and exits.", "", "config groups (group=option):"]
    for group in sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir()):
        lines.append(f"  {group:<12} {', '.join(conf_options(group))}")
    spaces = sorted({p.stem for d in (SEARCH_SPACE_DIR, Path.cwd() / "search_spaces") for p in d.glob("*.yaml")})
    lines.append(f"  {'search_space':<12} {', '.join(spaces)} (or a path to a YAML file)")
    raw = yaml.safe_load((CONF_DIR / "config.yaml").read_text())
    scalars = [k for k, v in raw.items() if k != "defaults" and not isinstance(v, dict)]
    sections = [k for k, v in raw.items() if isinstance(v, dict)]
    lines += ["", "your own data (data.KEY=VALUE; README 'Your own data'):"]
    for line in (CONF_DIR / "data" / "sample_chat.yaml").read_text().splitlines():
        key, sep, rest = line.partition(":")
        if sep and key and not key.startswith("#") and not key.startswith(" "):
            note = rest.partition("#")[2].strip()
            lines.append(f"  data.{key:<19} {note}".rstrip())
    lines += ["", "top-level keys: " + ", ".join(scalars),
              "sections (section.key=value): " + ", ".join(sections),
              "pin a training setting: +fixed.NAME=VALUE (e.g. +fixed.max_steps=20)",
              "", "other commands: python -m sweep.report | sweep.export | sweep.retrain | sweep.compare | sweep.plan"]
    return "\n".join(lines)


main = guarded(run)

if __name__ == "__main__":
    main()
