"""`python -m sweep [key=value ...]`: the sweep command (`sweep.commands.sweep`)."""

from sweep.commands.sweep import main

if __name__ == "__main__":
    main()
