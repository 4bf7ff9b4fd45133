"""The study's records on the tracker after the sweep, written by the driver.

One `job_type="summary"` run per study logs a table of all trials (with the behaviour metrics
of the evaluated ones), so W&B's parallel-coordinates panel shows settings against eval loss
with no hand work, and each behaviour-evaluated model gets a `job_type="behaviour"` run
(metrics + generations). With `tracker=recording` the same goes into the JSON-lines record.
`summary_lines` says where the runs are (e.g. the `wandb sync` command for offline runs).
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from optuna.trial import TrialState

from sweep import selection
from sweep.config import SweepConfig, redact_url
from sweep.errors import ConfigError
from sweep.redaction import scrub
from sweep.scoring import ATTR_PREFIX, METRICS, judge
from sweep.tracking import append_record, record_path, scalar
from sweep.trial_counts import counts
from sweep.wandb_setup import import_wandb, init_wandb_run, offline_runs, resolve_mode

SUMMARY_TABLE_ATTRS = ("lora_alpha_value", "alpha_over_r", "micro_batch_size", "gradient_accumulation_steps",
               "chat_template", "backend", "best_eval_loss", "steps", "tokens_per_s", "peak_memory_mb",
               "wall_time_s")


def study_table(study: Any, chosen: selection.Selection | None = None) -> tuple[list[str], list[list[Any]]]:
    """All trials as (columns, rows): settings against eval loss, plus how each ended.

    Trials asked the behaviour questions carry `behaviour_*` columns (stop rate, accuracy,
    hallucination and privacy rates) and, with `chosen` (the select step), their behaviour score,
    so parallel coordinates show them too; `chosen` marks the trial the sweep returns.
    """
    trials = study.get_trials(deepcopy=False)
    params = sorted({k for t in trials for k in t.params})
    attrs = [a for a in (*SUMMARY_TABLE_ATTRS, *(ATTR_PREFIX + m for m in METRICS))
             if any(a in t.user_attrs for t in trials)]
    columns = ["trial", "state", "eval_loss", *params, *attrs, "last_step", "last_eval_loss", "reason"]
    if chosen is not None:
        columns += ["behaviour_score", "chosen"]
    rows = []
    for t in trials:
        iv = t.intermediate_values
        last = max(iv) if iv else None
        reason = t.user_attrs.get("fail_reason") or t.user_attrs.get("prune_reason") or ""
        rows.append([t.number, t.state.name, t.value if t.state == TrialState.COMPLETE else None,
                     *[scalar(t.params.get(p)) for p in params],
                     *[scalar(t.user_attrs.get(a)) for a in attrs],
                     last, iv[last] if last is not None else None, reason,
                     *([chosen.scores.get(t.number), t.number == chosen.trial.number] if chosen is not None else [])])
    return columns, rows


def finish_study(cfg: SweepConfig, space: Any, study: Any) -> list[str]:
    """After the sweep, in the driver: one summary record/run with a table of all trials.

    Returns what could not be logged (one line each; empty when all went well)."""
    name = cfg.tracker.name
    if name == "none":
        return []
    chosen = selection.choose(cfg, study)
    columns, rows = study_table(study, chosen)
    done = selection.complete(study)
    best = done[0] if done else None  # the lowest eval loss; `chosen` is what the sweep returns
    c = counts(study)  # interrupted (retried) and surplus trials are rows of the table, not counted
    summary = {"best_trial": best.number if best else None, "best_eval_loss": best.value if best else None,
               "n_trials": len(rows), **{f"n_{s.lower()}": c[s] for s in ("COMPLETE", "PRUNED", "FAIL")}}
    if chosen is not None:
        summary.update({"chosen_trial": chosen.trial.number, "chosen_eval_loss": chosen.trial.value,
                        "chosen_by": f"select={chosen.rule}: {chosen.reason}",
                        **{f"chosen/{k}": scalar(v) for k, v in chosen.trial.params.items()}})
    config = scrub({"study_name": cfg.study_name, "model": cfg.model.name, "objective": cfg.objective,
                    "search_space": json.dumps(space.to_dict(), default=str) if space is not None else None,
                    "sampler": cfg.sampler.name, "pruner": cfg.pruner.name, "n_trials": cfg.n_trials,
                    "storage": redact_url(cfg.storage_url())})
    try:
        if name == "recording":
            append_record(record_path(cfg), {"event": "study", "study_name": cfg.study_name, "job_type": "summary",
                                       "config": config, "columns": columns, "rows": rows, "summary": summary})
        elif name == "wandb" and resolve_mode(cfg.tracker) != "disabled":
            _table_run(cfg, import_wandb(), "summary", f"{cfg.study_name}-summary", config,
                       "trials", columns, rows, summary)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sweep's results are in the study already
        problem = f"tracker summary not written ({type(exc).__name__}: {str(exc)[:300]})"
        print(f"warning: {problem}", file=sys.stderr)
        return [problem]
    return []


def _table_run(cfg: SweepConfig, wandb: Any, job_type: str, name: str, config: dict[str, Any],
               key: str, columns: list[str], rows: list[list[Any]], summary: dict[str, Any]) -> None:
    """One finished W&B run of this study holding a table and a summary."""
    run = init_wandb_run(cfg, wandb, job_type=job_type, name=name, config=config)
    try:
        run.log({key: wandb.Table(columns=columns, data=rows, allow_mixed_types=True)})
        run.summary.update(summary)
    finally:
        run.finish()


def log_behaviour(cfg: SweepConfig, study: Any, subjects: Any) -> list[str]:
    """After the behaviour eval, in the driver: one `job_type="behaviour"` run per evaluated model.

    A trial's finished W&B run cannot be reopened offline (W&B cannot resume offline runs), so
    each evaluated adapter gets its own run `trial-N-behaviour` in the study's group: its
    config is the trial's settings (so it sits in the same parallel-coordinates panel), its
    summary the behaviour metrics, and a table holds every generation with its verdict. The
    base model and base+RAG get `base-behaviour` and `base+rag-behaviour`. The same numbers are
    `behaviour_*` columns of the summary run's trials table.

    Returns what could not be logged (one line per run; empty when all went well): a failed run
    does not stop the others, and the engine reports the lines in the sweep's outcome.
    """
    name = cfg.tracker.name
    if name == "none" or (name == "wandb" and resolve_mode(cfg.tracker) == "disabled"):
        return []
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    problems: list[str] = []
    wandb = import_wandb() if name == "wandb" else None
    for s in subjects:
        run_name = f"trial-{s.trial}-behaviour" if s.trial is not None else f"{s.name}-behaviour"
        try:
            trial = by_number.get(s.trial) if s.trial is not None else None
            config = scrub({"study_name": cfg.study_name, "model": cfg.model.name, "subject": s.name,
                            "kind": s.kind, "trial": s.trial, "chat_template": s.chat_template,
                            **({k: scalar(v) for k, v in trial.params.items()} if trial else {})})
            summary = {"eval_loss": s.eval_loss, **{k: scalar(v) for k, v in s.metrics.items()}}
            columns = ["question", "reference", "answerable", "answer", "stopped", "runon", "correct",
                       "token_f1", "idk", "privacy", "hallucinated"]
            rows = []
            for g in s.generations:
                v = judge(g)
                rows.append([g.example.question, g.example.reference, g.example.answerable, g.text,
                             v.stopped, v.runon, v.correct, round(v.f1, 4), v.idk, v.privacy, v.hallucinated])
            if name == "recording":
                append_record(record_path(cfg), {"event": "behaviour", "name": run_name, "group": cfg.study_name,
                                                 "job_type": "behaviour", "config": config, "summary": summary,
                                                 "columns": columns, "rows": rows})
                continue
            _table_run(cfg, wandb, "behaviour", run_name, config, "generations", columns, rows, summary)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - the numbers are in behaviour.csv and the study already
            problem = f"behaviour run {run_name} not logged to the tracker ({type(exc).__name__}: {str(exc)[:300]})"
            print(f"warning: {problem}", file=sys.stderr)
            problems.append(problem)
    return problems


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
