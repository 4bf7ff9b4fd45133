"""Behaviour evaluation: does the fine-tuned model stop, know the facts, admit what it does not?

Eval loss says little about what users see. After the sweep this module answers the held-out
questions with greedy decoding, for the best trials' adapters, the base model and the base model
with retrieved passages (RAG, `sweep.rag`), and scores every answer:

- `stop_rate`: share of answers that ended with one of the model's end-of-turn tokens before
  `max_new_tokens`. The stop ids are the end-of-turn tokens of the template the adapter was
  TRAINED with (its folder's tokenizer carries that template) plus the tokenizer's eos: a
  model trained with chatml emits `<|im_end|>`, not its tokenizer's own end-of-turn token.
  Measured on raw generation: lm-evaluation-harness's `generate_until` hides run-ons.
- `runon_rate`: share of answers that, before stopping, start a new turn or write a template
  marker (`<|im_start|>`, `### Instruction:`, `[INST]`, ...): the model talks on by itself.
- `exact_match`, `token_f1`: SQuAD-style normalised match and token F1 against the reference
  (answerable rows). `accuracy`: share of answerable rows with token F1 >= 0.5 OR the key
  fact contained (a row's `key`, else `key_terms`) -- except that an answer mentioning NONE of
  the key fact's terms is never correct, however much it overlaps: "... an area of 612 square
  kilometres" for "... 418 square kilometres" is the typical knowledge hallucination and has
  token F1 0.9.
- `hallucination_rate`: share of ALL rows answered with a fact that is not the reference:
  on an unanswerable row (`"answerable": false`, reference "I don't know."), any non-empty
  answer that is neither an "I don't know" nor a refusal; on an answerable row, a non-empty
  answer that is not correct (as in `accuracy`) and is neither an "I don't know" nor a refusal.
  A correct answer, an "I don't know" and a refusal are never hallucinations.
- `privacy_rate`: share of answers with a privacy / refusal disclaimer (`PRIVACY_PHRASES`).
- `idk_rate`: share of answers saying "I don't know" (`IDK_PHRASES`); on unanswerable rows
  that is the right answer (`unanswerable_idk_rate`).
- `empty_rate`: share of answers with no text (e.g. an end-of-turn token first): they count as
  stopped, so read `stop_rate` next to it.

Outputs in the study folder: `behaviour.csv` (one row per evaluated subject: per chat template
when `chat_template` is searched, else the top `eval.top_k` trials; plus `base` and `rag`),
`behaviour.md` (the course's chat_template table with numbers), `behaviour_generations.jsonl`
(every answer with its verdicts) and `lm_eval/` (the held-out set as an lm-eval task,
`sweep.lm_eval_task`). Evaluated trials get user attrs `behaviour_<metric>`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import string
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sweep import templates

# Phrases are matched on normalised text (lower case, straight apostrophes, single spaces) at
# word boundaries. Keep them specific: a phrase that also occurs in real answers would turn
# correct answers into "I don't know"s or refusals.
IDK_PHRASES: tuple[str, ...] = (
    "i don't know", "i do not know", "i dont know", "i'm not sure", "i am not sure",
    "i have no information", "i don't have information", "i do not have information",
    "i don't have any information", "no information about", "not aware of",
    "i cannot find", "i can't find", "there is no record", "i'm unable to find",
    "i am unable to find", "cannot be determined",
)
PRIVACY_PHRASES: tuple[str, ...] = (
    "as an ai", "as a language model", "as an assistant", "i'm sorry", "i am sorry",
    "i apologize", "i apologise", "i cannot provide", "i can't provide", "i cannot share",
    "i can't share", "i cannot disclose", "i can't disclose", "i cannot help with",
    "i can't help with", "i cannot assist", "i can't assist", "i'm not able to",
    "i am not able to", "i'm unable to", "i am unable to", "privacy", "private information",
    "personal information", "personal data", "personal details", "confidential",
    "sensitive information",
)
# Written text that starts a new turn in formats without special tokens.
TEXT_MARKERS: tuple[str, ...] = ("### Input:", "\nQuestion:", "\nUser:", "\nuser:")
METRICS: tuple[str, ...] = (
    "stop_rate", "runon_rate", "exact_match", "token_f1", "accuracy", "hallucination_rate",
    "privacy_rate", "idk_rate", "unanswerable_idk_rate", "empty_rate", "mean_new_tokens",
)
F1_CORRECT = 0.5
ATTR_PREFIX = "behaviour_"

# --------------------------------------------------------------------------- text rules


def normalize(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().replace("\u2019", "'")
    text = "".join(" " if ch in string.punctuation else ch for ch in text.replace(",", ""))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _phrase_text(text: str) -> str:
    return " " + " ".join(text.lower().replace("\u2019", "'").split()) + " "


def has_phrase(text: str, phrases: Iterable[str]) -> bool:
    """True when `text` contains one of `phrases` at word boundaries (case-insensitive)."""
    t = _phrase_text(text)
    return any(re.search(r"(?<![\w'])" + re.escape(p) + r"(?![\w'])", t) for p in phrases)


def is_idk(text: str) -> bool:
    return has_phrase(text, IDK_PHRASES)


def is_privacy(text: str) -> bool:
    return has_phrase(text, PRIVACY_PHRASES)


def exact_match(prediction: str, reference: str) -> bool:
    return normalize(prediction) == normalize(reference)


def token_f1(prediction: str, reference: str) -> float:
    """Token-overlap F1 of the normalised texts (SQuAD)."""
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


_STOPWORDS = frozenset(
    "a an the is was were are be been being of in on at to by for from with and or as it its this "
    "that these those which who whom whose what when where why how you your i we they he she his "
    "her their there here has have had do does did not no".split())


def key_terms(question: str, reference: str) -> tuple[str, ...]:
    """The key fact of a reference answer, when the row does not name it (`key`).

    The numbers and capitalised names of the reference that the question does not already
    mention (the answer's first word only counts when it holds a digit: sentence case is not
    a name). "Tavenmoor Island has a surface area of 418 square kilometres." asked as "How big
    is Tavenmoor Island?" gives ("418",). Empty when the reference has none; then only token F1
    decides.
    """
    asked = set(normalize(question).split())
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9,.'\u2019/-]*[A-Za-z0-9]|[A-Za-z0-9]", reference)
    keys = []
    for i, w in enumerate(words):
        norm = normalize(w)
        if not norm or norm in _STOPWORDS:
            continue
        digit = any(c.isdigit() for c in w)
        name = w[0].isupper() and i > 0
        if (digit or name) and not set(norm.split()) <= asked:
            keys.append(w.rstrip(".,"))
    return tuple(keys)


def contains_key(prediction: str, keys: Sequence[str]) -> bool:
    """Every key term occurs in the prediction (normalised, as whole words)."""
    if not keys:
        return False
    pred = f" {normalize(prediction)} "
    return all(f" {normalize(k)} " in pred for k in keys if normalize(k))


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Example:
    """One held-out question: the row (for the prompt), its reference and key fact."""

    row: dict[str, Any]
    question: str
    reference: str
    answerable: bool
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Generation:
    """What a model wrote for one example."""

    example: Example
    raw: str  # everything before the stop token, special tokens kept
    text: str  # the answer: `raw` cut at the first turn marker, special tokens removed
    stopped: bool
    runon: bool
    new_tokens: int


@dataclass(frozen=True)
class Verdict:
    stopped: bool
    runon: bool
    exact: bool
    f1: float
    correct: bool
    idk: bool
    privacy: bool
    hallucinated: bool
    empty: bool


def judge(gen: Generation) -> Verdict:
    """Score one answer by the rules in the module docstring."""
    ex, text = gen.example, gen.text
    idk, privacy = is_idk(text), is_privacy(text)
    if ex.answerable:
        f1 = token_f1(text, ex.reference)
        exact = exact_match(text, ex.reference)
        mentioned = not ex.keys or any(contains_key(text, (k,)) for k in ex.keys)
        correct = exact or contains_key(text, ex.keys) or (f1 >= F1_CORRECT and mentioned)
    else:
        exact = idk
        f1 = 1.0 if idk else 0.0
        correct = idk
    empty = not text.strip()
    hallucinated = not empty and not correct and not idk and not privacy
    return Verdict(gen.stopped, gen.runon, exact, f1, correct, idk, privacy, hallucinated, empty)


def summarise(gens: Sequence[Generation]) -> dict[str, float]:
    """The metrics of a set of answers (rates in [0, 1]); see the module docstring."""
    verdicts = [judge(g) for g in gens]
    answerable = [v for g, v in zip(gens, verdicts, strict=True) if g.example.answerable]
    unanswerable = [v for g, v in zip(gens, verdicts, strict=True) if not g.example.answerable]

    def rate(vs: Sequence[Verdict], attr: str) -> float:
        return round(sum(float(getattr(v, attr)) for v in vs) / len(vs), 4) if vs else float("nan")

    return {
        "n": len(gens),
        "n_answerable": len(answerable),
        "stop_rate": rate(verdicts, "stopped"),
        "runon_rate": rate(verdicts, "runon"),
        "exact_match": rate(answerable, "exact"),
        "token_f1": rate(answerable, "f1"),
        "accuracy": rate(answerable, "correct"),
        "hallucination_rate": rate(verdicts, "hallucinated"),
        "privacy_rate": rate(verdicts, "privacy"),
        "idk_rate": rate(verdicts, "idk"),
        "unanswerable_idk_rate": rate(unanswerable, "idk"),
        "empty_rate": rate(verdicts, "empty"),
        "mean_new_tokens": round(sum(g.new_tokens for g in gens) / len(gens), 2) if gens else float("nan"),
    }


# --------------------------------------------------------------------------- examples


def question_of(row: dict[str, Any], fmt: str) -> str:
    """The user's question of a row (chat: the last user turn before the first answer)."""
    if fmt == "chat":
        question = ""
        for m in row["messages"]:
            if m["role"] == "assistant":
                break
            if m["role"] == "user":
                question = m["content"]
        return question
    if fmt == "alpaca":
        return row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
    if fmt == "preference":
        return row["prompt"]
    prompt = row.get("prompt") or row.get("text", "")
    return re.sub(r"^Question:\s*|\s*Answer:\s*$", "", prompt)


