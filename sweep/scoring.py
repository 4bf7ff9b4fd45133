"""The scoring rules of behaviour evaluation: how one answer is judged, and what a set sums to.

Pure text rules, no model: normalisation, phrase matching, the key fact of a reference, the
verdict of one answer (`judge`) and the metrics of many (`summarise`), plus the held-out
questions as `Example`s (`make_examples`). `sweep.generation` produces the answers,
`sweep.behaviour` runs the evaluation after the sweep. The metrics:
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
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
METRICS: tuple[str, ...] = (
    "stop_rate", "runon_rate", "exact_match", "token_f1", "accuracy", "hallucination_rate",
    "privacy_rate", "idk_rate", "unanswerable_idk_rate", "empty_rate", "mean_new_tokens",
)
F1_CORRECT = 0.5
ATTR_PREFIX = "behaviour_"  # an evaluated trial's user attrs: behaviour_<metric>

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


