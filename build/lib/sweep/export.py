"""`python -m sweep.export study_name=NAME [output_dir=DIR] [storage=URL] [trial=N] [out=PATH]`.

The export command (layer 1): writes a trial as an Axolotl YAML through `sweep.axolotl_export`.
"""

from __future__ import annotations

from pathlib import Path

from sweep import axolotl_export
from sweep.console import guarded
from sweep.errors import ConfigError, Problem

USAGE = ("usage: python -m sweep.export study_name=NAME [output_dir=DIR] [storage=URL] "
         "[trial=N] [out=PATH]\n  writes the best (or trial N's) settings as an Axolotl YAML "
         "(default <output_dir>/<study_name>/axolotl.yaml)")


def split_args(args: list[str]) -> tuple[list[str], int | None, Path | None]:
    """Separate `trial=N` and `out=PATH` (ours) from the Hydra overrides."""
    overrides, trial, out = [], None, None
    for a in args:
        key, _, value = a.partition("=")
        if key == "trial":
            if not value.isdigit():
                raise ConfigError(Problem("trial", value, "give a trial number, e.g. trial=3"))
            trial = int(value)
        elif key == "out":
            if not value:
                raise ConfigError(Problem("out", value, "give a file path, e.g. out=/tmp/axolotl.yaml"))
            out = Path(value).expanduser().resolve()
        else:
            overrides.append(a)
    return overrides, trial, out


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    overrides, number, out = split_args(args)
    cfg, space, st = axolotl_export.study_inputs(overrides)
    trial = axolotl_export.select_trial(cfg, st, number)
    target = out or cfg.study_dir / "axolotl.yaml"
    axolotl_export.export_trial(cfg, space, trial, target)
    print(target)
    return 0


main = guarded(run)

if __name__ == "__main__":
    main()