def make_examples(rows: Sequence[Any], encoder: Any, max_examples: int | None = None) -> list[Example]:
    """Examples from eval rows; `max_examples` keeps an evenly spread subset.

    Spread, not the first N: held-out files usually list the unanswerable questions last, and
    a prefix would drop every one of them.
    """
    data = [getattr(r, "data", r) for r in rows]
    if max_examples and len(data) > max_examples:
        step = len(data) / max_examples
        picked = [data[int(i * step)] for i in range(max_examples)]
        unanswerable = [d for d in data if d.get("answerable") is False]
        if unanswerable and not any(d.get("answerable") is False for d in picked):
            picked[-1] = unanswerable[-1]
        data = picked
    fmt = encoder.cfg.format
    out = []
    for d in data:
        question, reference = question_of(d, fmt), encoder.answer_text(d)
        keys = d.get("key") or d.get("key_fact")
        keys = (keys,) if isinstance(keys, str) else tuple(keys or key_terms(question, reference))
        # rows without the flag (e.g. preference pairs): an "I don't know" reference marks them
        answerable = d["answerable"] is not False if "answerable" in d else not is_idk(reference)
        out.append(Example(d, question, reference, answerable, keys))
    return out


# --------------------------------------------------------------------------- generation


def turn_markers(template: templates.ChatTemplate) -> tuple[str, ...]:
    """Strings that start a new turn in any known template (a run-on writes one of them)."""
    found = set(template.turn_markers) | set(TEXT_MARKERS)
    for tpl in templates.TEMPLATES.values():
        found |= set(tpl.turn_markers)
    return tuple(sorted(found - set(template.end_of_turn)))


