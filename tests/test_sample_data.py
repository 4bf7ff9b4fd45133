"""Checks on the generated sample dataset in sample_data/ (see sample_data/README.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sweep import probes, scoring

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "sample_data"
SCRIPT = ROOT / "scripts" / "make_sample_data.py"

FILES = [
    "README.md",
    "knowledge_train.jsonl",
    "knowledge_eval.jsonl",
    "knowledge_train_alpaca.json",
    "knowledge_eval_alpaca.json",
    "knowledge_train_completion.jsonl",
    "knowledge_eval_completion.jsonl",
    "knowledge_facts.jsonl",
    "knowledge_preferences.jsonl",
    "knowledge_preferences_eval.jsonl",
]
IDK = "I don't know."


def _read_jsonl(name: str) -> list[dict]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _read_json(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _chat_qa(row: dict) -> tuple[str, str]:
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant"]
    return row["messages"][1]["content"], row["messages"][2]["content"]


@pytest.fixture(scope="module")
def train() -> list[dict]:
    return _read_jsonl("knowledge_train.jsonl")


@pytest.fixture(scope="module")
def evals() -> list[dict]:
    return _read_jsonl("knowledge_eval.jsonl")


@pytest.fixture(scope="module")
def facts() -> list[dict]:
    return _read_jsonl("knowledge_facts.jsonl")


@pytest.mark.parametrize("name", FILES)
def test_file_exists_parses_and_ends_with_newline(name: str) -> None:
    path = DATA / name
    assert path.is_file(), path
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    if name.endswith(".jsonl"):
        rows = _read_jsonl(name)
        assert rows and all(isinstance(r, dict) for r in rows)
    elif name.endswith(".json"):
        rows = _read_json(name)
        assert isinstance(rows, list) and rows


def test_chat_rows_shape(train: list[dict], evals: list[dict]) -> None:
    system_prompts = {row["messages"][0]["content"] for row in train + evals}
    assert len(system_prompts) == 1
    for row in train:
        q, a = _chat_qa(row)
        assert q and a and "answerable" not in row
        assert re.fullmatch(r"[frn]\d\d", row["fact_id"])  # facts, privacy refusals, "I don't know"s
    for row in evals:
        q, a = _chat_qa(row)
        assert isinstance(row["answerable"], bool)
        if row["answerable"]:
            assert re.fullmatch(r"f\d\d", row["fact_id"]) and a != IDK
            assert row["key"] in a  # the span the behaviour evaluation looks for
        else:
            assert re.fullmatch(r"u\d\d", row["fact_id"]) and a == IDK and "key" not in row


def test_counts_and_order_match_across_formats(train: list[dict], evals: list[dict]) -> None:
    for split, chat in (("train", train), ("eval", evals)):
        alpaca = _read_json(f"knowledge_{split}_alpaca.json")
        completion = _read_jsonl(f"knowledge_{split}_completion.jsonl")
        assert len(chat) == len(alpaca) == len(completion)
        for c, al, co in zip(chat, alpaca, completion, strict=True):
            q, a = _chat_qa(c)
            assert (al["instruction"], al["input"], al["output"]) == (q, "", a)
            assert co["prompt"] == f"Question: {q}\nAnswer:"
            assert co["completion"] == f" {a}"
            if split == "eval":
                assert al["answerable"] == co["answerable"] == c["answerable"]


def test_expected_sizes(train: list[dict], evals: list[dict], facts: list[dict]) -> None:
    assert 48 <= len(facts) <= 60
    answerable = [e for e in evals if e["answerable"]]
    unanswerable = [e for e in evals if not e["answerable"]]
    assert len(answerable) == len(facts)
    assert len(unanswerable) >= 5
    assert len(_read_jsonl("knowledge_preferences_eval.jsonl")) == len(evals)
    prefs = _read_jsonl("knowledge_preferences.jsonl")
    per_fact = Counter(p["fact_id"] for p in prefs if p["fact_id"].startswith("f"))
    assert set(per_fact) == {f["id"] for f in facts}
    assert set(per_fact.values()) <= {1, 2}


def test_fact_ids_consistent(train: list[dict], evals: list[dict], facts: list[dict]) -> None:
    ids = [f["id"] for f in facts]
    assert ids == sorted(set(ids))
    assert all(f["text"].strip() for f in facts)
    assert {r["fact_id"] for r in train if r["fact_id"].startswith("f")} == set(ids)
    assert [e["fact_id"] for e in evals if e["answerable"]] == ids


def test_no_eval_question_in_train(train: list[dict], evals: list[dict]) -> None:
    train_q = {_chat_qa(r)[0] for r in train}
    train_norm = {_norm(q) for q in train_q}
    eval_q = [_chat_qa(r)[0] for r in evals]
    assert len(set(eval_q)) == len(eval_q)
    for q in eval_q:
        assert q not in train_q, q
        assert _norm(q) not in train_norm, q
    pref_train_prompts = {p["prompt"] for p in _read_jsonl("knowledge_preferences.jsonl")}
    assert not pref_train_prompts & set(eval_q)


def test_every_fact_has_at_least_four_train_phrasings(train: list[dict], facts: list[dict]) -> None:
    by_fact: dict[str, set[str]] = {}
    for row in train:
        by_fact.setdefault(row["fact_id"], set()).add(_norm(_chat_qa(row)[0]))
    for f in facts:
        assert len(by_fact.get(f["id"], ())) >= 4, f["id"]


def test_answers_are_short(train: list[dict], evals: list[dict]) -> None:
    for row in train + evals:
        assert len(_chat_qa(row)[1].split()) <= 25


@pytest.mark.parametrize(
    "name", ["knowledge_preferences.jsonl", "knowledge_preferences_eval.jsonl"]
)
def test_preferences_chosen_differs_from_rejected(name: str) -> None:
    rows = _read_jsonl(name)
    assert rows
    for row in rows:
        keys = {"prompt", "chosen", "rejected", "fact_id"}
        if name.endswith("_eval.jsonl"):
            keys |= {"answerable", "key"} if row["answerable"] else {"answerable"}
        assert set(row) == keys
        assert row["prompt"] and row["chosen"] and row["rejected"]
        assert row["chosen"] != row["rejected"], row


def test_eval_preferences_match_eval_set(evals: list[dict]) -> None:
    prefs = _read_jsonl("knowledge_preferences_eval.jsonl")
    for p, e in zip(prefs, evals, strict=True):
        q, a = _chat_qa(e)
        assert (p["prompt"], p["chosen"], p["fact_id"]) == (q, a, e["fact_id"])


def test_regenerating_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "regen"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=ROOT)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (out / name).read_bytes() == (DATA / name).read_bytes(), name


def test_train_teaches_privacy_refusals_and_idk(train: list[dict], evals: list[dict]) -> None:
    """The course notes' behaviours are in the training split, on questions that neither the
    held-out set nor the engine's probe set asks, and the engine's rules score them as meant."""
    privacy = [_chat_qa(r) for r in train if r["fact_id"].startswith("r")]
    unknown = [_chat_qa(r) for r in train if r["fact_id"].startswith("n")]
    assert len(privacy) >= 50 and len(unknown) >= 50
    # a visible share of a short run: the default run's ~100 examples see each behaviour ~15 times
    assert (len(privacy) + len(unknown)) / len(train) >= 0.3
    for _, a in privacy:
        assert scoring.is_privacy(a) and not scoring.is_idk(a), a
    assert all(a == IDK and scoring.is_idk(a) for _, a in unknown)
    held_out = {_norm(_chat_qa(r)[0]) for r in evals} | {_norm(p.question) for p in probes.load()}
    assert not {_norm(q) for q, _ in privacy + unknown} & held_out
    pairs = [p for p in _read_jsonl("knowledge_preferences.jsonl") if p["fact_id"][0] in "rn"]
    assert len(pairs) == len(privacy) + len(unknown)
    for p in pairs:  # rejected: an invented leak or a confident made-up answer
        assert not scoring.is_privacy(p["rejected"]) and not scoring.is_idk(p["rejected"]), p
