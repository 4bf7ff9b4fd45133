"""Trackers: where each trial's run is logged, chosen by `tracker=none|wandb|recording`.

- `none`: nothing (the study itself records everything that matters).
- `wandb`: one W&B run per trial, grouped by study name (`group`), `job_type="trial"`, named
  `trial-N`. Its config holds every sampled and derived setting, its history the eval losses
  the pruner saw, its summary how the trial ended. After the sweep one `job_type="summary"`
  run per study logs a table of all trials (with the behaviour metrics of the evaluated ones),
  so W&B's parallel-coordinates panel shows settings against eval loss with no hand work, and
  each behaviour-evaluated model gets a `job_type="behaviour"` run (metrics + generations). Offline unless an API key is configured
  (`tracker.mode=auto`); runs land in `<study folder>/wandb` unless `WANDB_DIR` is set.
- `recording`: appends every call as one JSON line to `$SWEEP_RECORD_TRACKER` (default
  `<study folder>/tracker.jsonl`): what tests and debugging read.

A trial run is created in the trial's own process (inline or a Ray worker), so everything it
needs comes from the config; nothing is inherited from the driver. Tracking never fails a
trial: once a run is open, its errors become one warning. No secret (API keys, tokens,
passwords, or any value of an environment variable named like one) goes into a run config.
"""

from __future__ import annotations

import json
import math
import netrc
import os
import re
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sweep.config import SweepConfig, TrackerConfig, redact_url
from sweep.errors import ConfigError, Problem

WANDB_INSTALL_HINT = "pip install 'wandb>=0.19' (or choose tracker=none)"
RECORD_ENV = "SWEEP_RECORD_TRACKER"
WANDB_DIR_ENVS = ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")

