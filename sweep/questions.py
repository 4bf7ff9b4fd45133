"""The behaviour questions one model answers: held-out rows and the shipped probes, greedy, scored.

`make_examples` turns held-out rows into questions (an evenly spread subset that keeps the
unanswerable ones), `probe_examples` asks the shipped probes in the same format.

`ask` takes a model already in memory: a trial asks its own adapter right after training, in its
own process and executor (sweep.trial, before Optuna is told the trial finished), and the
after-sweep evaluation asks the base model (sweep.behaviour). The answers are kept
(`CACHE_FILE` in the trial's folder, one JSON line per answer with its verdict), so an adapter
is asked once: the study's behaviour outputs are rebuilt from them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sweep import data, probes, rag, templates
from sweep.config import SweepConfig
from sweep.generation import answer
from sweep.key_facts import key_terms
from sweep.scoring import Example, Generation, is_idk, judge, summarise

CACHE_FILE = "behaviour.jsonl"  # in a trial's folder (<study>/trials/N/): its answers


def behaviour_rows(cfg: SweepConfig) -> list[data.Row]:
    """Every held-out row: `eval.max_examples` picks the behaviour subset (spread over the file,
    unanswerable questions included), not `data.max_eval_examples`, which cuts the eval-LOSS
    split to its first rows (a file's unanswerable questions usually come last)."""
    return data.load_splits(dataclasses.replace(cfg.data, max_eval_examples=None), cfg.seed)[1]


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
    fmt = encoder.cfg.layout
    out = []
    for d in data:
        question, reference = question_of(d, fmt), encoder.answer_text(d)
        keys = d.get("key") or d.get("key_fact")
        keys = (keys,) if isinstance(keys, str) else tuple(keys or key_terms(question, reference))
        # rows without the flag (e.g. preference pairs): an "I don't know" reference marks them
        answerable = d["answerable"] is not False if "answerable" in d else not is_idk(reference)
        out.append(Example(d, question, reference, answerable, keys))
    return out


def probe_examples(examples: Sequence[Example], encoder: Any) -> list[Example]:
    """The shipped probes (`sweep.probes`) as examples in the held-out rows' format."""
    like = examples[0].row if examples else {}
    fmt = encoder.cfg.layout  # ShareGPT rows are read as chat messages
    asked = question_of(like, fmt) if like else ""
    return [Example(probes.as_row(p, like, fmt, asked), p.question, "", False, (), p.kind)
            for p in probes.load()]


def ask(cfg: SweepConfig, model: Any, tokenizer: Any, template: templates.ChatTemplate,
        rows: Sequence[data.Row], *, retriever: Any = None, rag_top_k: int = 3,
        batch_size: int = 16) -> tuple[list[Generation], dict[str, float]]:
    """Greedy answers of `model` to the held-out questions (and the probes, `eval.probes`), and
    their metrics (`sweep.scoring.summarise`; with a `retriever`, also `retrieval_hit_rate`)."""
    encoder = data.Encoder(tokenizer, cfg.data, template.end_of_turn)
    examples = make_examples(rows, encoder, cfg.eval.max_examples)
    if cfg.eval.probes:  # the shipped probes (sweep.probes), scored apart
        examples += probe_examples(examples, encoder)
    prompt_rows = [e.row for e in examples]
    hits: list[bool] = []
    if retriever is not None:
        prompt_rows = []
        for e in examples:
            found = retriever.retrieve(e.question, rag_top_k)
            prompt_rows.append(rag.augment_row(e.row, cfg.data.layout, found))
            if e.row.get("fact_id") is not None:
                hits.append(any(p.id == e.row["fact_id"] for p in found))
    prompts = [encoder.prompt_text(r) for r in prompt_rows]
    was_training = getattr(model, "training", False)
    model.eval()
    use_cache = getattr(model.config, "use_cache", True)
    model.config.use_cache = True  # a trial trains without the KV cache; generation wants it
    try:
        gens = answer(model, tokenizer, template, examples, prompts, cfg.eval.max_new_tokens, batch_size)
    finally:
        model.config.use_cache = use_cache
        if was_training:
            model.train()
    metrics = summarise(gens)
    if hits:
        metrics["retrieval_hit_rate"] = round(sum(hits) / len(hits), 4)
    return gens, metrics


def to_line(g: Generation, **fields: Any) -> str:
    """One answer with its question, reference and verdict (behaviour_generations.jsonl's line)."""
    ex = g.example
    return json.dumps({**fields, "question": ex.question, "reference": ex.reference, "answerable": ex.answerable,
                       "probe": ex.probe, "keys": list(ex.keys), "answer": g.text, "raw": g.raw,
                       "new_tokens": g.new_tokens, "row": ex.row, **asdict(judge(g))}, ensure_ascii=False)


def from_line(line: str) -> Generation:
    """An answer back from `to_line` (verdicts are judged again by whoever reads it)."""
    d = json.loads(line)
    ex = Example(d.get("row") or {}, d["question"], d["reference"], d["answerable"], tuple(d["keys"]), d["probe"])
    return Generation(ex, d["raw"], d["answer"], d["stopped"], d["runon"], d["new_tokens"])


def read_cache(folder: Path) -> list[Generation] | None:
    """A trial's kept answers, or None when it was never asked (or its folder is gone)."""
    path = folder / CACHE_FILE
    if not path.is_file():
        return None
    return [from_line(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["CACHE_FILE", "ask", "behaviour_rows", "from_line", "make_examples", "probe_examples", "question_of",
           "read_cache", "to_line"]
