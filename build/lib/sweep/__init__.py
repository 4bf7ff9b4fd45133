"""LoRA hyperparameter sweeps: Optuna sampling and pruning, Ray scheduling, W&B tracking, Axolotl export.

The package map (which module owns what, and which may import which) is in README's
"How it works".
"""
