"""Trackers of trial runs: where each trial's run is logged, chosen by `tracker=none|wandb|recording`.

- `none`: nothing (the study itself records everything that matters).
- `wandb`: one W&B run per trial, grouped by study name (`group`), `job_type="trial"`, named
  `trial-N`. Its config holds every sampled and derived setting, its history the eval losses
  the pruner saw, its summary how the trial ended (W&B set-up: `sweep.wandb_setup`).
- `recording`: appends every call as one JSON line to `$SWEEP_RECORD_TRACKER` (default
  `<study folder>/tracker.jsonl`): what tests and debugging read.

A trial run is created in the trial's own process (inline or a Ray worker), so everything it
needs comes from the config; nothing is inherited from the driver. Tracking never fails a
trial: once a run is open, its errors become one warning. No secret goes into a run config
(`sweep.redaction`). The per-study records after the sweep (summary table, behaviour runs)
are `sweep.study_tracking`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from sweep import search_space
from sweep.config import SweepConfig
from sweep.errors import ConfigError
from sweep.redaction import scrub
from sweep.wandb_setup import import_wandb, init_wandb_run, resolve_mode

RECORD_ENV = "SWEEP_RECORD_TRACKER"

# What a trial's summary takes from the outcome the executor hands over (besides state/reason).
SUMMARY_KEYS = ("final_eval_loss", "best_eval_loss", "last_eval_loss", "last_step", "steps",
                "tokens_per_s", "peak_memory_mb", "train_time_s", "eval_time_s", "wall_time_s",
                "micro_batch_size", "gradient_accumulation_steps", "oom_fallbacks")


def check(cfg: SweepConfig) -> None:
    """Before the sweep: fail fast (ConfigError) when the chosen tracker cannot work."""
    if cfg.tracker.name == "wandb" and resolve_mode(cfg.tracker) != "disabled":
        import_wandb()


# --------------------------------------------------------------------------- what a run holds


def trial_config(cfg: SweepConfig, number: int, params: dict[str, Any]) -> dict[str, Any]:
    """Every sampled and derived setting of a trial, flat and scalar (W&B's columns).

    Settings pinned by the search space are included too (they come from the space file,
    re-read here so that a Ray worker needs nothing but the config).
    """
    m = cfg.model
    out: dict[str, Any] = {
        "study_name": cfg.study_name, "trial": number, "model": m.name,
        "model_id": m.path or m.hub_id or (f"tiny-{m.tiny.architecture}" if m.tiny else None),
        "objective": cfg.objective, "data": Path(cfg.data.path).name, "data_format": cfg.data.format,
        "max_seq_len": cfg.data.max_seq_len, "search_space": Path(cfg.search_space).stem,
        "backend": cfg.backend.name, "executor": cfg.executor.name, "seed": cfg.seed,
        "eval_every": cfg.train.eval_every,
    }
    out.update(params)
    full = _full_params(cfg, params)
    if full is not None:
        p, values = full
        out.update(values)
        targets = cfg.model.target_modules.get(p.target_modules, ())
        out.update({
            "lora_alpha": p.alpha, "alpha_over_r": p.alpha / p.lora_r,
            "target_module_names": ",".join(targets),
            "chat_template": p.chat_template or cfg.data.chat_template,
        })
        if cfg.objective != "orpo":
            out.pop("orpo_lambda", None)
    return scrub({k: scalar(v) for k, v in out.items()})


def _full_params(cfg: SweepConfig, params: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    try:
        space = search_space.load_for_config(cfg)
        p = space.from_values({k: v for k, v in params.items() if k in search_space.PARAM_NAMES})
    except Exception:  # noqa: BLE001 - the sampled values alone are still worth logging
        return None
    return p, dataclasses.asdict(p)


def scalar(v: Any) -> Any:
    """W&B columns want scalars: lists become comma-joined strings, mappings JSON."""
    if isinstance(v, list | tuple):
        return ",".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, default=str)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def trial_summary(state: str, summary: dict[str, Any], history: list[tuple[int, float]]) -> dict[str, Any]:
    """How a trial ended: state and reason, final/best eval loss, steps, speed, memory."""
    reason = summary.get("reason")
    losses = [v for _, v in history if math.isfinite(v)]
    out: dict[str, Any] = {
        "state": state,
        "reason": reason or "",
        "final_eval_loss": summary.get("value") if state == "COMPLETE" else None,
        "best_eval_loss": summary.get("best_eval_loss", min(losses) if losses else None),
        "last_eval_loss": history[-1][1] if history else None,
        "last_step": history[-1][0] if history else None,
        "steps": summary.get("steps", history[-1][0] if history else 0),
    }
    for key in SUMMARY_KEYS:
        if key not in out and key in summary:
            out[key] = summary[key]
    if isinstance(out.get("oom_fallbacks"), list):
        out["oom_fallbacks"] = len(out["oom_fallbacks"])
    return scrub({k: scalar(v) for k, v in out.items()})


def metrics_of(info: dict[str, Any]) -> dict[str, float]:
    """The numeric metrics of one progress report (eval loss, train loss, micro batch)."""
    skip = ("step",)
    return {k: v for k, v in info.items()
            if k not in skip and isinstance(v, int | float) and not isinstance(v, bool)}


# --------------------------------------------------------------------------- trial runs


class NullTrialTracker:
    """tracker=none: the study records everything; nothing else to do."""

    def log_config(self, values: dict[str, Any]) -> None:
        pass

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        pass

    def finish(self, state: str, summary: dict[str, Any]) -> None:
        pass


class TrialRun:
    """A trial's run: builds what is logged; subclasses say where it goes.

    Every public method swallows its own errors (one warning per run): a tracker outage must
    never cost a trial.
    """

    def __init__(self, cfg: SweepConfig, number: int, config: dict[str, Any]):
        self.cfg = cfg
        self.number = number
        self.history: list[tuple[int, float]] = []
        self.config = trial_config(cfg, number, config)
        self._warned = False
        self._finished = False

    def log_config(self, values: dict[str, Any]) -> None:
        self._safe(self._config, scrub({k: scalar(v) for k, v in values.items()}))

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        value = metrics.get("eval_loss")
        if isinstance(value, int | float):
            self.history.append((int(step), float(value)))
        self._safe(self._log, int(step), metrics_of(metrics))

    def finish(self, state: str, summary: dict[str, Any]) -> None:
        if self._finished:
            return
        self._finished = True
        self._safe(self._finish, state, trial_summary(state, summary, self.history))

    def _safe(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - tracking never fails a trial
            if not self._warned:
                self._warned = True
                print(f"warning: tracker ({self.cfg.tracker.name}) failed for trial {self.number}: "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr)

    # where things go
    def _config(self, values: dict[str, Any]) -> None: ...

    def _log(self, step: int, metrics: dict[str, float]) -> None: ...

    def _finish(self, state: str, summary: dict[str, Any]) -> None: ...


def record_path(cfg: SweepConfig) -> Path:
    return Path(os.environ.get(RECORD_ENV) or cfg.study_dir / "tracker.jsonl")


def append_record(path: Path, record: dict[str, Any]) -> None:
    """One JSON line per call; O_APPEND keeps lines from parallel trial processes whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


class RecordingTracker(TrialRun):
    """tracker=recording: every call as a JSON line (`event`: start/config/log/finish)."""

    def __init__(self, cfg: SweepConfig, number: int, config: dict[str, Any]):
        super().__init__(cfg, number, config)
        self.path = record_path(cfg)
        self._write("start", config=self.config, group=cfg.study_name, job_type="trial",
                    name=f"trial-{number}")

    def _write(self, event: str, **fields: Any) -> None:
        append_record(self.path, {"event": event, "trial": self.number, "pid": os.getpid(),
                            "node": socket.gethostname(), "time": time.time(), **fields})

    def _config(self, values: dict[str, Any]) -> None:
        self._write("config", config=values)

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        self._write("log", step=step, metrics=metrics)

    def _finish(self, state: str, summary: dict[str, Any]) -> None:
        self._write("finish", state=state, summary=summary)


class WandbTrialRun(TrialRun):
    """tracker=wandb: one W&B run per trial, opened in the trial's own process."""

    def __init__(self, cfg: SweepConfig, number: int, config: dict[str, Any]):
        super().__init__(cfg, number, config)
        wandb = import_wandb()
        self.run = init_wandb_run(cfg, wandb, job_type="trial", name=f"trial-{number}",
                                  config=self.config)

    def _config(self, values: dict[str, Any]) -> None:
        # the micro batch actually used changes after an OOM fallback
        self.run.config.update(values, allow_val_change=True)

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        # W&B's step is the optimizer step, so curves of different trials line up
        self.run.log(metrics, step=step)

    def _finish(self, state: str, summary: dict[str, Any]) -> None:
        try:
            self.run.summary.update(summary)
        finally:
            self.run.finish(exit_code=0 if state != "FAIL" else 1)
            if _in_ray_worker():
                # Ray ends its worker processes without a clean shutdown of W&B's service
                # process, whose exit hook then prints a traceback per trial: stop it now.
                import_wandb().teardown()


def _in_ray_worker() -> bool:
    ray = sys.modules.get("ray")  # only a process that already runs Ray can be a worker
    if ray is None:
        return False
    try:
        return bool(ray.is_initialized()) and ray.get_runtime_context().worker.mode == ray.WORKER_MODE
    except Exception:  # noqa: BLE001 - private-ish attribute; assume not a worker
        return False


def start_trial(cfg: SweepConfig, number: int, config: dict[str, Any]) -> TrialRun | NullTrialTracker:
    """Open the tracker run of one trial, in the trial's own process.

    Args:
        cfg: The sweep config (the only input: this may run in a Ray worker).
        number: The Optuna trial number (the run's name).
        config: The trial's sampled values.

    Returns:
        A run with `log_config(values)`, `log(step, metrics)` and `finish(state, summary)`.

    Raises:
        ConfigError: `tracker=wandb` without wandb installed.
    """
    name = cfg.tracker.name
    if name == "recording":
        return RecordingTracker(cfg, number, config)
    if name == "wandb" and resolve_mode(cfg.tracker) != "disabled":
        import_wandb()
        try:
            return WandbTrialRun(cfg, number, config)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - no W&B run is no reason to lose the trial
            print(f"warning: W&B run for trial {number} not created ({type(exc).__name__}: {exc}); "
                  "the trial runs untracked", file=sys.stderr)
    return NullTrialTracker()