# Environment variables whose values must never reach a run (names like *TOKEN*, *KEY*, ...).
SECRET_ENV_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# Config keys that name a secret. Word-bounded so `tokens_per_s` or `target_modules` survive.
SECRET_KEY_NAME = re.compile(
    r"(^|[_.-])(api[_-]?key|access[_-]?key|private[_-]?key|token|secret|password|passwd|"
    r"credentials?)($|[_.-])", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
REDACTED = "***"

# What a trial's summary takes from the outcome the executor hands over (besides state/reason).
SUMMARY_KEYS = ("final_eval_loss", "best_eval_loss", "last_eval_loss", "last_step", "steps",
                "tokens_per_s", "peak_memory_mb", "train_time_s", "eval_time_s", "wall_time_s",
                "micro_batch_size", "gradient_accumulation_steps", "oom_fallbacks")


# --------------------------------------------------------------------------- secrets


def secret_values(env: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables named like secrets (long enough to be one)."""
    env = os.environ if env is None else env
    return sorted({v for k, v in env.items() if SECRET_ENV_NAME.search(k) and len(v) >= 6},
                  key=len, reverse=True)


def scrub(values: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of `values` fit for a run config: no secret keys, no secret values.

    Keys named like a secret are dropped; strings containing the value of a secret-named
    environment variable, or a password inside a URL, are redacted.
    """
    secrets = secret_values(env)

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            v = _URL_PASSWORD.sub(rf"\1{REDACTED}@", v)
            for s in secrets:
                v = v.replace(s, REDACTED)
            return v
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items() if not SECRET_KEY_NAME.search(str(k))}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return clean(dict(values))


# --------------------------------------------------------------------------- W&B setup


def api_key_configured(env: dict[str, str] | None = None) -> bool:
    """True when W&B has an API key: `WANDB_API_KEY`, or a netrc entry for the W&B host."""
    env = os.environ if env is None else env
    if env.get("WANDB_API_KEY"):
        return True
    host = urlsplit(env.get("WANDB_BASE_URL") or "https://api.wandb.ai").netloc
    if env.get("NETRC"):
        paths = [Path(env["NETRC"]).expanduser()]
    else:
        paths = [Path("~/.netrc").expanduser(), Path("~/_netrc").expanduser()]
    for path in paths:
        if not path.is_file():
            continue
        try:
            creds = netrc.netrc(str(path)).authenticators(host)
        except (OSError, netrc.NetrcParseError):
            return False  # W&B itself would warn and run without a key
        return bool(creds and creds[2])
    return False


def resolve_mode(tracker: TrackerConfig, env: dict[str, str] | None = None) -> str:
    """The W&B mode a run uses: `online`, `offline` or `disabled`.

    `auto` honours an explicit `WANDB_MODE`; otherwise it goes online only when an API key is
    configured, so a sweep never stops to ask for a login or fails without network.
    """
    env = os.environ if env is None else env
    if tracker.mode != "auto":
        return tracker.mode
    wanted = env.get("WANDB_MODE", "").strip().lower()
    if wanted in ("offline", "dryrun"):
        return "offline"
    if wanted == "disabled":
        return "disabled"
    if wanted in ("online", "run"):
        return "online"
    return "online" if api_key_configured(env) else "offline"


def wandb_dir(cfg: SweepConfig) -> Path:
    """Where W&B writes: `$WANDB_DIR` if the user set it, else `<study folder>/wandb`."""
    user = os.environ.get("WANDB_DIR")
    if user:
        return Path(user).expanduser()
    return cfg.study_dir / "wandb"


def offline_runs(cfg: SweepConfig) -> list[Path]:
    """The study's offline W&B run folders (what `wandb sync` uploads)."""
    root = wandb_dir(cfg) / "wandb"
    return sorted(root.glob("offline-run-*")) if root.is_dir() else []


# Which WANDB_*_DIR values this module chose. Kept in the environment (not a global) because
# the Ray executor forwards SWEEP_* and WANDB_* variables to its workers: a worker must tell
# our choice for an earlier study (to be moved) from the user's own setting (to be kept).
AUTO_DIRS_ENV = "SWEEP_WANDB_AUTO_DIRS"


def _auto_dirs() -> dict[str, str]:
    try:
        value = json.loads(os.environ.get(AUTO_DIRS_ENV) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _wandb_environment(cfg: SweepConfig) -> Path:
    """Point W&B's config, cache and data folders into the study's W&B folder.

    Keeps $HOME clean. Variables the user set are left alone; ones this module set for an
    earlier study in the same process are moved to the current one.
    """
    root = wandb_dir(cfg)
    auto = _auto_dirs()
    for name in WANDB_DIR_ENVS:
        current = os.environ.get(name)
        if current is None or auto.get(name) == current:
            value = str(root / name[len("WANDB_"):-len("_DIR")].lower())
            os.environ[name] = auto[name] = value
    os.environ[AUTO_DIRS_ENV] = json.dumps(auto)
    root.mkdir(parents=True, exist_ok=True)
    return root


def import_wandb() -> Any:
    try:
        import wandb
    except ImportError:
        raise ConfigError(Problem("tracker", "wandb", f"wandb is not installed: {WANDB_INSTALL_HINT}")) from None
    return wandb


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
    return scrub({k: _scalar(v) for k, v in out.items()})


def _full_params(cfg: SweepConfig, params: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    import dataclasses

    from sweep import search_space

    try:
        space = search_space.load(cfg.search_space, cli_fixed=cfg.fixed,
                                  targets=cfg.model.target_modules.keys())
        p = space.from_values({k: v for k, v in params.items() if k in search_space.PARAM_NAMES})
    except Exception:  # noqa: BLE001 - the sampled values alone are still worth logging
        return None
    return p, dataclasses.asdict(p)


def _scalar(v: Any) -> Any:
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
    return scrub({k: _scalar(v) for k, v in out.items()})


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
        self._safe(self._config, scrub({k: _scalar(v) for k, v in values.items()}))

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


def _append(path: Path, record: dict[str, Any]) -> None:
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
        _append(self.path, {"event": event, "trial": self.number, "pid": os.getpid(),
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


def init_wandb_run(cfg: SweepConfig, wandb: Any, *, job_type: str, name: str,
                   config: dict[str, Any]) -> Any:
    """A new W&B run of this study (never reuses or finishes a run the user has open)."""
    root = _wandb_environment(cfg)
    t = cfg.tracker
    return wandb.init(
        project=t.project, entity=t.entity, group=cfg.study_name, job_type=job_type, name=name,
        config=config, dir=str(root), mode=resolve_mode(t), reinit="create_new",
        settings=wandb.Settings(silent=True, console="off", save_code=False))


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


# --------------------------------------------------------------------------- per study

TABLE_ATTRS = ("lora_alpha_value", "alpha_over_r", "micro_batch_size", "gradient_accumulation_steps",
               "chat_template", "backend", "best_eval_loss", "steps", "tokens_per_s", "peak_memory_mb",
               "wall_time_s")


def study_table(study: Any) -> tuple[list[str], list[list[Any]]]:
    """All trials as (columns, rows): settings against eval loss, plus how each ended.

    Trials whose adapters were evaluated after the sweep carry `behaviour_*` columns (stop
    rate, accuracy, hallucination and privacy rates), so parallel coordinates show them too.
    """
    from optuna.trial import TrialState

    from sweep.scoring import ATTR_PREFIX, METRICS

    trials = study.get_trials(deepcopy=False)
    params = sorted({k for t in trials for k in t.params})
    attrs = [a for a in (*TABLE_ATTRS, *(ATTR_PREFIX + m for m in METRICS))
             if any(a in t.user_attrs for t in trials)]
    columns = ["trial", "state", "eval_loss", *params, *attrs, "last_step", "last_eval_loss", "reason"]
    rows = []
    for t in trials:
        iv = t.intermediate_values
        last = max(iv) if iv else None
        reason = t.user_attrs.get("fail_reason") or t.user_attrs.get("prune_reason") or ""
        rows.append([t.number, t.state.name, t.value if t.state == TrialState.COMPLETE else None,
                     *[_scalar(t.params.get(p)) for p in params],
                     *[_scalar(t.user_attrs.get(a)) for a in attrs],
                     last, iv[last] if last is not None else None, reason])
    return columns, rows


def finish_study(cfg: SweepConfig, space: Any, study: Any) -> None:
    """After the sweep, in the driver: one summary record/run with a table of all trials."""
    name = cfg.tracker.name
    if name == "none":
        return
    columns, rows = study_table(study)
    from sweep.results import best_trial
    from sweep.study import counts

    best = best_trial(study)
    c = counts(study)  # interrupted (retried) and surplus trials are rows of the table, not counted
    summary = {"best_trial": best.number if best else None, "best_eval_loss": best.value if best else None,
               "n_trials": len(rows), **{f"n_{s.lower()}": c[s] for s in ("COMPLETE", "PRUNED", "FAIL")}}
    if best is not None:
        summary.update({f"best/{k}": _scalar(v) for k, v in best.params.items()})
    config = scrub({"study_name": cfg.study_name, "model": cfg.model.name, "objective": cfg.objective,
                    "search_space": json.dumps(space.to_dict(), default=str) if space is not None else None,
                    "sampler": cfg.sampler.name, "pruner": cfg.pruner.name, "n_trials": cfg.n_trials,
                    "storage": redact_url(cfg.storage_url())})
    try:
        if name == "recording":
            _append(record_path(cfg), {"event": "study", "study_name": cfg.study_name, "job_type": "summary",
                                       "config": config, "columns": columns, "rows": rows, "summary": summary})
        elif name == "wandb" and resolve_mode(cfg.tracker) != "disabled":
            _table_run(cfg, import_wandb(), "summary", f"{cfg.study_name}-summary", config,
                       "trials", columns, rows, summary)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sweep's results are in the study already
        print(f"warning: tracker summary not written ({type(exc).__name__}: {exc})", file=sys.stderr)


def _table_run(cfg: SweepConfig, wandb: Any, job_type: str, name: str, config: dict[str, Any],
               key: str, columns: list[str], rows: list[list[Any]], summary: dict[str, Any]) -> None:
    """One finished W&B run of this study holding a table and a summary."""
    run = init_wandb_run(cfg, wandb, job_type=job_type, name=name, config=config)
    try:
        run.log({key: wandb.Table(columns=columns, data=rows, allow_mixed_types=True)})
        run.summary.update(summary)
    finally:
        run.finish()


def log_behaviour(cfg: SweepConfig, study: Any, subjects: Any) -> None:
    """After the behaviour eval, in the driver: one `job_type="behaviour"` run per evaluated model.

    A trial's finished W&B run cannot be reopened offline (W&B cannot resume offline runs), so
    each evaluated adapter gets its own run `trial-N-behaviour` in the study's group: its
    config is the trial's settings (so it sits in the same parallel-coordinates panel), its
    summary the behaviour metrics, and a table holds every generation with its verdict. The
    base model and base+RAG get `base-behaviour` and `base+rag-behaviour`. The same numbers are
    `behaviour_*` columns of the summary run's trials table.
    """
    name = cfg.tracker.name
    if name == "none" or (name == "wandb" and resolve_mode(cfg.tracker) == "disabled"):
        return
    from sweep.scoring import judge

    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    try:
        wandb = import_wandb() if name == "wandb" else None
        for s in subjects:
            run_name = f"trial-{s.trial}-behaviour" if s.trial is not None else f"{s.name}-behaviour"
            trial = by_number.get(s.trial) if s.trial is not None else None
            config = scrub({"study_name": cfg.study_name, "model": cfg.model.name, "subject": s.name,
                            "kind": s.kind, "trial": s.trial, "chat_template": s.chat_template,
                            **({k: _scalar(v) for k, v in trial.params.items()} if trial else {})})
            summary = {"eval_loss": s.eval_loss, **{k: _scalar(v) for k, v in s.metrics.items()}}
            columns = ["question", "reference", "answerable", "answer", "stopped", "runon", "correct",
                       "token_f1", "idk", "privacy", "hallucinated"]
            rows = []
            for g in s.generations:
                v = judge(g)
                rows.append([g.example.question, g.example.reference, g.example.answerable, g.text,
                             v.stopped, v.runon, v.correct, round(v.f1, 4), v.idk, v.privacy, v.hallucinated])
            if name == "recording":
                _append(record_path(cfg), {"event": "behaviour", "name": run_name, "group": cfg.study_name,
                                           "job_type": "behaviour", "config": config, "summary": summary,
                                           "columns": columns, "rows": rows})
                continue
            _table_run(cfg, wandb, "behaviour", run_name, config, "generations", columns, rows, summary)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the numbers are in behaviour.csv and the study already
        print(f"warning: behaviour runs not logged to the tracker ({type(exc).__name__}: {exc})", file=sys.stderr)


def summary_lines(cfg: SweepConfig) -> list[str]:
    """What to tell the user after the sweep: how to upload offline W&B runs."""
    if cfg.tracker.name == "wandb":
        runs = offline_runs(cfg)
        if runs:
            return [f"W&B: {len(runs)} offline runs; upload with: "
                    f"wandb sync {shlex.quote(str(runs[0].parent))}/offline-run-*"]
        if resolve_mode(cfg.tracker) == "online":
            where = f"{cfg.tracker.entity}/" if cfg.tracker.entity else ""
            return [f"W&B: project {where}{cfg.tracker.project}, group {cfg.study_name}"]
    if cfg.tracker.name == "recording":
        return [f"tracker records: {record_path(cfg)}"]
    return []
