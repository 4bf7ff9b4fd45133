"""Behaviour evaluation after the sweep: does the fine-tuned model stop, know the facts, admit
what it does not?

Eval loss says little about what users see. The trials among the best `eval.top_k` by eval
loss when they finished were already asked the questions in their own process (sweep.trial,
`behaviour_*` attrs, what `select` reads) and keep their answers; this module orchestrates the
evaluation after the sweep: it picks the subjects (`select_trials`: per chat template when
`chat_template` is searched, else the chosen trial and every trial asked while the sweep ran;
plus the base model and the base model with retrieved passages, RAG via `sweep.rag`), reuses a
trial's kept answers, else asks its adapter (trained again when it was not kept), has each other
subject answer the held-out questions greedily (`sweep.generation`), scores the answers
(`sweep.scoring`: the rules and metrics) and writes the outputs.

Outputs in the study folder: `behaviour.csv` (one row per evaluated subject: per chat template
when `chat_template` is searched -- the chosen trial for its own template, else the template's
best finished trial, else its best pruned trial trained again for its full length -- else the
chosen trial and the trials asked while the sweep ran; plus `base`, with each searched template
when the template is searched, and `rag`), `behaviour.md` (the course's chat_template table with
numbers), `behaviour_generations.jsonl` (every answer with its verdicts, question, reference and
key fact: `scripts/rescore_behaviour.py` scores it again with the current rules) and `lm_eval/`
(the held-out set as an lm-eval task for the chosen trial's template, `sweep.lm_eval_task`). The
study gets the summary as its user attr `behaviour` (`record`); finished trials are not changed.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep import data, lm_eval_task, models, questions, rag, results, selection, templates
from sweep.backends.peft import from_pretrained_kwargs
from sweep.batches import eval_loss
from sweep.config import SweepConfig, shipped_path
from sweep.questions import behaviour_rows
from sweep.scoring import (
    ATTR_PREFIX,
    METRICS,
    Generation,
)
from sweep.search_space import SearchSpace
from sweep.training import NullReporter
from sweep.trial import run_trial


@dataclass
class Subject:
    """One evaluated model: an adapter of a trial, the base model, or the base model + RAG."""

    name: str
    kind: str  # adapter | base | rag
    chat_template: str
    trial: int | None = None
    eval_loss: float | None = None
    adapter: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    generations: list[Generation] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {"subject": self.name, "kind": self.kind, "trial": self.trial,
                "chat_template": self.chat_template, "eval_loss": self.eval_loss,
                **self.metrics, "adapter": self.adapter}


class Evaluator:
    """Loads the base model once and evaluates it, with adapters or with retrieved passages."""

    def __init__(self, cfg: SweepConfig, rows: Sequence[data.Row], *, batch_size: int = 16):
        self.cfg = cfg
        self.rows = rows
        self.batch_size = batch_size
        self.location = models.resolve(cfg.model)
        self._base: Any = None
        self._loss_rows: list[Any] | None = None
        if cfg.train.num_threads:  # the trials' CPU thread budget holds for evaluation too
            import torch

            torch.set_num_threads(cfg.train.num_threads)

    def base_model(self) -> Any:
        if self._base is None:
            import torch
            from transformers import AutoModelForCausalLM

            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            model = AutoModelForCausalLM.from_pretrained(
                self.location, **from_pretrained_kwargs(self.cfg.model, device))
            if not self.cfg.model.load_in_4bit:
                model.to(device)
            model.config.use_cache = True
            model.eval()
            self._base = model
        return self._base

    def tokenizer(self, folder: str | None = None) -> Any:
        from transformers import AutoTokenizer

        m = self.cfg.model
        tok = AutoTokenizer.from_pretrained(folder or self.location, trust_remote_code=m.trust_remote_code,
                                            revision=None if folder else m.revision)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        return tok

    def base_eval_loss(self, model: Any, tok: Any, encoder: Any) -> float:
        """The model's eval loss on the rows the trials report on (same split, same cap)."""
        if self._loss_rows is None:  # read once: a searched template evaluates several bases
            self._loss_rows = data.load_splits(self.cfg.data, self.cfg.seed)[1]
        examples = data.encode_rows(encoder, self._loss_rows, "data.eval_path")
        batch = self.cfg.train.eval_batch_size or self.cfg.train.micro_batch_size
        return round(eval_loss(model, examples, tok.pad_token_id, batch), 6)

    def _encoder(self, tok: Any, template: templates.ChatTemplate) -> Any:
        return data.Encoder(tok, self.cfg.data, template.end_of_turn)

    def run(self, subject: Subject, adapter_dir: str | None = None, retriever: Any = None,
            rag_top_k: int = 3) -> Subject:
        """Fill `subject.metrics` and `subject.generations` (the adapter loaded on the base model
        and unloaded again: the base weights are read once)."""
        tok = self.tokenizer(adapter_dir)
        # The adapter folder's tokenizer carries the template it trained with; naming it again
        # gives that template's end-of-turn strings (tokenizer_default: read from the template).
        template = templates.apply_template(tok, subject.chat_template)
        model = self.base_model()
        if adapter_dir is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_dir)
            model.eval()
        try:
            gens, metrics = questions.ask(self.cfg, model, tok, template, self.rows, retriever=retriever,
                                          rag_top_k=rag_top_k, batch_size=self.batch_size)
        finally:
            if adapter_dir is not None:
                self._base = model.unload()  # the base weights without the LoRA layers
        subject.generations, subject.metrics = gens, metrics
        if subject.kind == "base" and subject.eval_loss is None:
            subject.eval_loss = self.base_eval_loss(model, tok, self._encoder(tok, template))
        return subject


