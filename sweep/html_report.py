"""The study report: `<study folder>/report.html`, one self-contained page (no internet needed).

What it shows, all read from the study (the single source of truth):
- parallel coordinates of the complete trials: every searched setting against eval loss,
  learning rate (and any log-scale dimension) on a log axis;
- parameter importance (fANOVA when scikit-learn is installed, else Optuna's default
  PED-ANOVA), once at least 2 trials are complete;
- optimisation history, and intermediate values (eval loss per step per trial, so pruning
  shows as curves that stop early);
- state counts, the best trials, and the pruned / failed trials with their reasons.

plotly.js is embedded once (first figure `include_plotlyjs=True`, the rest `False`), so the
page opens from disk, e.g. on a cluster node or in a CI artifact.

Rebuild it at any time, also while a sweep runs:

    python -m sweep.report study_name=NAME [output_dir=DIR | storage=URL]
"""

from __future__ import annotations

import html
import math
import shlex
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep import selection
from sweep.config import SweepConfig, redact_url
from sweep.errors import ConfigError, Problem
from sweep.results import atomic_write
from sweep.storage import load_existing
from sweep.study import objective_name
from sweep.study_tracking import summary_lines
from sweep.trial_counts import INTERRUPTED, SURPLUS, counts

MIN_COMPLETE_FOR_IMPORTANCE = 2
TOP_TRIALS = 10
REPORT_NAME = "report.html"
# Derived settings and measurements worth a column in the best-trials table.
BEST_TABLE_ATTRS = (("alpha_over_r", "alpha/r"), ("micro_batch_size", "micro batch"),
               ("gradient_accumulation_steps", "accum."), ("chat_template", "template"),
               ("best_eval_loss", "best eval"), ("steps", "steps"), ("tokens_per_s", "tokens/s"),
               ("peak_memory_mb", "peak MB"), ("wall_time_s", "wall s"), ("backend", "backend"),
               ("behaviour_stop_rate", "stop rate"), ("behaviour_accuracy", "accuracy"),
               ("behaviour_hallucination_rate", "halluc. rate"), ("behaviour_privacy_refusal_rate", "privacy refusals"))
# The behaviour eval's table (study attr "behaviour", one entry per evaluated model).
BEHAVIOUR_COLUMNS = (("kind", "kind"), ("trial", "trial"), ("chat_template", "template"),
                     ("eval_loss", "eval loss"), ("stop_rate", "stop rate"), ("runon_rate", "run-ons"),
                     ("accuracy", "accuracy"), ("token_f1", "token F1"),
                     ("hallucination_rate", "hallucination rate"),
                     ("unanswerable_idk_rate", "\"I don't know\" when unanswerable"),
                     ("privacy_refusal_rate", "privacy refusals (privacy probes)"),
                     ("probe_idk_rate", "\"I don't know\" (unanswerable probes)"),
                     ("retrieval_hit_rate", "retrieval hit rate"))


@dataclass
class Section:
    """One part of the page: a title, an optional figure and a note under it."""

    title: str
    figure: Any = None  # plotly go.Figure or None
    note: str = ""


# --------------------------------------------------------------------------- figures


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]


