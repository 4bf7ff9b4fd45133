"""Retrain one configuration with this project's trainer, no search (and the finalists with more seeds).

    python -m sweep.retrain from=<study folder>/best.yaml [max_steps=N | num_epochs=X]
                          [backend=peft] [out=DIR]

Reads a settings file in the schema of `sweep.trial_settings` (best.yaml), rebuilds the
`SweepConfig` (model, data and train sections) and the `TrialParams` from it, and runs
`sweep.trial.run_trial` once with a reporter that never prunes. Typical use: train the winner
for its full budget (`max_steps=` / `num_epochs=`) after a sweep of short trials.

Output in DIR (default `<study folder>/retrain/`):
    adapter/       the LoRA adapter (PEFT format) + tokenizer with the chat template it used
    retrain.yaml   the settings as run (best.yaml schema, so it can be retrained or compared
                   again) plus a `retrain` section: final/best eval loss, eval history, timings

With the same settings and steps, retraining reproduces the trial: same seed, same model
initialisation, same example order, same micro batch (the one the trial ended with).

`train_finalists` (called by the engine after the last trial, `finalists.seeds` > 0) trains the
finalists tied within noise again with other training seeds and records their final eval losses
on the study (sweep.finalists).
"""

from __future__ import annotations

import dataclasses
import sys
import time
import typing
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from sweep import backends, data, finalists, results, trial_settings
from sweep.config import SweepConfig, from_dict
from sweep.errors import ConfigError, Problem, Problems
from sweep.search_space import SearchSpace, TrialParams, check_param_value
from sweep.training import NullReporter
from sweep.trial import run_trial
from sweep.trial_settings import TrialSettings
from sweep.typed import coerce, to_plain

ARGS = ("from", "max_steps", "num_epochs", "backend", "out")


class RetrainReporter:
    """The reporter `run_trial` talks to: records attributes, prints evals, never prunes."""

    def __init__(self, echo: bool = True):
        self.echo = echo
        self.attrs: dict[str, Any] = {}
        self.evals: list[tuple[int, float]] = []

    def report(self, step: int, value: float) -> None:
        self.evals.append((step, value))

    def should_prune(self) -> bool:
        return False

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self.attrs.update(attrs)

    def progress(self, info: dict[str, Any]) -> None:
        if self.echo:
            print(f"step {info['step']}/{info['total_steps']} eval_loss={info['eval_loss']:.4f} "
                  f"train_loss={info['train_loss']:.4f} micro_batch={info['micro_batch_size']}", flush=True)


def load_settings(path: str | Path) -> tuple[TrialSettings, Path]:
    """Read a best.yaml (or a study folder holding one); returns (typed settings, file path)."""
    import yaml

    p = Path(path).expanduser().resolve()
    if p.is_dir():
        p = p / "best.yaml"
    if not p.is_file():
        raise ConfigError(Problem("from", str(path), "no such file; give <study folder>/best.yaml "
                                  "(written after the first completed trial)"))
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(Problem("from", str(p), f"not valid YAML ({exc})")) from None
    missing = [k for k in ("model", "data", "lora", "train") if not isinstance((raw or {}).get(k), dict)]
    if missing:
        raise ConfigError(Problem("from", str(p), f"not a best.yaml: section(s) {', '.join(missing)} "
                                  "missing (see sweep.trial_settings)"))
    return trial_settings.from_plain(raw, str(p)), p


def config_from_settings(settings: TrialSettings, out: Path, backend: str | None = None) -> SweepConfig:
    """The `SweepConfig` of one retraining run: the trial's model, data and train sections."""
    train = settings.train
    raw = {
        "study_name": settings.study_name or "retrain",
        "n_trials": 1,
        "output_dir": str(out),
        "seed": train.seed,
        "storage": None,
        "search_space": "retrain",
        "model": to_plain(settings.model),
        "data": to_plain(settings.data),
        "sampler": {},
        "pruner": {"name": "none"},
        "executor": {"name": "inline"},
        "tracker": {"name": "none"},
        "backend": {"name": backend or settings.backend or "auto"},
        # the micro batch the trial ended with: no OOM fallback to repeat
        "train": {key: getattr(train, key) for key in ("micro_batch_size", "eval_every", "gradient_checkpointing",
                                                       "num_threads", "eval_batch_size")
                  if getattr(train, key) is not None},
        "eval": {"behaviour": False},
        "objective": settings.objective,
    }
    return from_dict(raw)


