"""`python -m sweep.plan use_case=NAME [model=PRESET] [examples=N] [gpu_memory_gb=G]`: a recommendation.

The plan command (layer 1): parses the arguments, calls `sweep.planning`, prints the plan.
"""

from __future__ import annotations

from sweep import planning
from sweep.console import guarded
from sweep.errors import Problems


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(planning.__doc__)
        print(f"use cases: {', '.join(planning.USE_CASES)}; models: {', '.join(planning.model_presets())}")
        return 0
    problems = Problems()
    print(planning.render(planning.make_plan(planning.parse_args(args, problems), problems)))
    return 0


main = guarded(run)

if __name__ == "__main__":
    main()