def _param_order(study: optuna.Study, names: set[str]) -> list[str]:
    """Params in the search space's order (the order the user wrote), then the rest."""
    declared = list((study.user_attrs.get("search_space") or {}).get("params", {}))
    return [n for n in declared if n in names] + sorted(names - set(declared))


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (log10) and labels (1e-4, 2e-4, 5e-4, ...) spanning [lo, hi]."""
    first, last = math.floor(lo), math.ceil(hi)
    mantissas = (1, 2, 5) if last - first <= 3 else (1,)
    vals, text = [], []
    for e in range(first, last + 1):
        for m in mantissas:
            v = math.log10(m) + e
            if first <= v <= last:
                vals.append(v)
                text.append(f"{m}e{e}")
    return vals, text


def _is_log(name: str, dist: Any, values: list[Any]) -> bool:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in values):
        return False
    return bool(getattr(dist, "log", False)) or name == "learning_rate"


def parallel_coordinates(study: optuna.Study, scores: dict[int, float] | None = None) -> Section:
    """W&B-style parallel coordinates (plotly `parcoords`) of the complete trials; with behaviour
    `scores` (trial number -> score), a behaviour axis too (trials not asked sit below it)."""
    import plotly.graph_objects as go

    title = "Parallel coordinates"
    trials = _complete(study)
    if not trials:
        return Section(title, None, "No complete trial yet.")
    present = set.intersection(*(set(t.params) for t in trials))
    partial = sorted(set().union(*(set(t.params) for t in trials)) - present)
    dims = []
    for name in _param_order(study, present):
        values = [t.params[name] for t in trials]
        dist = trials[-1].distributions.get(name)
        choices = getattr(dist, "choices", None)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if choices is not None or not numeric:
            options = list(choices) if choices is not None else sorted(set(values), key=str)
            dims.append(dict(label=name, values=[options.index(v) for v in values],
                             tickvals=list(range(len(options))), ticktext=[str(c) for c in options],
                             range=[0, max(len(options) - 1, 1)]))
        elif _is_log(name, dist, values):
            logs = [math.log10(v) for v in values]
            lo = math.log10(dist.low) if getattr(dist, "low", 0) > 0 else min(logs)
            hi = math.log10(dist.high) if getattr(dist, "high", 0) > 0 else max(logs)
            tickvals, ticktext = _log_ticks(lo, hi)
            dims.append(dict(label=f"{name} (log)", values=logs, tickvals=tickvals,
                             ticktext=ticktext, range=[lo, hi]))
        else:
            lo, hi = getattr(dist, "low", min(values)), getattr(dist, "high", max(values))
            dims.append(dict(label=name, values=values, range=[lo, hi] if hi > lo else None))
    if scores:
        asked = [scores[t.number] for t in trials if t.number in scores]
        lo, hi = min(asked), max(asked)
        below = lo - 0.25 * ((hi - lo) or 1.0)  # "not asked"
        dims.append(dict(label="behaviour score", values=[scores.get(t.number, below) for t in trials],
                         range=[below, hi], tickvals=[below, lo, hi],
                         ticktext=["not asked", f"{lo:.2f}", f"{hi:.2f}"]))
    losses = [t.value for t in trials]
    objective = objective_name(study)
    dims.append(dict(label=objective, values=losses))
    fig = go.Figure(go.Parcoords(
        dimensions=dims,
        line=dict(color=losses, colorscale="Viridis", reversescale=True, showscale=True,
                  colorbar=dict(title=objective))))
    fig.update_layout(title="Settings against eval loss (complete trials; brighter = lower loss)",
                      margin=dict(l=80, r=80, t=90, b=40), height=480)
    note = f"{len(trials)} complete trials. Drag along an axis to filter."
    if partial:
        note += f" Not shown (absent in some trials): {', '.join(partial)}."
    return Section(title, fig, note)


def param_importance(study: optuna.Study, seed: int = 0) -> Section:
    """Optuna's parameter importance; needs at least 2 complete trials."""
    from optuna.visualization import plot_param_importances

    title = "Parameter importance"
    n = len(_complete(study))
    if n < MIN_COMPLETE_FOR_IMPORTANCE:
        return Section(title, None, f"Needs at least {MIN_COMPLETE_FOR_IMPORTANCE} complete trials "
                                    f"(have {n}).")
    try:
        import sklearn  # noqa: F401 - fANOVA's random forest

        evaluator: Any = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        name = "fANOVA"
    except ImportError:
        evaluator, name = None, "PED-ANOVA (fANOVA with pip install 'lora-sweep[importance]')"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fig = plot_param_importances(study, evaluator=evaluator)
        except Exception as exc:  # noqa: BLE001 - e.g. every trial has the same settings
            return Section(title, None, f"Not computed: {exc}")
    note = f"Evaluator: {name}; {n} complete trials."
    said = sorted({str(w.message) for w in caught})
    if said:
        note += " " + " ".join(said)
    return Section(title, fig, note)