def params_from_settings(settings: TrialSettings, targets: typing.Iterable[str] = (), *,
                         max_steps: int | None = None, num_epochs: float | None = None) -> TrialParams:
    """The trial's `TrialParams` from the lora/train sections (they hold sampled and fixed values)."""
    lora, train = settings.lora, settings.train
    values: dict[str, Any] = {
        "learning_rate": train.learning_rate, "lora_r": lora.r,
        "lora_alpha": lora.alpha, "lora_dropout": lora.dropout,
        "target_modules": lora.target_modules_key, "use_rslora": lora.use_rslora,
        "use_dora": lora.use_dora, "effective_batch_size": train.effective_batch_size,
        "weight_decay": train.weight_decay, "warmup_ratio": train.warmup_ratio,
        "lr_scheduler": train.lr_scheduler, "optimizer": train.optimizer,
        "max_grad_norm": train.max_grad_norm, "max_steps": train.max_steps,
        "num_epochs": train.num_epochs, "chat_template": train.chat_template,
        "orpo_lambda": train.orpo_lambda,
    }
    if max_steps is not None:
        values["max_steps"] = max_steps
    if num_epochs is not None:  # length in epochs: the step count follows from the data
        values["max_steps"], values["num_epochs"] = None, num_epochs
    values = {k: v for k, v in values.items() if v is not None or k == "max_steps"}
    hints = typing.get_type_hints(TrialParams)
    problems = Problems()
    for name, value in values.items():
        key = f"{'lora' if name.startswith(('lora_', 'use_', 'target')) else 'train'}.{name}"
        values[name] = coerce(hints[name], value, key, problems)
        check_param_value(name, values[name], key, problems, targets)
    problems.raise_if_any()
    return TrialParams(**values)


def retrain(settings: TrialSettings, out: Path, *, max_steps: int | None = None,
            num_epochs: float | None = None, backend: str | None = None,
            echo: bool = True) -> dict[str, Any]:
    """Train the configuration once; write out/adapter and out/retrain.yaml.

    Args:
        settings: a trial's settings (best.yaml, `sweep.trial_settings`).
        out: output folder (created).
        max_steps: optimizer steps instead of the trial's.
        num_epochs: train for this many epochs instead (exclusive with max_steps).
        backend: auto | peft | unsloth instead of the backend the trial used.
        echo: print one line per evaluation.

    Returns:
        The settings as run, with a `retrain` section holding the result.

    Raises:
        ConfigError: the settings are invalid or cannot run here (e.g. unsloth without CUDA).
    """
    import yaml

    if max_steps is not None and num_epochs is not None:
        raise ConfigError(Problem("max_steps", max_steps, "give max_steps or num_epochs, not both"))
    out = Path(out).expanduser().resolve()
    cfg = config_from_settings(settings, out, backend)
    params = params_from_settings(settings, cfg.model.target_modules.keys(),
                                  max_steps=max_steps, num_epochs=num_epochs)
    reporter = RetrainReporter(echo)
    if echo:  # the same seeded eval rows as the sweep's trials (sweep.data.load_splits)
        train_rows, eval_rows = data.load_splits(cfg.data, cfg.seed)
        print(f"{len(train_rows)} rows to train on; {data.describe_eval(cfg.data, cfg.seed, len(eval_rows))}",
              flush=True)
    backends.check_model_runs_here(cfg.model)  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    result = run_trial(cfg, params, reporter, workdir=out)
    ran = to_plain(dataclasses.replace(
        settings, value=result["value"], state="RETRAINED", backend=reporter.attrs.get("backend"),
        model=cfg.model, data=cfg.data,
        train=dataclasses.replace(settings.train, max_steps=result["steps"], num_epochs=params.num_epochs,
                                  micro_batch_size=result["micro_batch_size"],
                                  gradient_accumulation_steps=result["gradient_accumulation_steps"])))
    ran["retrain"] = {
        "from_trial": settings.trial, "trial_value": settings.value,
        "final_eval_loss": result["value"], "best_eval_loss": result["best_eval_loss"],
        "steps": result["steps"], "eval_history": [list(e) for e in result["eval_history"]],
        "oom_fallbacks": result["oom_fallbacks"], "wall_time_s": result["wall_time_s"],
        "tokens_per_s": result["tokens_per_s"], "adapter": str(out / "adapter"),
    }
    results.atomic_write(out / "retrain.yaml", yaml.safe_dump(ran, sort_keys=False))
    return ran


