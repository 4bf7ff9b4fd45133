"""`python -m sweep.train from=<best.yaml> ...`: retrain one configuration (`sweep.commands.train`)."""

from sweep.commands.train import main

if __name__ == "__main__":
    main()