def optimisation_history(study: optuna.Study) -> Section:
    from optuna.visualization import plot_optimization_history

    title = "Optimisation history"
    if not _complete(study):
        return Section(title, None, "No complete trial yet.")
    return Section(title, plot_optimization_history(study, target_name=objective_name(study)),
                   "Final eval loss of each complete trial and the best so far.")


def intermediate_values(study: optuna.Study) -> Section:
    """Eval loss per step for every trial; pruned trials dotted, so pruning is visible."""
    from optuna.visualization import plot_intermediate_values

    title = "Intermediate values"
    trials = {t.number: t for t in study.get_trials(deepcopy=False) if t.intermediate_values}
    if not trials:
        return Section(title, None, "No eval loss reported yet.")
    fig = plot_intermediate_values(study)
    for trace in fig.data:
        number = trace.name[len("Trial"):] if trace.name and trace.name.startswith("Trial") else ""
        t = trials.get(int(number)) if number.isdigit() else None
        if t is None:
            continue
        state = t.state.name.lower()
        trace.name = f"trial {t.number} ({state})"
        if t.state != TrialState.COMPLETE:
            trace.line.dash = "dot"
    fig.update_layout(xaxis_title="optimizer step", yaxis_title="eval loss")
    pruned = sum(1 for t in trials.values() if t.state == TrialState.PRUNED)
    return Section(title, fig, f"Eval loss at each pruning point. Pruned trials ({pruned}) are dotted "
                               "and stop where the pruner stopped them.")


def pareto_plot(study: optuna.Study, chosen: selection.Selection | None) -> Section:
    """Eval loss against the behaviour score of the trials asked the behaviour questions: the
    Pareto front (neither lower loss nor higher score without giving up the other) and the trial
    `select` chose."""
    import plotly.graph_objects as go

    title = "Eval loss against behaviour (the select step)"
    scores = chosen.scores if chosen else {}
    asked = [t for t in selection.complete(study) if t.number in scores]
    if not asked:
        return Section(title, None, "No trial was asked the behaviour questions (eval.behaviour=false or "
                                    "eval.top_k=0): the sweep returns the lowest eval loss.")
    front = set(selection.pareto_front([(t.number, t.value, scores[t.number]) for t in asked]))
    fig = go.Figure()
    others = [t for t in asked if t.number not in front]
    on = sorted((t for t in asked if t.number in front), key=lambda t: t.value)
    for group, name, mode in ((others, "asked", "markers"), (on, "Pareto front", "lines+markers")):
        fig.add_trace(go.Scatter(x=[t.value for t in group], y=[scores[t.number] for t in group], mode=mode,
                                 name=name, text=[f"trial {t.number}" for t in group],
                                 hovertemplate="%{text}<br>eval loss %{x:.4f}<br>behaviour %{y:.3f}<extra></extra>"))
    pick = chosen.trial
    fig.add_trace(go.Scatter(x=[pick.value], y=[scores.get(pick.number)], mode="markers", name="chosen",
                             marker=dict(symbol="star", size=16, color="crimson"),
                             text=[f"trial {pick.number}"], hovertemplate="chosen: %{text}<extra></extra>"))
    fig.update_layout(xaxis_title=objective_name(study), yaxis_title="behaviour score", height=420,
                      margin=dict(l=60, r=30, t=30, b=50))
    return Section(title, fig, f"select={chosen.rule}: trial {pick.number}, {chosen.reason}. Score = "
                               "weighted sum of behaviour metrics (select.weights); lower loss is left, "
                               "better behaviour is up.")