def parse_args(args: list[str]) -> dict[str, str]:
    """key=value arguments, each known and given once."""
    problems = Problems()
    parsed: dict[str, str] = {}
    for a in args:
        key, eq, value = a.partition("=")
        if not eq or key not in ARGS:
            problems.add(key if eq else "argument", value if eq else a,
                         f"unknown argument; use {' '.join(f'{k}=...' for k in ARGS)}")
        elif key in parsed:
            problems.add(key, value, "given twice")
        else:
            parsed[key] = value
    if "from" not in parsed and not problems.items:
        problems.add("from", None, "say which settings to retrain: from=<study folder>/best.yaml")
    problems.raise_if_any()
    return parsed


def train_finalists(cfg: SweepConfig, space: SearchSpace, study: Any) -> list[int]:
    """`finalists.seeds` > 0: train the finalists tied within noise again with more training seeds
    (only the reruns not recorded yet: a resumed sweep trains what is missing) and record each
    final eval loss on the study (sweep.finalists). Returns the finalists' numbers."""
    chosen, todo = finalists.todo(cfg, study)
    running = todo and [t.number for t in study.get_trials(deepcopy=False,
                                                            states=(TrialState.RUNNING, TrialState.WAITING))]
    if running:  # another process's trials may still change who the finalists are
        print(f"finalists: not trained yet, trials {running} are still running (the last sweep to finish, or a "
              "resume, trains them)", file=sys.stderr)
        return [t.number for t in chosen]
    if todo:
        seeds = sorted({s for _, s in todo})
        print(f"finalists: trials {', '.join(str(t.number) for t in chosen)} (the best and those within "
              f"{cfg.finalists.z:g} paired standard errors of it), {len(todo)} more training runs "
              f"(seeds {', '.join(map(str, seeds))})", file=sys.stderr)
    for trial, seed in todo:
        finalists.record(cfg, study, trial.number, seed, _finalist_loss(cfg, space, trial, seed))
    return [t.number for t in chosen]


def _finalist_loss(cfg: SweepConfig, space: SearchSpace, trial: Any, seed: int) -> float | None:
    """One rerun's final eval loss; None (and a line on stderr) when it fails."""
    # one eval, at the end, and no cooldown branches: the final loss is all a rerun is for
    quiet = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, cooldown_steps=0,
                                                               cooldown_eval_prefix=False, eval_every=10**9))
    t0 = time.perf_counter()
    try:
        value = float(run_trial(quiet, space.from_values(trial.params), NullReporter(), train_seed=seed)["value"])
    except Exception as exc:  # noqa: BLE001 - a rerun that fails (diverged, out of memory) is recorded, not fatal
        print(f"finalists: trial {trial.number} with seed {seed} failed: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None
    print(f"finalists: trial {trial.number} seed {seed}: eval loss {value:.4f} ({time.perf_counter() - t0:.0f} s)",
          file=sys.stderr)
    return value