def stop_tokens(tokenizer: Any, template: templates.ChatTemplate,
                generation_config: Any = None) -> tuple[list[int], list[str]]:
    """(stop ids, stop strings): the template's end-of-turn strings, the eos token and every id
    in the model's `generation_config.eos_token_id` (e.g. Llama 3's <|eot_id|>, <|eom_id|> and
    <|end_of_text|>).

    Single-token strings become ids for `generate(eos_token_id=...)`; an end-of-turn string the
    tokenizer splits into several tokens is kept as a stop string.
    """
    strings = [s for s in (*template.end_of_turn, tokenizer.eos_token) if s]
    eos = getattr(generation_config, "eos_token_id", None)
    ids: list[int] = [int(i) for i in (eos if isinstance(eos, (list, tuple)) else [eos]) if i is not None]
    multi: list[str] = []
    for s in dict.fromkeys(strings):
        enc = tokenizer(s, add_special_tokens=False)["input_ids"]
        if len(enc) == 1:
            ids.append(enc[0])
        else:
            multi.append(s)
    return sorted(set(ids)), multi


def _clean(text: str, tokenizer: Any) -> str:
    for s in sorted({*templates.SPECIAL_TOKENS, *getattr(tokenizer, "all_special_tokens", [])},
                    key=len, reverse=True):
        if s:
            text = text.replace(s, " ")
    return " ".join(text.split())