def evaluate_adapter(cfg: SweepConfig, adapter_dir: str | Path, chat_template: str | None = None,
                     rows: Sequence[Any] | None = None) -> Subject:
    """Behaviour metrics of one saved adapter (a trial's `adapter/` or `best_adapter/`).

    `chat_template`: the template the adapter trained with; None reads it from the adapter
    folder's tokenizer (same end-of-turn strings).
    """
    if rows is None:
        rows = behaviour_rows(cfg)
    subject = Subject(str(adapter_dir), "adapter", chat_template or "tokenizer_default",
                      adapter=str(adapter_dir))
    return Evaluator(cfg, rows).run(subject, str(adapter_dir))


# --------------------------------------------------------------------------- after the sweep


def _template_of(cfg: SweepConfig, space: SearchSpace, trial: FrozenTrial) -> str:
    name = trial.params.get("chat_template") or trial.user_attrs.get("chat_template")
    return name or space.fixed.get("chat_template") or cfg.data.chat_template


def select_trials(cfg: SweepConfig, space: SearchSpace, study: optuna.Study) -> list[FrozenTrial]:
    """Trials in the behaviour outputs: one per chat template when it is searched (the chosen
    trial, `select`, for its own template, the best eval loss for the others); else the chosen
    trial and every trial asked the questions when it finished."""
    ranked = selection.complete(study)
    searched = searched_templates(space)
    chosen = selection.chosen_trial(cfg, study)
    if searched:
        best: dict[str, Any] = {}
        if chosen is not None:  # the adapter the sweep returns is the one shown for its template
            best[_template_of(cfg, space, chosen)] = chosen
        for t in ranked:
            best.setdefault(_template_of(cfg, space, t), t)
        # A template whose every trial was pruned still gets its row: its best pruned trial (by
        # its last reported eval loss) is trained again for its full length (_retrain).
        pruned = [t for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
                  if t.intermediate_values]
        for t in sorted(pruned, key=lambda t: t.intermediate_values[max(t.intermediate_values)]):
            best.setdefault(_template_of(cfg, space, t), t)
        order = {name: i for i, name in enumerate(searched)}
        return sorted(best.values(), key=lambda t: order.get(_template_of(cfg, space, t), len(order)))
    # the chosen trial first, then every other trial asked in its own process (best eval loss first)
    asked = [t for t in ranked if selection.measured(t)]
    return ([chosen] if chosen is not None else []) + [t for t in asked if chosen is None or t.number != chosen.number]


def searched_templates(space: SearchSpace) -> list[str]:
    """The chat templates a space searches (its choices, in order); [] when it does not."""
    for p in space.params:
        if p.name == "chat_template":
            return [str(c) for c in p.choices]
    return []


def _adapter_dir(cfg: SweepConfig, trial: FrozenTrial) -> Path | None:
    own = cfg.study_dir / "trials" / str(trial.number) / "adapter"
    if (own / "adapter_config.json").is_file():
        return own
    best = cfg.study_dir / "best_adapter"
    marker = best / "TRIAL"
    if marker.is_file() and marker.read_text().strip() == results.adapter_marker(trial):
        return best
    return None


