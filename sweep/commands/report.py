"""`python -m sweep.report study_name=NAME [output_dir=DIR | storage=URL]`: rebuild report.html."""

from __future__ import annotations

from sweep import report
from sweep.config import compose, from_dict
from sweep.console import guarded


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(report.__doc__ or "")
        return 0
    cfg = from_dict(compose(args))
    path = report.write_report(cfg, report.load_study(cfg))
    print(f"report: {path}")
    return 0


main = guarded(run)
