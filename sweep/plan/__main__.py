"""`python -m sweep.plan ...`: the plan command (`sweep.commands.plan`)."""

from sweep.commands.plan import main

if __name__ == "__main__":
    main()