def sections(study: optuna.Study, cfg: SweepConfig) -> list[Section]:
    """Every figure of the report, in page order."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # "no complete trials" is said on the page
    chosen = selection.choose(cfg, study)
    return [parallel_coordinates(study, chosen.scores if chosen else {}), pareto_plot(study, chosen),
            param_importance(study, cfg.seed), optimisation_history(study), intermediate_values(study)]


# --------------------------------------------------------------------------- tables


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v != 0 and abs(v) < 1e-2:
            return f"{v:.3g}"  # learning rates: 0.000125, 2e-05
        return f"{v:.0f}" if abs(v) >= 1e3 else f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p class=note>None.</p>"
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def state_counts(study: optuna.Study) -> dict[str, int]:
    c = counts(study)
    trials = study.get_trials(deepcopy=False)
    c["interrupted"] = sum(1 for t in trials if t.state == TrialState.FAIL
                           and t.user_attrs.get("fail_reason") == INTERRUPTED)
    c["surplus"] = sum(1 for t in trials if t.user_attrs.get("fail_reason") == SURPLUS)
    return c


def best_table(study: optuna.Study, top: int = TOP_TRIALS) -> str:
    best = selection.complete(study)[:top]
    params = _param_order(study, {k for t in best for k in t.params})
    attrs = [(k, label) for k, label in BEST_TABLE_ATTRS if any(k in t.user_attrs for t in best)]
    head = ["trial", "eval loss", *params, *[label for _, label in attrs]]
    rows = [[t.number, t.value, *[t.params.get(p) for p in params], *[t.user_attrs.get(k) for k, _ in attrs]]
            for t in best]
    return _table(head, rows)


def behaviour_table(study: optuna.Study) -> str | None:
    """What users see of the evaluated models (best adapters, base, base+RAG); None: not run."""
    summary = study.user_attrs.get("behaviour")
    if not isinstance(summary, dict) or not summary:
        return None
    cols = [(k, label) for k, label in BEHAVIOUR_COLUMNS if any(k in row for row in summary.values())]
    rows = [[name, *[row.get(k) for k, _ in cols]] for name, row in summary.items()]
    return _table(["model", *[label for _, label in cols]], rows)


def ended_early_table(study: optuna.Study) -> str:
    """Pruned and failed trials: where they stopped and why."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED, TrialState.FAIL)):
        iv = t.intermediate_values
        last = max(iv) if iv else None
        reason = t.user_attrs.get("fail_reason") or t.user_attrs.get("prune_reason") or ""
        detail = t.user_attrs.get("fail_detail") or ""
        rows.append([t.number, t.state.name, last, iv[last] if last is not None else None,
                     f"{reason} ({detail})" if detail and detail not in reason else reason])
    return _table(["trial", "state", "last step", "last eval loss", "reason"], rows)


