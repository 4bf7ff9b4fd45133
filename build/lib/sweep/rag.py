"""Retrieval for the RAG baseline: BM25 over the dataset's passages, put into the prompt.

"Fine-tune or retrieve?" is the first question of a knowledge-injection project, so the
behaviour table has a row where the BASE model answers with the top-k passages (BM25 via the
`rank_bm25` package) in its prompt. Passages come from a JSONL file of `{"id", "text"}` rows
(the shipped `sample_data/knowledge_facts.jsonl`), a JSON array of such rows or strings, or a
text file with one passage per paragraph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweep.datasource import parse_records
from sweep.errors import ConfigError, Problem

__all__ = ["BM25Retriever", "Passage", "augment_row", "context_block", "load_passages", "tokenize"]

# Function words carry no evidence of which passage answers a question; dropping them keeps
# BM25 from matching "the ... of ... is" in every passage.
_STOPWORDS = frozenset(
    "a an the is was were are be been of in on at to by for from with and or as it its this that "
    "which who whom whose what when where why how does do did has have had there their you your "
    "i we they he she his her can could would should will".split())


@dataclass(frozen=True)
class Passage:
    id: str
    text: str


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without function words (numbers keep their digits: 1,137 -> 1137)."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace(",", ""))
    return [w for w in words if w not in _STOPWORDS]


def load_passages(path: str | Path, key: str = "eval.rag_passages") -> list[Passage]:
    """Read passages; every problem is a ConfigError naming `key`, the file and the fix."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(Problem(key, str(path), "file not found; give a JSONL file of "
                                  '{"id": ..., "text": ...} rows or a text file of paragraphs'))
    text = p.read_text(encoding="utf-8")
    if p.suffix not in (".json", ".jsonl"):
        paras = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text) if b.strip()]
        out = [Passage(str(i), t) for i, t in enumerate(paras)]
    else:
        items = parse_records(p, key)
        out = []
        for i, (item, where) in enumerate(items):
            if isinstance(item, str) and item.strip():
                out.append(Passage(str(i), item.strip()))
            elif isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
                out.append(Passage(str(item.get("id", i)), item["text"].strip()))
            else:
                raise ConfigError(Problem(key, where, 'each passage needs a non-empty "text" string'))
    if not out:
        raise ConfigError(Problem(key, str(path), "no passages in the file; add some or point elsewhere"))
    return out


class BM25Retriever:
    """Top-k passages for a question by BM25 (Okapi) over `tokenize`d text."""

    def __init__(self, passages: Sequence[Passage], *, k1: float = 1.5, b: float = 0.75):
        from rank_bm25 import BM25Okapi

        if not passages:
            raise ValueError("BM25Retriever needs at least one passage")
        self.passages = list(passages)
        # a passage made only of stopwords would leave an empty document: keep a placeholder
        self._bm25 = BM25Okapi([tokenize(p.text) or ["_"] for p in self.passages], k1=k1, b=b)

    def scores(self, question: str) -> list[float]:
        return [float(s) for s in self._bm25.get_scores(tokenize(question))]

    def retrieve(self, question: str, k: int = 3) -> list[Passage]:
        """The `k` best passages, best first (ties keep file order)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, but got {k=}.")
        scores = self.scores(question)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        return [self.passages[i] for i in order[:k]]


def context_block(passages: Sequence[Passage]) -> str:
    lines = "\n".join(f"[{i}] {p.text}" for i, p in enumerate(passages, start=1))
    return f"Answer using these passages:\n{lines}"


def augment_row(row: dict[str, Any], fmt: str, passages: Sequence[Passage]) -> dict[str, Any]:
    """A copy of a data row whose question carries the passages (any data format)."""
    block = context_block(passages)
    row = json.loads(json.dumps(row))  # deep copy: rows are shared with other subjects
    if fmt == "chat":
        msgs = row["messages"]
        first_answer = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        user = max(i for i, m in enumerate(msgs[:first_answer]) if m["role"] == "user")
        msgs[user]["content"] = f"{block}\n\nQuestion: {msgs[user]['content']}"
    elif fmt == "alpaca":
        extra = row.get("input") or ""
        row["input"] = f"{block}\n\n{extra}".strip()
    elif fmt == "preference":
        row["prompt"] = f"{block}\n\n{row['prompt']}"
    elif row.get("prompt"):
        row["prompt"] = f"{block}\n\n{row['prompt']}"
    return row
