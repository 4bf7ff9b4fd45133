"""`python -m sweep.retrain from=<best.yaml> [max_steps=N | num_epochs=X] [backend=...] [out=DIR]`.

The retrain command (layer 1): trains one configuration again, no search, through
`sweep.retraining`. (`python -m sweep.train` still works for one release and says so.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sweep import retraining
from sweep.console import guarded, quiet_libraries
from sweep.errors import ConfigError, OutOfMemoryAtMinimum, Problem, TrialDiverged


def positive(parsed: dict[str, str], key: str, kind: type) -> Any:
    """`parsed[key]` as a number > 0 (None when not given)."""
    if key not in parsed:
        return None
    try:
        value = kind(parsed[key])
    except ValueError:
        raise ConfigError(Problem(key, parsed[key], f"must be a {'whole number' if kind is int else 'number'}")) from None
    if value <= 0:
        raise ConfigError(Problem(key, parsed[key], "must be > 0"))
    return value


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(retraining.__doc__)
        return 0
    parsed = retraining.parse_args(args)
    settings, path = retraining.load_settings(parsed["from"])
    out = Path(parsed["out"]).expanduser() if parsed.get("out") else path.parent / "retrain"
    quiet_libraries()
    try:
        ran = retraining.retrain(settings, out, max_steps=positive(parsed, "max_steps", int),
                              num_epochs=positive(parsed, "num_epochs", float), backend=parsed.get("backend"))
    except (TrialDiverged, OutOfMemoryAtMinimum) as exc:
        print(f"retraining failed: {exc}", file=sys.stderr)
        return 1
    r = ran["retrain"]
    was = f" (the trial: {r['trial_value']:.4f})" if isinstance(r["trial_value"], float) else ""
    print(f"final eval loss {r['final_eval_loss']:.4f}{was} after {r['steps']} steps; "
          f"adapter in {r['adapter']}")
    return 0


main = guarded(run)

if __name__ == "__main__":
    main()
