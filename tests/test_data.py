"""Data validation and answer-only encoding."""

from __future__ import annotations

import json

import pytest

from sweep import data, models, templates
from sweep.config import load_config
from sweep.data import IGNORE
from sweep.errors import ConfigError


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    cfg = load_config([])
    return AutoTokenizer.from_pretrained(models.resolve(cfg.model))


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


CHAT = {"messages": [{"role": "user", "content": "Where is Tavenmoor?"},
                     {"role": "assistant", "content": "In the Ollendrine Sea."}]}


def test_malformed_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps(CHAT) + "\n{not json\n")
    with pytest.raises(ConfigError) as err:
        data.read_rows(str(p), "chat", "data.path")
    assert f"{p}:2" in err.value.message() and "data.path" in err.value.message()


@pytest.mark.parametrize("row, needle", [
    ({"messages": []}, "non-empty 'messages'"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "role must be"),
    ({"messages": [{"role": "user", "content": "only a question"}]}, "assistant message"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]}, "non-empty string"),
    ({"text": "wrong format"}, "messages"),
])
def test_bad_chat_rows(tmp_path, row, needle):
    p = _write(tmp_path / "d.jsonl", [CHAT, row])
    with pytest.raises(ConfigError) as err:
        data.read_rows(p, "chat", "data.path")
    assert needle in err.value.message() and ":2" in err.value.message()


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        data.read_rows(str(tmp_path / "nope.jsonl"), "chat", "data.path")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match="empty.jsonl.*empty .no rows.; add rows"):
        data.read_rows(str(tmp_path / "empty.jsonl"), "chat", "data.eval_path")


def test_alpaca_completion_preference_validation(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps([{"instruction": "q", "output": "a"}, {"instruction": "q"}]))
    with pytest.raises(ConfigError, match=r"a.json\[1\].*instruction"):
        data.read_rows(str(p), "alpaca", "data.path")
    p = _write(tmp_path / "c.jsonl", [{"prompt": "Q:", "completion": " A"}, {"prompt": "Q:"}])
    with pytest.raises(ConfigError, match="completion"):
        data.read_rows(p, "completion", "data.path")
    p = _write(tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "a"}])
    with pytest.raises(ConfigError, match="identical"):
        data.read_rows(p, "preference", "data.path")


def test_val_set_size_split_is_seeded(tmp_path):
    p = _write(tmp_path / "d.jsonl", [CHAT] * 30)
    cfg = load_config([f"data.path={p}", "data.val_set_size=0.2"])
    tr, ev = data.load_splits(cfg.data, seed=0)
    assert len(tr) == 24 and len(ev) == 6
    with pytest.raises(ConfigError, match="data.val_set_size.*data.eval_path"):
        load_config([f"data.path={p}", "data.val_set_size=0.0"])
    cfg = load_config([f"data.path={p}", "data.val_set_size=0.01"])  # 1% of 30: the minimum, 5 rows
    assert [len(x) for x in data.load_splits(cfg.data, seed=0)] == [25, 5]


def _answer_tokens(tok, enc):
    return tok.decode([t for t, y in zip(enc["input_ids"], enc["labels"], strict=True) if y != IGNORE])


@pytest.mark.parametrize("template", ["tokenizer_default", "chatml", "llama3", "phi_3", "alpaca", "mistral_v2v3"])
def test_chat_loss_is_on_the_answer_and_its_end_token_only(tokenizer, template):
    tpl = templates.apply_template(tokenizer, template)
    cfg = load_config([f"data.chat_template={template}"])
    enc = data.Encoder(tokenizer, cfg.data, tpl.end_of_turn).encode(CHAT)
    learned = _answer_tokens(tokenizer, enc)
    assert learned.startswith("In the Ollendrine Sea.") or learned.startswith(" In the Ollendrine Sea.")
    assert any(learned.endswith(e) for e in tpl.end_of_turn), (learned, tpl.end_of_turn)
    assert "Where is Tavenmoor" not in learned
    # without add_eos the end-of-turn token is still in the input but never learned
    cfg = load_config([f"data.chat_template={template}", "data.add_eos=false"])
    enc2 = data.Encoder(tokenizer, cfg.data, tpl.end_of_turn).encode(CHAT)
    assert enc2["input_ids"] == enc["input_ids"]
    assert not any(_answer_tokens(tokenizer, enc2).endswith(e) for e in tpl.end_of_turn)


def test_alpaca_and_completion_end_with_eos(tokenizer):
    cfg = load_config(["data=sample_alpaca"])
    enc = data.Encoder(tokenizer, cfg.data, ()).encode({"instruction": "Where?", "input": "", "output": "Here."})
    assert _answer_tokens(tokenizer, enc) == "Here." + tokenizer.eos_token
    cfg = load_config(["data=sample_completion"])
    enc = data.Encoder(tokenizer, cfg.data, ()).encode({"prompt": "Q: Where?\nA:", "completion": " Here."})
    assert _answer_tokens(tokenizer, enc) == " Here." + tokenizer.eos_token


def test_truncation_that_removes_every_answer_is_an_error(tokenizer):
    cfg = load_config(["data.max_seq_len=8"])
    rows, _ = data.load_splits(cfg.data, 0)
    enc = data.Encoder(tokenizer, cfg.data, templates.apply_template(tokenizer, None).end_of_turn)
    with pytest.raises(ConfigError, match="data.max_seq_len"):
        data.encode_rows(enc, rows, "data.path")


def test_unanswerable_probes_are_not_in_the_eval_loss(tokenizer):
    cfg = load_config([])
    _, ev = data.load_splits(cfg.data, 0)
    enc = data.Encoder(tokenizer, cfg.data, templates.apply_template(tokenizer, None).end_of_turn)
    answerable = [r for r in ev if r.data.get("answerable") is not False]
    assert len(answerable) < len(ev)
    assert len(data.encode_rows(enc, ev, "data.eval_path")) == len(answerable)
