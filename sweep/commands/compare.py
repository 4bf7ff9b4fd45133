"""`python -m sweep.compare "models=[a,b]" [sweep overrides ...]`: one budget, several models."""

from __future__ import annotations

from sweep import compare
from sweep.console import guarded


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(compare.__doc__)
        return 0
    models, overrides = compare.parse_models(args)
    compare.run(models, overrides)
    return 0


main = guarded(run)
