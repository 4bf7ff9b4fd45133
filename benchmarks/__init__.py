"""Benchmark: does the sweep engine find good LoRA settings for less compute than the alternatives?

`python -m benchmarks.run --quick` replays every contender over a cached reference table of real
eval-loss curves (benchmarks/data/reference.json); `--full` rebuilds that table with real
training and writes benchmarks/RESULTS.md. See benchmarks/RESULTS.md for the method.
"""
