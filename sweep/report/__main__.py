"""`python -m sweep.report ...`: the report command (`sweep.commands.report`)."""

from sweep.commands.report import main

if __name__ == "__main__":
    main()
