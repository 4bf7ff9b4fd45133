"""`python -m sweep.compare "models=[a,b]" [sweep overrides ...]`: one budget, several models.

The compare command (layer 1): runs `sweep.comparison` (one sweep per model).
"""

from __future__ import annotations

from sweep import comparison
from sweep.console import guarded


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(comparison.__doc__)
        return 0
    models, overrides = comparison.parse_models(args)
    comparison.run(models, overrides)
    return 0


main = guarded(run)

if __name__ == "__main__":
    main()
