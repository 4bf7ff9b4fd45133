"""`python -m sweep.plan use_case=NAME [model=PRESET] [examples=N] [gpu_memory_gb=G]`: a recommendation."""

from __future__ import annotations

from sweep import plan
from sweep.console import guarded
from sweep.errors import Problems


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(plan.__doc__)
        print(f"use cases: {', '.join(plan.USE_CASES)}; models: {', '.join(plan.model_presets())}")
        return 0
    problems = Problems()
    print(plan.render(plan.make_plan(plan.parse_args(args, problems), problems)))
    return 0


main = guarded(run)
