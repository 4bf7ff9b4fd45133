"""`python -m sweep.export ...`: the export command (`sweep.commands.export`)."""

from sweep.commands.export import main

if __name__ == "__main__":
    main()
