"""Compare base models on one budget: `python -m sweep.compare "models=[llama,qwen,mistral]" ...`.

Runs the same search space and trial budget for each model (study `<study_name>_<model>`, one
`sweep.engine.run` each; rerunning resumes every study) and writes, in
`<output_dir>/<study_name>/`:

    comparison.csv   per model: the best adapter, the base model and the base model with
                     retrieved passages (RAG); eval loss, behaviour metrics, trainable
                     parameters, tokens/s and the sweep's cost
    comparison.md    the same as a table, with notes

`models=[a,b]` is parsed here (Hydra has no list-of-config-groups override) and removed before
the other arguments, which are normal sweep overrides, are composed. A hub preset that is not
available here (no network, no cache) is replaced by its tiny offline stand-in
(llama -> tiny_llama, ...), and the output says so.

Cost columns: `sweep_wall_s` sums the wall time of every finished trial (pruned and failed
included); `train_samples` sums optimizer steps x effective batch (a pruned trial counts up to
its last report); `train_tokens` sums tokens/s x training time, estimated for pruned trials
from the per-sample average of the completed ones (marked by `tokens_estimated`).
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweep import behaviour, engine, results, search_space, selection
from sweep.config import SweepConfig, conf_options, load_config
from sweep.console import quiet_libraries
from sweep.errors import ConfigError, Problem
from sweep.models import resolve as resolve_model

__all__ = ["COLUMNS", "parse_models", "resolve_preset", "run"]

COLUMNS = (
    "model", "preset", "method", "best_trial", "chat_template", "best_eval_loss", "accuracy",
    "exact_match", "token_f1", "stop_rate", "runon_rate", "hallucination_rate", "privacy_rate",
    "privacy_refusal_rate", "probe_idk_rate", "retrieval_hit_rate", "trainable_params", "total_params", "tokens_per_s", "trials",
    "sweep_wall_s", "train_samples", "train_tokens", "tokens_estimated", "note",
)
BEHAVIOUR = ("accuracy", "exact_match", "token_f1", "stop_rate", "runon_rate",
             "hallucination_rate", "privacy_rate", "privacy_refusal_rate", "probe_idk_rate",
             "retrieval_hit_rate")


def parse_models(args: list[str]) -> tuple[list[str], list[str]]:
    """Split `models=[a,b]` (or `models=a,b`) from the other overrides."""
    models: list[str] | None = None
    rest = []
    for a in args:
        if a.startswith(("models=", "+models=")):
            value = a.split("=", 1)[1].strip()
            if value.startswith("[") != value.endswith("]"):
                raise ConfigError(Problem("models", value, 'write a list: "models=[llama,qwen]"'))
            names = [n.strip().strip("'\"") for n in value.strip("[]").split(",")]
            models = [n for n in names if n]
        else:
            rest.append(a)
    if not models:
        raise ConfigError(Problem("models", None, 'name the models to compare: "models=[llama,qwen,mistral]"'))
    dupes = sorted({m for m in models if models.count(m) > 1})
    if dupes:
        raise ConfigError(Problem("models", ",".join(dupes), "name each model once"))
    clash = [a for a in rest if a.split("=", 1)[0].lstrip("+~") == "model"]
    if clash:
        raise ConfigError(Problem("model", clash[0].split("=", 1)[-1],
                                  "models=[...] picks the models; drop the model= override"))
    return models, rest


def resolve_preset(name: str, overrides: list[str]) -> tuple[str, str | None]:
    """(preset to run, note): the preset itself, or its tiny stand-in when it is unavailable."""
    known = conf_options("model")
    if name not in known:
        raise ConfigError(Problem("models", name, f"unknown model; choose from {', '.join(known)}"))
    cfg = load_config([*overrides, f"model={name}"])
    if cfg.model.is_tiny:
        return name, None
    try:
        resolve_model(cfg.model)
        return name, None
    except ConfigError as exc:
        for stand_in in (f"tiny_{name}", f"tiny_{cfg.model.family}"):
            if stand_in in known:
                why = exc.problems[0].fix.split(";")[0]
                return stand_in, f"{name} is not available here ({why}); ran {stand_in} instead"
        raise


@dataclass
class ModelRun:
    name: str
    preset: str
    note: str | None
    cfg: SweepConfig
    rows: list[dict[str, Any]] = field(default_factory=list)


def _behaviour_rows(cfg: SweepConfig) -> list[dict[str, str]]:
    path = cfg.study_dir / "behaviour.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def sweep_cost(study: Any) -> dict[str, Any]:
    """Wall time, samples and tokens of every finished trial of a study (module docstring)."""
    from optuna.trial import TrialState

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                        TrialState.FAIL))
    wall = samples = tokens = 0.0
    per_sample: list[float] = []
    pending = 0.0  # samples of trials without a token count
    for t in finished:
        a = t.user_attrs
        w = a.get("wall_time_s")
        wall += float(w) if w is not None else (t.duration.total_seconds() if t.duration else 0.0)
        batch = a.get("effective_batch_size") or t.params.get("effective_batch_size") or 0
        steps = a.get("steps") if t.state == TrialState.COMPLETE else \
            (max(t.intermediate_values) if t.intermediate_values else 0)
        n = float((steps or 0) * batch)
        samples += n
        if a.get("train_tokens") is not None:
            tokens += float(a["train_tokens"])
        elif a.get("tokens_per_s") is not None and a.get("train_time_s") is not None:
            tok = float(a["tokens_per_s"]) * float(a["train_time_s"])
            tokens += tok
            if n:
                per_sample.append(tok / n)
        else:
            pending += n
    estimated = pending > 0
    if pending and per_sample:
        tokens += pending * sum(per_sample) / len(per_sample)
    return {"trials": len(finished), "sweep_wall_s": round(wall, 1), "train_samples": int(samples),
            "train_tokens": int(round(tokens)), "tokens_estimated": estimated}


def model_rows(run: ModelRun, study: Any) -> list[dict[str, Any]]:
    """The comparison rows of one model: its best adapter, its base model, base + RAG."""
    best = selection.chosen_trial(run.cfg, study)
    behaviour = _behaviour_rows(run.cfg)
    common = {"model": run.name, "preset": run.preset, "note": run.note or ""}
    rows = []
    lora: dict[str, Any] = {**common, "method": "lora"}
    if best is not None:
        a = best.user_attrs
        lora.update(best_trial=best.number, best_eval_loss=round(best.value, 4),
                    chat_template=a.get("chat_template"), trainable_params=a.get("trainable_params"),
                    total_params=a.get("total_params"), tokens_per_s=a.get("tokens_per_s"))
        b = next((r for r in behaviour if r.get("kind") == "adapter" and r.get("trial") == str(best.number)), None)
        if b is not None:
            lora.update({k: _num(b.get(k)) for k in BEHAVIOUR})
    lora.update(sweep_cost(study))
    rows.append(lora)
    for kind, method in (("base", "base"), ("rag", "rag")):
        b = next((r for r in behaviour if r.get("kind") == kind), None)
        if b is not None:
            rows.append({**common, "method": method, "chat_template": b.get("chat_template"),
                         "total_params": lora.get("total_params"), "trainable_params": 0,
                         "best_eval_loss": _num(b.get("eval_loss")),  # the base model's, same rows
                         **{k: _num(b.get(k)) for k in BEHAVIOUR}})
    return rows


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def comparison_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in COLUMNS})
    return buf.getvalue()


MD_COLUMNS = ("model", "method", "best_eval_loss", "accuracy", "stop_rate", "hallucination_rate",
              "privacy_refusal_rate", "probe_idk_rate", "trainable_params", "tokens_per_s", "sweep_wall_s", "train_samples",
              "train_tokens")


def comparison_md(rows: list[dict[str, Any]], runs: list[ModelRun], space: str) -> str:
    lines = ["# Model comparison", "",
             f"Same search space (`{space}`) and trial budget for every model. `lora`: the best "
             "trial's adapter; `base`: the model without adapter; `rag`: the base model with the "
             "top BM25 passages of the dataset's facts in its prompt (fine-tune vs. retrieve).", "",
             "| " + " | ".join(MD_COLUMNS) + " |", "|" + "---|" * len(MD_COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in MD_COLUMNS) + " |")
    notes = [r.note for r in runs if r.note]
    lines += ["", "Rates are shares of the held-out questions (behaviour.csv of each study has the "
              "rest); costs are measured on the machine that ran the sweep."]
    if any(r.get("tokens_estimated") for r in rows):
        lines.append("train_tokens of pruned trials are estimated from the completed trials' "
                     "tokens per sample.")
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def run(models: list[str], overrides: list[str]) -> Path:
    """Sweep every model and write the comparison; returns the comparison folder."""
    base = load_config(overrides)
    known = conf_options("model")
    unknown = [n for n in models if n not in known]
    if unknown:  # cheap check of every name first: one message, nothing imported or written
        raise ConfigError([Problem("models", n, f"unknown model; choose from {', '.join(known)}")
                           for n in unknown])
    quiet_libraries()
    runs: list[ModelRun] = []
    for name in models:  # check every model and its data before any training
        preset, note = resolve_preset(name, overrides)
        cfg = load_config([*overrides, f"model={preset}", f"study_name={base.study_name}_{name}"])
        engine.preflight(cfg, search_space.load_for_config(cfg))
        behaviour.check_inputs(cfg)
        runs.append(ModelRun(name, preset, note, cfg))
        if note:
            print(f"compare: {note}", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for r in runs:
        print(f"\ncompare: {r.name} -> study {r.cfg.study_name}", file=sys.stderr)
        summary = engine.run(r.cfg)
        r.rows = model_rows(r, summary.study)
        rows += r.rows
    out = base.study_dir
    results.atomic_write(out / "comparison.csv", comparison_csv(rows))
    md = comparison_md(rows, runs, base.search_space)
    results.atomic_write(out / "comparison.md", md)
    print("\n" + md, file=sys.stdout)
    print(f"comparison in {out / 'comparison.csv'} and {out / 'comparison.md'}", file=sys.stdout)
    return out