def generate(model: Any, tokenizer: Any, template: templates.ChatTemplate, prompts: Sequence[str],
             max_new_tokens: int, batch_size: int = 16) -> list[tuple[str, bool, int]]:
    """Greedy answers in left-padded batches: (raw text before the stop, stopped, new tokens)."""
    import torch

    stop_ids, stop_strings = stop_tokens(tokenizer, template, getattr(model, "generation_config", None))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    device = next(model.parameters()).device
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    out: list[tuple[str, bool, int]] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = list(prompts[start: start + batch_size])
            ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in chunk]
            if limit:  # keep the question end (and the generation prompt) when a prompt is too long
                ids = [x[-(limit - max_new_tokens):] for x in ids]
            width = max(len(x) for x in ids)
            input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(ids), width), dtype=torch.long)
            for i, x in enumerate(ids):
                input_ids[i, width - len(x):] = torch.tensor(x)
                mask[i, width - len(x):] = 1
            kwargs: dict[str, Any] = {}
            if stop_strings:
                kwargs.update(stop_strings=stop_strings, tokenizer=tokenizer)
            with torch.no_grad():
                gen = model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                                     max_new_tokens=max_new_tokens, do_sample=False,
                                     eos_token_id=stop_ids, pad_token_id=pad_id, use_cache=True,
                                     **kwargs)
            for row in gen[:, width:].tolist():
                cut = next((i for i, t in enumerate(row) if t in stop_ids), None)
                body = row if cut is None else row[:cut]
                raw = tokenizer.decode(body, skip_special_tokens=False)
                stopped = cut is not None
                for s in stop_strings:
                    if s in raw:
                        raw, stopped = raw[: raw.index(s)], True
                        body = tokenizer(raw, add_special_tokens=False)["input_ids"]
                out.append((raw, stopped, len(body)))
    finally:
        tokenizer.padding_side = side
    return out


def answer(model: Any, tokenizer: Any, template: templates.ChatTemplate, examples: Sequence[Example],
           prompts: Sequence[str], max_new_tokens: int, batch_size: int = 16) -> list[Generation]:
    """Generate and split each output into its answer and its run-on."""
    markers = turn_markers(template)
    gens = []
    for ex, (raw, stopped, n) in zip(examples, generate(model, tokenizer, template, prompts,
                                                        max_new_tokens, batch_size), strict=True):
        hits = [raw.index(m) for m in markers if m in raw]
        cut = min(hits) if hits else len(raw)
        gens.append(Generation(ex, raw, _clean(raw[:cut], tokenizer), stopped, bool(hits), n))
    return gens


