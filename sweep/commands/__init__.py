"""The command layer: one thin module per command (parse, call the library, exit status).

`python -m sweep` runs `commands.sweep`; `python -m sweep.report | sweep.export | sweep.train |
sweep.compare | sweep.plan` run the `__main__.py` of those packages, which call
`commands.report`, `commands.export`, ... Each `main` is `sweep.console.guarded(run)`: bad
input (`ConfigError`) becomes one line on stderr and exit status 2. Nothing in the library
imports this package (tests/test_architecture.py checks it).
"""
