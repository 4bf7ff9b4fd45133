"""`python -m sweep.report study_name=NAME [output_dir=DIR | storage=URL]`: rebuild report.html.

The report command (layer 1): rebuilds the page through `sweep.html_report`.
"""

from __future__ import annotations

from sweep import html_report
from sweep.config import compose, from_dict
from sweep.console import guarded


def run(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(html_report.__doc__ or "")
        return 0
    cfg = from_dict(compose(args))
    path = html_report.write_report(cfg, html_report.load_study(cfg))
    print(f"report: {path}")
    return 0


main = guarded(run)

if __name__ == "__main__":
    main()
