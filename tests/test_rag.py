"""BM25 retrieval for the RAG baseline: passages, ranking on the shipped facts, prompts."""

from __future__ import annotations

import json

import pytest

from sweep import rag
from sweep.config import SAMPLE_DATA_DIR
from sweep.errors import ConfigError

FACTS = SAMPLE_DATA_DIR / "knowledge_facts.jsonl"
EVAL = SAMPLE_DATA_DIR / "knowledge_eval.jsonl"


def test_tokenize_drops_function_words_and_keeps_numbers():
    assert rag.tokenize("What is the height of Mount Ferrowen, 1,137 m?") == ["height", "mount", "ferrowen",
                                                                             "1137", "m"]


def test_load_passages_formats(tmp_path):
    ps = rag.load_passages(FACTS)
    assert len(ps) == 52 and ps[0].id == "f01" and "Ollendrine" in ps[0].text
    (tmp_path / "a.json").write_text(json.dumps(["First passage.", {"id": "x", "text": "Second."}]))
    assert [(p.id, p.text) for p in rag.load_passages(tmp_path / "a.json")] == [("0", "First passage."),
                                                                               ("x", "Second.")]
    (tmp_path / "notes.txt").write_text("One paragraph\nwrapped.\n\nAnother one.\n")
    assert [p.text for p in rag.load_passages(tmp_path / "notes.txt")] == ["One paragraph wrapped.",
                                                                           "Another one."]


@pytest.mark.parametrize("content, fix", [
    (None, "file not found"),
    ('{"id": 1}\n', 'non-empty "text"'),
    ("{not json\n", "not valid JSON"),
    ("", "no passages"),
])
def test_bad_passage_files_name_key_and_fix(tmp_path, content, fix):
    path = tmp_path / "p.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        rag.load_passages(path, "eval.rag_passages")
    assert err.value.problems[0].key == "eval.rag_passages"
    assert fix in err.value.problems[0].fix


def test_bm25_finds_the_fact_of_most_held_out_questions():
    retriever = rag.BM25Retriever(rag.load_passages(FACTS))
    rows = [json.loads(line) for line in EVAL.read_text().splitlines()]
    answerable = [r for r in rows if r["answerable"]]
    hits = [any(p.id == r["fact_id"] for p in retriever.retrieve(r["messages"][1]["content"], 3))
            for r in answerable]
    assert sum(hits) / len(hits) >= 0.75  # measured: 0.83 at k=3, 0.75 at k=1
    top = retriever.retrieve("How many hydrophones are in the Ardent Array?", 1)[0]
    assert top.id == "f18"
    with pytest.raises(ValueError, match="k=0"):
        retriever.retrieve("x", 0)


def test_augment_row_puts_passages_into_the_question():
    passages = [rag.Passage("f04", "Mount Ferrowen rises to 1,137 metres.")]
    chat = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How tall?"},
                         {"role": "assistant", "content": "1,137 metres."}]}
    out = rag.augment_row(chat, "chat", passages)
    assert out["messages"][1]["content"].startswith("Answer using these passages:\n[1] Mount Ferrowen")
    assert out["messages"][1]["content"].endswith("Question: How tall?")
    assert chat["messages"][1]["content"] == "How tall?"  # the shared row is not changed
    assert "[1] Mount Ferrowen" in rag.augment_row({"instruction": "How tall?", "output": "x"}, "alpaca",
                                                   passages)["input"]
    comp = rag.augment_row({"prompt": "Question: How tall?\nAnswer:", "completion": " x"}, "completion", passages)
    assert comp["prompt"].endswith("Question: How tall?\nAnswer:")


def test_behaviour_checks_the_passages_file_before_training(tmp_path):
    from types import SimpleNamespace

    from sweep import behaviour
    from sweep.config import load_config

    cfg = load_config([])
    assert behaviour.passages_path(cfg) == FACTS  # found next to the shipped train file
    behaviour.check_inputs(cfg)
    bad = tmp_path / "facts.jsonl"
    bad.write_text('{"id": "x"}\n')
    fake = SimpleNamespace(eval=SimpleNamespace(behaviour=True, include_base=True, rag=True, rag_passages=str(bad)),
                           data=cfg.data)
    with pytest.raises(ConfigError) as err:
        behaviour.check_inputs(fake)
    assert err.value.problems[0].key == "eval.rag_passages"