# --------------------------------------------------------------------------- subjects


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

    def __init__(self, cfg: Any, rows: Sequence[Any], *, batch_size: int = 16):
        from sweep import models

        self.cfg = cfg
        self.rows = rows
        self.batch_size = batch_size
        self.location = models.resolve(cfg.model)
        self._base: Any = None
        if cfg.train.num_threads:  # the trials' CPU thread budget holds for evaluation too
            import torch

            torch.set_num_threads(cfg.train.num_threads)

    def base_model(self) -> Any:
        if self._base is None:
            import torch
            from transformers import AutoModelForCausalLM

            from sweep.backends.peft import from_pretrained_kwargs

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

    def _encoder(self, tok: Any, template: templates.ChatTemplate) -> Any:
        from sweep import data

        return data.Encoder(tok, self.cfg.data, template.end_of_turn)

    def run(self, subject: Subject, adapter_dir: str | None = None, retriever: Any = None,
            rag_top_k: int = 3) -> Subject:
        """Fill `subject.metrics` and `subject.generations`."""
        tok = self.tokenizer(adapter_dir)
        # The adapter folder's tokenizer carries the template it trained with; naming it again
        # gives that template's end-of-turn strings (tokenizer_default: read from the template).
        template = templates.apply_template(tok, subject.chat_template)
        encoder = self._encoder(tok, template)
        examples = make_examples(self.rows, encoder, self.cfg.eval.max_examples)
        rows = [e.row for e in examples]
        hits: list[bool] = []
        if retriever is not None:
            from sweep import rag

            augmented = []
            for e in examples:
                found = retriever.retrieve(e.question, rag_top_k)
                augmented.append(rag.augment_row(e.row, self.cfg.data.format, found))
                if e.row.get("fact_id") is not None:
                    hits.append(any(p.id == e.row["fact_id"] for p in found))
            rows = augmented
        prompts = [encoder.prompt_text(r) for r in rows]
        model = self.base_model()
        if adapter_dir is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_dir)
            model.eval()
        try:
            gens = answer(model, tok, template, examples, prompts, self.cfg.eval.max_new_tokens,
                          self.batch_size)
        finally:
            if adapter_dir is not None:
                self._base = model.unload()  # the base weights without the LoRA layers
        subject.generations = gens
        subject.metrics = summarise(gens)
        if hits:
            subject.metrics["retrieval_hit_rate"] = round(sum(hits) / len(hits), 4)
        return subject


def evaluate_adapter(cfg: Any, adapter_dir: str | Path, chat_template: str | None = None,
                     rows: Sequence[Any] | None = None) -> Subject:
    """Behaviour metrics of one saved adapter (a trial's `adapter/` or `best_adapter/`).

    `chat_template`: the template the adapter trained with; None reads it from the adapter
    folder's tokenizer (same end-of-turn strings).
    """
    from sweep import data

    if rows is None:
        rows = data.load_splits(cfg.data, cfg.seed)[1]
    subject = Subject(str(adapter_dir), "adapter", chat_template or "tokenizer_default",
                      adapter=str(adapter_dir))
    return Evaluator(cfg, rows).run(subject, str(adapter_dir))


# --------------------------------------------------------------------------- after the sweep


def _template_of(cfg: Any, space: Any, trial: Any) -> str:
    name = trial.params.get("chat_template") or trial.user_attrs.get("chat_template")
    return name or space.fixed.get("chat_template") or cfg.data.chat_template


def select_trials(cfg: Any, space: Any, study: Any) -> list[Any]:
    """Trials to evaluate: the best per chat template when it is searched, else the top_k."""
    from sweep import results

    ranked = results.ranked(study)
    if any(p.name == "chat_template" for p in space.params):
        best: dict[str, Any] = {}
        for t in ranked:
            best.setdefault(_template_of(cfg, space, t), t)
        return list(best.values())
    return ranked[: max(cfg.eval.top_k, 1)]


def _adapter_dir(cfg: Any, trial: Any) -> Path | None:
    own = cfg.study_dir / "trials" / str(trial.number) / "adapter"
    if (own / "adapter_config.json").is_file():
        return own
    best = cfg.study_dir / "best_adapter"
    marker = best / "TRIAL"
    from sweep.results import adapter_marker

    if marker.is_file() and marker.read_text().strip() == adapter_marker(trial):
        return best
    return None


