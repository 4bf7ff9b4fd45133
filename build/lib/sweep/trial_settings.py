"""One trial's full training settings, typed: the schema of best.yaml (and of retrain.yaml).

`from_trial(cfg, space, trial)` builds them from a finished trial, with batch sizes as the trial
ran them (after any OOM fallback); `from_plain(raw, where)` types a mapping read from a file,
collecting every problem (an unknown or mistyped key is an error naming it). The Axolotl export
(`sweep.axolotl_export`) and retraining (`sweep.retraining`) read these, never a raw dict, and
`to_plain(settings)` (sweep.typed) is what best.yaml holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sweep.config import DataConfig, ModelConfig, SweepConfig, TrackerConfig
from sweep.errors import ConfigError, Problem, Problems
from sweep.search_space import SearchSpace, TrialParams
from sweep.typed import build


@dataclass(frozen=True)
class LoraSection:
    """The adapter as the trial attached it."""

    r: int
    alpha: float
    dropout: float = 0.0
    target_modules_key: str = "all_linear"  # a key of the model preset's target_modules
    target_modules: tuple[str, ...] = ()  # the module names that key meant for this model
    use_rslora: bool = False
    use_dora: bool = False


@dataclass(frozen=True)
class TrainSection:
    """How the trial trained (sampled and fixed values, and the runtime knobs that matter)."""

    learning_rate: float
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "adamw_torch"
    max_grad_norm: float = 1.0
    effective_batch_size: int = 16
    micro_batch_size: int = 8  # as run, after any OOM fallback
    gradient_accumulation_steps: int = 2  # effective_batch_size / micro_batch_size
    max_steps: int | None = None  # the steps the trial ran (None: from num_epochs)
    num_epochs: float = 1.0
    eval_every: int = 10
    gradient_checkpointing: bool = False
    num_threads: int | None = None
    eval_batch_size: int | None = None
    chat_template: str | None = None
    orpo_lambda: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class TrialSettings:
    """Everything `sweep.retrain` and the Axolotl exporter need to train a trial again."""

    model: ModelConfig
    data: DataConfig
    lora: LoraSection
    train: TrainSection
    study_name: str = "sweep"
    trial: int | None = None
    value: float | None = None
    state: str = "COMPLETE"  # the trial's state; RETRAINED in retrain.yaml
    objective: str = "sft"
    backend: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the trial's sampled values, as Optuna has them
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    retrain: dict[str, Any] | None = None  # retrain.yaml only: what the retraining run measured


def from_trial(cfg: SweepConfig, space: SearchSpace, trial: Any) -> TrialSettings:
    """The settings of one finished trial (`optuna.trial.FrozenTrial`)."""
    p: TrialParams = space.from_values(trial.params)
    a = trial.user_attrs
    micro = a.get("micro_batch_size", p.effective_batch_size)
    lora = LoraSection(r=p.lora_r, alpha=p.alpha, dropout=p.lora_dropout, target_modules_key=p.target_modules,
                       target_modules=tuple(cfg.model.target_modules.get(p.target_modules, ())),
                       use_rslora=p.use_rslora, use_dora=p.use_dora)
    train = TrainSection(
        learning_rate=p.learning_rate, lr_scheduler=p.lr_scheduler, warmup_ratio=p.warmup_ratio,
        weight_decay=p.weight_decay, optimizer=p.optimizer, max_grad_norm=p.max_grad_norm,
        effective_batch_size=p.effective_batch_size, micro_batch_size=micro,
        gradient_accumulation_steps=a.get("gradient_accumulation_steps", p.effective_batch_size // micro),
        max_steps=a.get("total_steps", p.max_steps), num_epochs=p.num_epochs, eval_every=cfg.train.eval_every,
        gradient_checkpointing=cfg.train.gradient_checkpointing, num_threads=cfg.train.num_threads,
        eval_batch_size=cfg.train.eval_batch_size, chat_template=p.chat_template or cfg.data.chat_template,
        orpo_lambda=p.orpo_lambda if cfg.objective == "orpo" else None, seed=cfg.seed)
    return TrialSettings(model=cfg.model, data=cfg.data, lora=lora, train=train, study_name=cfg.study_name,
                         trial=trial.number, value=trial.value, state=trial.state.name, objective=cfg.objective,
                         backend=a.get("backend"), params=dict(trial.params), tracker=cfg.tracker)


def from_plain(raw: Any, where: str) -> TrialSettings:
    """Typed settings from a mapping (a best.yaml's content); every problem named with `where`."""
    problems = Problems()
    settings = build(TrialSettings, raw, "", problems)
    if problems.items or settings is None:
        found = "; ".join(f"{p.key}={p.value!r}: {p.fix}" for p in problems.items) or "not a mapping"
        raise ConfigError(Problem("from", where, f"not a best.yaml ({found}); see sweep.trial_settings"))
    return settings


__all__ = ["LoraSection", "TrainSection", "TrialSettings", "from_plain", "from_trial"]