def _retrain(cfg: SweepConfig, space: SearchSpace, trial: FrozenTrial, workdir: Path) -> Path:
    """Train a finished trial again (same settings and seed) to get its adapter back."""
    run_trial(cfg, space.from_values(trial.params), NullReporter(), workdir)
    return workdir / "adapter"


def passages_path(cfg: SweepConfig) -> Path | None:
    """The RAG passages: `eval.rag_passages`, else a `*facts.jsonl` file next to the train file."""
    configured = getattr(cfg.eval, "rag_passages", None)
    if configured:
        return shipped_path(configured)  # shipped files work from any directory, as for data.path
    found = sorted(Path(cfg.data.path).parent.glob("*facts.jsonl"))
    return found[0] if len(found) == 1 else None


def check_inputs(cfg: SweepConfig) -> None:
    """Bad behaviour-eval input (e.g. a broken passages file) as a ConfigError before training."""
    if not cfg.eval.behaviour or not cfg.eval.include_base or not getattr(cfg.eval, "rag", True):
        return
    path = passages_path(cfg)
    if path is not None:
        rag.load_passages(path, "eval.rag_passages")


def evaluate_after_sweep(cfg: SweepConfig, space: SearchSpace, study: optuna.Study) -> list[Subject]:
    """Evaluate the selected trials' adapters, the base model and RAG; write the outputs.

    Returns the evaluated subjects (adapters first, then base and rag).
    """
    eval_rows = behaviour_rows(cfg)
    ev = Evaluator(cfg, eval_rows)
    subjects: list[Subject] = []
    scratch = Path(tempfile.mkdtemp(prefix=".behaviour-", dir=cfg.study_dir))
    try:
        for t in select_trials(cfg, space, study):
            tpl = _template_of(cfg, space, t)
            cached = _asked_in_trial(cfg, t, tpl)
            if cached is not None:  # asked once, in the trial's own process: not again
                subjects.append(cached)
                continue
            folder = _adapter_dir(cfg, t)
            if folder is None:
                print(f"behaviour: trial {t.number}'s adapter was not kept (keep_adapters="
                      f"{cfg.keep_adapters}); training it again with its settings", file=sys.stderr)
                folder = _retrain(cfg, space, t, scratch / str(t.number))
            name = f"trial {t.number}" + (" (pruned, retrained)" if t.value is None else "")
            subject = Subject(name, "adapter", tpl, t.number, t.value, str(folder))
            subjects.append(ev.run(subject, str(folder)))
            if folder.is_relative_to(scratch):
                subject.adapter = None  # retrained in a scratch folder that is removed below
        if cfg.eval.include_base:
            base_tpl = space.fixed.get("chat_template") or cfg.data.chat_template
            # a searched template: the base model with each of them too (the course's table
            # compares templates, and a template changes the untrained model's behaviour)
            for tpl in searched_templates(space) or [base_tpl]:
                name = "base" if tpl == base_tpl else f"base ({tpl})"
                subjects.append(ev.run(Subject(name, "base", tpl)))
            rag_subject = _rag(cfg, ev, base_tpl)
            if rag_subject is not None:
                subjects.append(rag_subject)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_outputs(cfg, subjects)
    record(study, subjects)
    results.write_trials_csv(study, cfg.study_dir / "trials.csv", cfg)
    chosen = selection.chosen_trial(cfg, study)
    if chosen is not None:
        lm_eval_task.write_task(cfg, eval_rows, _template_of(cfg, space, chosen))
    _print(subjects)
    return subjects


def _asked_in_trial(cfg: SweepConfig, trial: FrozenTrial, template: str) -> Subject | None:
    """A trial asked the questions when it finished: its metrics (the trial's `behaviour_*`
    attrs, what `select` read) and its kept answers; None when it was not asked."""
    gens = questions.read_cache(cfg.study_dir / "trials" / str(trial.number))
    if not selection.measured(trial) or gens is None:
        return None
    metrics = {k.removeprefix(ATTR_PREFIX): (float("nan") if v is None else v) for k, v in trial.user_attrs.items()
               if k.startswith(ATTR_PREFIX) and k.removeprefix(ATTR_PREFIX) in METRICS}
    folder = _adapter_dir(cfg, trial)
    return Subject(f"trial {trial.number}", "adapter", template, trial.number, trial.value,
                   str(folder) if folder else None, {**metrics, "n": trial.user_attrs.get(ATTR_PREFIX + "n"),
                   "n_answerable": trial.user_attrs.get(ATTR_PREFIX + "n_answerable"),
                   "n_probes": trial.user_attrs.get(ATTR_PREFIX + "n_probes")}, gens)