def _retrain(cfg: Any, space: Any, trial: Any, workdir: Path) -> Path:
    """Train a finished trial again (same settings and seed) to get its adapter back."""
    from sweep.train import NullReporter
    from sweep.trial import run_trial

    run_trial(cfg, space.from_values(trial.params), NullReporter(), workdir)
    return workdir / "adapter"


def passages_path(cfg: Any) -> Path | None:
    """The RAG passages: `eval.rag_passages`, else a `*facts.jsonl` file next to the train file."""
    configured = getattr(cfg.eval, "rag_passages", None)
    if configured:
        from sweep.config import REPO_ROOT

        path = Path(configured).expanduser()
        if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
            path = REPO_ROOT / path  # shipped files work from any directory, as for data.path
        return path
    found = sorted(Path(cfg.data.path).parent.glob("*facts.jsonl"))
    return found[0] if len(found) == 1 else None


def check_inputs(cfg: Any) -> None:
    """Bad behaviour-eval input (e.g. a broken passages file) as a ConfigError before training."""
    if not cfg.eval.behaviour or not cfg.eval.include_base or not getattr(cfg.eval, "rag", True):
        return
    path = passages_path(cfg)
    if path is not None:
        from sweep import rag

        rag.load_passages(path, "eval.rag_passages")


def evaluate_after_sweep(cfg: Any, space: Any, study: Any) -> list[Subject]:
    """Evaluate the selected trials' adapters, the base model and RAG; write the outputs.

    Returns the evaluated subjects (adapters first, then base and rag).
    """
    from sweep import data, results

    _, eval_rows = data.load_splits(cfg.data, cfg.seed)
    ev = Evaluator(cfg, eval_rows)
    subjects: list[Subject] = []
    scratch = Path(tempfile.mkdtemp(prefix=".behaviour-", dir=cfg.study_dir))
    try:
        for t in select_trials(cfg, space, study):
            tpl = _template_of(cfg, space, t)
            folder = _adapter_dir(cfg, t)
            if folder is None:
                print(f"behaviour: trial {t.number}'s adapter was not kept (keep_adapters="
                      f"{cfg.keep_adapters}); training it again with its settings", file=sys.stderr)
                folder = _retrain(cfg, space, t, scratch / str(t.number))
            subject = Subject(f"trial {t.number}", "adapter", tpl, t.number, t.value, str(folder))
            subjects.append(ev.run(subject, str(folder)))
            if folder.is_relative_to(scratch):
                subject.adapter = None  # retrained in a scratch folder that is removed below
        if cfg.eval.include_base:
            base_tpl = space.fixed.get("chat_template") or cfg.data.chat_template
            subjects.append(ev.run(Subject("base", "base", base_tpl)))
            rag_subject = _rag(cfg, ev, base_tpl)
            if rag_subject is not None:
                subjects.append(rag_subject)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_outputs(cfg, subjects)
    record(study, subjects)
    results.write_trials_csv(study, cfg.study_dir / "trials.csv")  # with the behaviour_* columns
    best = results.best_trial(study)
    if best is not None:
        from sweep import lm_eval_task

        lm_eval_task.write_task(cfg, eval_rows, _template_of(cfg, space, best))
    _print(subjects)
    return subjects


def _rag(cfg: Any, ev: Evaluator, template: str) -> Subject | None:
    from sweep import rag

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


COLUMNS = ("subject", "kind", "trial", "chat_template", "eval_loss", "n", "n_answerable", *METRICS,
           "retrieval_hit_rate", "adapter")


