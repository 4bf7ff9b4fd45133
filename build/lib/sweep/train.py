"""`python -m sweep.train ...`: the old name of `python -m sweep.retrain` (kept for one release).

It prints the new name on stderr and runs the retrain command with the same arguments; the
training loop itself is `sweep.training`.
"""

from __future__ import annotations

import sys

from sweep.retrain import main as retrain_main

RENAMED = ("`python -m sweep.train` is now `python -m sweep.retrain` (same arguments); "
           "this alias will be removed in the next release")


def main() -> None:
    print(RENAMED, file=sys.stderr)
    retrain_main()


if __name__ == "__main__":
    main()