def fail_reasons(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        reason = str(t.user_attrs.get("fail_reason") or "unknown").split(":")[0]
        out[reason] = out.get(reason, 0) + 1
    return out


# --------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.25em;margin-top:32px;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:.92em}.note{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}
code{background:#f4f4f4;padding:1px 4px}
"""


def render(study: optuna.Study, cfg: SweepConfig) -> str:
    """The report page as one HTML string (plotly.js inlined once)."""
    secs = sections(study, cfg)
    parts: list[str] = []
    js_included = False
    for s in secs:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.figure is not None:
            s.figure.update_layout(template="plotly_white")
            parts.append(s.figure.to_html(full_html=False, include_plotlyjs=not js_included,
                                          default_height="450px",
                                          config={"displaylogo": False, "responsive": True}))
            js_included = True
        if s.note:
            parts.append(f"<p class=note>{html.escape(s.note)}</p>")
    c = state_counts(study)
    counts_head = ["complete", "pruned", "failed", "interrupted (retried)", "running", "waiting"]
    counts_row = [[c["COMPLETE"], c["PRUNED"], c["FAIL"], c["interrupted"],  # FAIL: not interrupted
                   c.get("RUNNING", 0), c.get("WAITING", 0)]]
    if c["surplus"]:  # stood down for another machine's trial: never ran, not counted
        counts_head.append("surplus (never run)")
        counts_row[0].append(c["surplus"])
    reasons = fail_reasons(study)
    attrs = study.user_attrs
    stored = attrs.get("config") or {}
    model = (stored.get("model") or {}).get("name", "?")
    data = Path(str((stored.get("data") or {}).get("path", "?"))).name
    chosen = selection.choose(cfg, study)
    best_line = (f"chosen (select={cfg.select.name}): trial {chosen.trial.number}, eval loss "
                 f"{_fmt(chosen.trial.value)}, {chosen.reason}" if chosen else "chosen: no complete trial yet")
    meta = (f"model {model} · data {data} · objective {stored.get('objective', '?')} · "
            f"{best_line} · storage {redact_url(cfg.storage_url())} · "
            f"generated {datetime.now().isoformat(timespec='seconds')}")
    head = [
        f"<h1>Study {html.escape(study.study_name)}</h1>",
        f"<p class=meta>{html.escape(meta)}</p>",
    ]
    if attrs.get("data_summary"):  # which file trains, which rows evaluate (sweep.engine)
        head.append(f"<p class=meta>{html.escape(str(attrs['data_summary']))}</p>")
    head += [
        "<h2>Trials</h2>",
        _table(counts_head, counts_row),
    ]
    if reasons:
        head.append(_table(["fail reason", "trials"], sorted(reasons.items())))
    head += [f"<h2>Best trials (top {TOP_TRIALS})</h2>", best_table(study)]
    behaviour = behaviour_table(study)
    if behaviour is not None:
        head += ["<h2>Behaviour on held-out questions</h2>",
                 "<p class=note>Greedy answers of the best adapters, the base model and the base model "
                 "with retrieved passages: stop rate = ended with an end-of-turn token; rates are shares "
                 "of the questions (behaviour.csv, behaviour_generations.jsonl).</p>", behaviour]
    tail = ["<h2>Pruned and failed trials</h2>", ended_early_table(study),
            "<h2>Inspect further</h2>",
            "<ul>" + "".join(f"<li><code>{html.escape(line)}</code></li>" for line in inspect_lines(cfg))
            + "</ul>"]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{html.escape(study.study_name)}: LoRA sweep report</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(head + parts + tail) + "\n</body></html>\n")


def write_report(cfg: SweepConfig, study: optuna.Study) -> Path:
    """Write `<study folder>/report.html` from the study (atomically: readers never see half)."""
    path = cfg.study_dir / REPORT_NAME
    atomic_write(path, render(study, cfg))
    return path


# --------------------------------------------------------------------------- commands


def dashboard_storage(url: str) -> str | None:
    """The storage argument optuna-dashboard takes for our storage URL (None: it can't open it)."""
    if url.startswith("journal://"):
        return url[len("journal://"):]  # the dashboard opens a journal file by its path
    if url.startswith("grpc://"):
        return None
    return url


def inspect_lines(cfg: SweepConfig) -> list[str]:
    """Commands to inspect the study: the dashboard, the report, W&B sync for offline runs."""
    lines = []
    target = dashboard_storage(cfg.storage_url())
    if target is None:
        lines.append("dashboard: optuna-dashboard cannot open a gRPC proxy; point it at the proxy's storage")
    else:
        lines.append(f"dashboard: optuna-dashboard {shlex.quote(redact_url(target))}")
    lines.append(f"report: python -m sweep.report study_name={shlex.quote(cfg.study_name)} "
                 f"output_dir={shlex.quote(cfg.output_dir)}"
                 + (f" storage={shlex.quote(redact_url(cfg.storage))}" if cfg.storage else ""))
    return lines + summary_lines(cfg)


def load_study(cfg: SweepConfig) -> optuna.Study:
    """The existing study the config names; ConfigError when it cannot be opened or is missing."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = load_existing(cfg)
    except Exception as exc:  # noqa: BLE001 - unreachable database, bad URL
        said = redact_url(str(exc).strip().splitlines()[0] if str(exc).strip() else "")[:200]
        raise ConfigError(Problem("storage", redact_url(cfg.storage_url()),
                                  f"cannot open it ({type(exc).__name__}: {said}); check the URL "
                                  "and that its database driver is installed")) from None
    if study is None:
        raise ConfigError(Problem("study_name", cfg.study_name,
                                  f"no such study in {redact_url(cfg.storage_url())}; pass the "
                                  "study_name and output_dir (or storage) the sweep ran with"))
    return study