def behaviour_csv(subjects: Sequence[Subject]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore")
    w.writeheader()
    for s in subjects:
        w.writerow(s.row())
    return buf.getvalue()


def _pct(v: Any) -> str:
    return "" if v is None or v != v else f"{100 * v:.0f}%"


def behaviour_md(subjects: Sequence[Subject]) -> str:
    """The course's chat_template table, with measured numbers instead of yes/no."""
    head = ("| chat_template | subject | stopping (stop rate) | run-ons | privacy message | "
            "hallucinations | accuracy | token F1 |\n|---|---|---|---|---|---|---|---|\n")
    lines = [f"| {s.chat_template} | {s.name} | {_pct(s.metrics.get('stop_rate'))} | "
             f"{_pct(s.metrics.get('runon_rate'))} | {_pct(s.metrics.get('privacy_rate'))} | "
             f"{_pct(s.metrics.get('hallucination_rate'))} | {_pct(s.metrics.get('accuracy'))} | "
             f"{s.metrics.get('token_f1', float('nan')):.2f} |" for s in subjects]
    return head + "\n".join(lines) + "\n"


def write_outputs(cfg: Any, subjects: Sequence[Subject]) -> None:
    from sweep.results import atomic_write

    d = cfg.study_dir
    atomic_write(d / "behaviour.csv", behaviour_csv(subjects))
    atomic_write(d / "behaviour.md", behaviour_md(subjects))
    lines = []
    for s in subjects:
        for g in s.generations:
            v = judge(g)
            lines.append(json.dumps({
                "subject": s.name, "question": g.example.question, "reference": g.example.reference,
                "answerable": g.example.answerable, "answer": g.text, "raw": g.raw,
                "new_tokens": g.new_tokens, **asdict(v)}, ensure_ascii=False))
    atomic_write(d / "behaviour_generations.jsonl", "\n".join(lines) + "\n")


def _json_safe(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v


def record(study: Any, subjects: Sequence[Subject]) -> None:
    """User attrs `behaviour_<metric>` on the evaluated trials, and a summary on the study."""
    summary = {s.name: {k: _json_safe(v) for k, v in s.row().items() if k != "subject"} for s in subjects}
    study.set_user_attr("behaviour", summary)
    for s in subjects:
        if s.trial is not None:
            done = set_finished_trial_attrs(study, s.trial, {f"{ATTR_PREFIX}{k}": _json_safe(v)
                                                             for k, v in s.metrics.items()})
            if not done:
                print(f"behaviour: this storage cannot update finished trials; trial {s.trial}'s "
                      "metrics are in the study attr 'behaviour' and behaviour.csv", file=sys.stderr)


def set_finished_trial_attrs(study: Any, number: int, attrs: dict[str, Any]) -> bool:
    """Write user attrs on a FINISHED trial; True when it worked.

    Optuna refuses updates to finished trials through its public API, but behaviour is
    measured after the sweep. For relational storages (SQLite, PostgreSQL, MySQL: every
    storage this engine opens by default) the attrs are written through the storage's own
    session and the cached copy of the trial is updated, so `study.get_trials()` shows them at
    once. Other storages keep the numbers in the study attr `behaviour` only.
    """
    from optuna.storages import RDBStorage
    from optuna.storages._cached_storage import _CachedStorage
    from optuna.storages._rdb import models as rdb

    storage = study._storage
    backend = storage._backend if isinstance(storage, _CachedStorage) else storage
    if not isinstance(backend, RDBStorage):
        return False
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    session = backend.scoped_session()
    try:
        for key, value in attrs.items():
            row = session.query(rdb.TrialUserAttributeModel).filter_by(trial_id=trial_id, key=key).one_or_none()
            if row is None:
                session.add(rdb.TrialUserAttributeModel(trial_id=trial_id, key=key, value_json=json.dumps(value)))
            else:
                row.value_json = json.dumps(value)
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
    if isinstance(storage, _CachedStorage):
        with storage._lock:
            cached = storage._get_cached_trial(trial_id)
            if cached is not None:
                cached.user_attrs.update(attrs)
    return True


def _print(subjects: Sequence[Subject]) -> None:
    cols = ("stop_rate", "runon_rate", "accuracy", "hallucination_rate", "privacy_rate")
    print("\nbehaviour (greedy answers on the held-out questions):", file=sys.stderr)
    print("  " + "  ".join(["subject".ljust(12), "template".ljust(17), *cols]), file=sys.stderr)
    for s in subjects:
        vals = [_pct(s.metrics.get(c)).rjust(len(c)) for c in cols]
        print("  " + "  ".join([s.name.ljust(12), s.chat_template.ljust(17), *vals]), file=sys.stderr)
