"""`python -m sweep [key=value ...]`: compose the config with Hydra, run the sweep."""

from sweep.cli import main_sweep

if __name__ == "__main__":
    main_sweep()