def _rag(cfg: SweepConfig, ev: Evaluator, template: str) -> Subject | None:
    if not getattr(cfg.eval, "rag", True):
        return None
    path = passages_path(cfg)
    if path is None:
        print("behaviour: no RAG row (no passages: set eval.rag_passages to a JSONL of {id, text})",
              file=sys.stderr)
        return None
    retriever = rag.BM25Retriever(rag.load_passages(path, "eval.rag_passages"))
    k = int(getattr(cfg.eval, "rag_top_k", 3))
    return ev.run(Subject("base+rag", "rag", template), retriever=retriever, rag_top_k=k)


CSV_COLUMNS = ("subject", "kind", "trial", "chat_template", "eval_loss", "n", "n_answerable", "n_probes", *METRICS,
           "retrieval_hit_rate", "adapter")


def behaviour_csv(subjects: Sequence[Subject]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    w.writeheader()
    for s in subjects:
        w.writerow(s.row())
    return buf.getvalue()


def _pct(v: Any) -> str:
    return "" if v is None or v != v else f"{100 * v:.0f}%"


def behaviour_md(subjects: Sequence[Subject]) -> str:
    """The course's chat_template table, with measured numbers instead of yes/no."""
    head = ("| chat_template | subject | stopping (stop rate) | run-ons | privacy message "
            "(privacy probes) | \"I don't know\" (unanswerable probes) | hallucinations | "
            "accuracy | token F1 |\n|---|---|---|---|---|---|---|---|---|\n")
    lines = [f"| {s.chat_template} | {s.name} | {_pct(s.metrics.get('stop_rate'))} | "
             f"{_pct(s.metrics.get('runon_rate'))} | {_pct(s.metrics.get('privacy_refusal_rate'))} | "
             f"{_pct(s.metrics.get('probe_idk_rate'))} | "
             f"{_pct(s.metrics.get('hallucination_rate'))} | {_pct(s.metrics.get('accuracy'))} | "
             f"{s.metrics.get('token_f1', float('nan')):.2f} |" for s in subjects]
    return head + "\n".join(lines) + "\n"


def write_outputs(cfg: SweepConfig, subjects: Sequence[Subject]) -> None:
    d = cfg.study_dir
    results.atomic_write(d / "behaviour.csv", behaviour_csv(subjects))
    results.atomic_write(d / "behaviour.md", behaviour_md(subjects))
    lines = [questions.to_line(g, subject=s.name, kind=s.kind, chat_template=s.chat_template)
             for s in subjects for g in s.generations]
    results.atomic_write(d / "behaviour_generations.jsonl", "\n".join(lines) + "\n")


def _json_safe(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v


def record(study: optuna.Study, subjects: Sequence[Subject]) -> None:
    """The summary on the study (attr `behaviour`). A trial's own `behaviour_*` attrs were set in
    its process before Optuna was told it finished; a finished trial is never changed."""
    summary = {s.name: {k: _json_safe(v) for k, v in s.row().items() if k != "subject"} for s in subjects}
    study.set_user_attr("behaviour", summary)


def _print(subjects: Sequence[Subject]) -> None:
    cols = ("stop_rate", "runon_rate", "accuracy", "hallucination_rate", "privacy_refusal_rate",
            "probe_idk_rate")
    print("\nbehaviour (greedy answers on the held-out questions):", file=sys.stderr)
    print("  " + "  ".join(["subject".ljust(12), "template".ljust(17), "eval_loss", *cols]), file=sys.stderr)
    for s in subjects:
        loss = "" if s.eval_loss is None else f"{s.eval_loss:.4f}"
        vals = [_pct(s.metrics.get(c)).rjust(len(c)) for c in cols]
        print("  " + "  ".join([s.name.ljust(12), s.chat_template.ljust(17), loss.rjust(9), *vals]), file=sys.stderr)
