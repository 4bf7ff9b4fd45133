"""`python -m sweep.compare ...`: the compare command (`sweep.commands.compare`)."""

from sweep.commands.compare import main

if __name__ == "__main__":
    main()
