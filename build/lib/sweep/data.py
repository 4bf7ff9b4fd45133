"""Data: read and validate rows, then turn them into token ids with answer-only labels.

Rows come from any source `sweep.datasource` reads (JSONL, JSON, CSV, Parquet, a `datasets`
folder, a hub id). Formats: `chat` (rows with `messages`), `sharegpt` (`conversations` of
`from`/`value` turns, read as chat), `alpaca` (instruction/input/output), `completion`
(`text`, or `prompt` + `completion`), `preference` (prompt/chosen/rejected, for ORPO). Without
`data.eval_path`, a seeded `val_set_size` share of the rows is held out for eval
(`load_splits`). Every problem names the file and row. Loss is on answer
tokens only, and with `add_eos` every answer ends with the end-of-turn token, so the model
learns to stop; with `add_eos: false` that token is left unlabelled (to show what happens).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from sweep import datasource
from sweep.config import DataConfig
from sweep.errors import ConfigError, Problem, Problems

IGNORE = -100
ROLES = ("system", "user", "assistant")
ALPACA_PROMPT = ("Below is an instruction that describes a task. Write a response that "
                 "appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n")
ALPACA_INPUT = "### Input:\n{input}\n\n"
ALPACA_RESPONSE = "### Response:\n"


@dataclass(frozen=True)
class Row:
    """One validated example; `where` is 'file:line' for error messages."""

    data: dict[str, Any]
    where: str


def read_rows(path: str, fmt: str, key: str, split: str | None = None) -> list[Row]:
    """Read any source (`sweep.datasource`) and validate every row for `fmt`; all problems at once.

    ShareGPT rows come back as chat rows: `conversations` of `from`/`value` turns become
    `messages` of `role`/`content` (human -> user, gpt -> assistant, system -> system).
    """
    problems = Problems()
    rows = []
    for item, where in datasource.read_records(path, key, split):
        shape = datasource.shape_of(item)
        err = _check_row(item, fmt)
        if err is None and fmt == "sharegpt":
            item, err = _from_sharegpt(item)
        if err is None and fmt in ("chat", "sharegpt"):
            err = _check_row(item, "chat")
        if err:
            if shape and shape[0] != fmt:
                err += f"; this row has {shape[1]} ({shape[0]}): set data.format={shape[0]} or fix the row"
            problems.add(key, where, err)
        else:
            rows.append(Row(item, where))
        if len(problems.items) >= 5:
            break
    problems.raise_if_any()
    if not rows:
        raise ConfigError(Problem(key, path, f"no {fmt} examples in the file; add rows or point to another file"))
    return rows


# ShareGPT speaker names (as Axolotl and Unsloth read them) -> chat roles
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "model": "assistant", "system": "system"}


def _from_sharegpt(item: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A ShareGPT row as a chat row, or the problem with it."""
    msgs = []
    for i, turn in enumerate(item["conversations"]):
        if not isinstance(turn, dict):
            return item, f"conversations[{i}] must be an object with 'from' and 'value'"
        speaker = turn.get("from", turn.get("role"))
        if speaker not in SHAREGPT_ROLES:
            return item, (f"conversations[{i}].from is {speaker!r}; use one of "
                          f"{', '.join(SHAREGPT_ROLES)} (tool turns are not supported)")
        msgs.append({"role": SHAREGPT_ROLES[speaker], "content": turn.get("value", turn.get("content"))})
    rest = {k: v for k, v in item.items() if k != "conversations"}
    return {**rest, "messages": msgs}, None


def _nonempty(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _check_row(item: Any, fmt: str) -> str | None:
    if not isinstance(item, dict):
        return "each row must be a JSON object"
    if fmt == "sharegpt":
        conv = item.get("conversations")
        if not isinstance(conv, list) or not conv:
            return "sharegpt rows need a non-empty 'conversations' list of from/value turns (data.format=sharegpt)"
        return None
    if fmt == "chat":
        msgs = item.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "chat rows need a non-empty 'messages' list (data.format=chat)"
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return f"messages[{i}].role must be one of {', '.join(ROLES)}"
            if not _nonempty(m.get("content")):
                return f"messages[{i}].content must be a non-empty string"
        if not any(m["role"] == "assistant" for m in msgs):
            return "a chat row needs at least one assistant message to learn from"
        first = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        if not any(m["role"] == "user" for m in msgs[:first]):
            return "a chat row needs a user message before the first assistant message"
        return None
    if fmt == "alpaca":
        if not _nonempty(item.get("instruction")) or not _nonempty(item.get("output")):
            return "alpaca rows need non-empty 'instruction' and 'output' ('input' optional)"
        if "input" in item and not isinstance(item["input"], str):
            return "alpaca 'input' must be a string"
        return None
    if fmt == "completion":
        if _nonempty(item.get("text")):
            return None
        if _nonempty(item.get("prompt")) and _nonempty(item.get("completion")):
            return None
        return "completion rows need 'text', or 'prompt' and 'completion'"
    if fmt == "preference":
        for f in ("prompt", "chosen", "rejected"):
            if not _nonempty(item.get(f)):
                return f"preference rows need non-empty '{f}' (prompt/chosen/rejected)"
        if item["chosen"].strip() == item["rejected"].strip():
            return "'chosen' and 'rejected' are identical; a preference pair must differ"
        return None
    return f"unknown data.format {fmt!r}"


MIN_EVAL_ROWS = 5  # a held-out split has at least this many rows ...
MIN_TRAIN_ROWS = 5  # ... and leaves at least this many to train on


def split_sizes(n_rows: int, share: float) -> tuple[int, int]:
    """(train, eval) row counts of a `share` split: ceil(share x rows), at least MIN_EVAL_ROWS."""
    n_eval = max(MIN_EVAL_ROWS, math.ceil(n_rows * share))
    return n_rows - n_eval, n_eval


def load_splits(cfg: DataConfig, seed: int) -> tuple[list[Row], list[Row]]:
    """Train and eval rows, validated. Eval: `eval_path`, else a seeded `val_set_size` split.

    The split is a function of the rows, the share and the seed only (Python's seeded
    `random.Random` shuffle of row indices), so every process that reads the same file (the
    preflight, each trial inline or under Ray, the behaviour evaluation, the export and
    `sweep.retrain from=best.yaml`) holds out the same rows.
    """
    train = read_rows(cfg.path, cfg.format, "data.path", cfg.split)
    if cfg.eval_path:
        evals = read_rows(cfg.eval_path, cfg.format, "data.eval_path")
    else:
        if not 0.0 < cfg.val_set_size < 1.0:
            raise ConfigError(Problem("data.val_set_size", cfg.val_set_size,
                                      "must be in (0, 1) to hold out part of data.path for eval (e.g. 0.1), "
                                      "or set data.eval_path to a held-out file"))
        n_train, n_eval = split_sizes(len(train), cfg.val_set_size)
        if n_train < MIN_TRAIN_ROWS:
            raise ConfigError(Problem("data.path", cfg.path,
                                      f"has {len(train)} row{'s' if len(train) != 1 else ''}; holding out {cfg.val_set_size * 100:g}% for eval (at "
                                      f"least {MIN_EVAL_ROWS} rows) leaves {max(n_train, 0)} to train on, fewer "
                                      f"than {MIN_TRAIN_ROWS}; add rows, lower data.val_set_size, or give a held-out "
                                      "file as data.eval_path"))
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        evals = [train[i] for i in sorted(order[:n_eval])]
        train = [train[i] for i in sorted(order[n_eval:])]
    if cfg.max_train_examples:
        train = train[: cfg.max_train_examples]
    if cfg.max_eval_examples:
        evals = evals[: cfg.max_eval_examples]
    return train, evals


def describe_eval(cfg: DataConfig, seed: int, n_eval: int) -> str:
    """Which rows the sweep evaluates on, in one line (printed at the start, in the report)."""
    if cfg.eval_path:
        return f"eval: {datasource.short_name(cfg.eval_path)}, {n_eval} rows (data.eval_path)"
    return f"eval: {cfg.val_set_size * 100:g}% of {datasource.short_name(cfg.path)}, {n_eval} rows, seed {seed}"


# --------------------------------------------------------------------------- encoding


def to_messages(row: dict[str, Any], fmt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """A chat-format view of a row (preference rows: the prompt plus the chosen answer)."""
    if fmt == "chat":
        msgs = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    elif fmt == "preference":
        msgs = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["chosen"]}]
    elif fmt == "alpaca":
        user = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]
    else:
        raise ValueError(fmt)
    if system_prompt and msgs[0]["role"] != "system":
        msgs = [{"role": "system", "content": system_prompt}, *msgs]
    return msgs


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _render(tokenizer, msgs, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt)


class Encoder:
    """Turns rows into {input_ids, labels}; labels are -100 outside answers."""

    def __init__(self, tokenizer, cfg: DataConfig, end_of_turn: tuple[str, ...]):
        self.tok = tokenizer
        self.cfg = cfg
        self.end_of_turn = end_of_turn

    def prompt_text(self, row: dict[str, Any]) -> str:
        """The text a model is given at inference (everything before the first answer)."""
        fmt = self.cfg.layout
        if fmt in ("chat", "preference"):
            msgs = to_messages(row, fmt, self.cfg.system_prompt)
            first = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
            return _render(self.tok, msgs[:first], True)
        if fmt == "alpaca":
            return self._alpaca_prompt(row)
        return (self.tok.bos_token or "") + (row.get("prompt") or "")

    def answer_text(self, row: dict[str, Any]) -> str:
        """The reference answer of a row (the first assistant turn)."""
        fmt = self.cfg.layout
        if fmt == "chat":
            return next(m["content"] for m in row["messages"] if m["role"] == "assistant")
        if fmt == "alpaca":
            return row["output"]
        if fmt == "preference":
            return row["chosen"]
        return row.get("completion") or row.get("text", "")

    def _alpaca_prompt(self, row: dict[str, Any]) -> str:
        bos = self.tok.bos_token or ""
        text = bos + ALPACA_PROMPT.format(instruction=row["instruction"])
        if row.get("input"):
            text += ALPACA_INPUT.format(input=row["input"])
        return text + ALPACA_RESPONSE

    def encode(self, row: dict[str, Any], answer_key: str = "chosen") -> dict[str, list[int]] | None:
        """Token ids and answer-only labels, truncated to max_seq_len; None if no answer fits."""
        fmt = self.cfg.layout
        eos = self.tok.eos_token or ""
        if fmt in ("chat", "preference"):
            if fmt == "preference":
                row = {"prompt": row["prompt"], "chosen": row[answer_key]}
            msgs = to_messages(row, fmt, self.cfg.system_prompt)
            ids: list[int] = []
            labels: list[int] = []
            prev = ""
            for i, m in enumerate(msgs):
                if m["role"] != "assistant":
                    continue
                before = _render(self.tok, msgs[:i], True)
                upto = _render(self.tok, msgs[: i + 1], False)
                if not before.startswith(prev) or not upto.startswith(before):
                    raise ConfigError(Problem("data.chat_template", self.cfg.chat_template,
                                              "this template is not prefix-stable; choose another"))
                answer = upto[len(before):]
                # keep the end-of-turn token(s) with the answer; trailing newlines are not learned
                stripped = answer.rstrip("\n")
                tail = answer[len(stripped):]
                ids += _ids(self.tok, before[len(prev):])
                labels += [IGNORE] * (len(ids) - len(labels))
                body, end = self._split_end(stripped)
                a_ids = _ids(self.tok, body)
                e_ids = _ids(self.tok, end) if end else []
                ids += a_ids + e_ids
                labels += a_ids + (e_ids if self.cfg.add_eos else [IGNORE] * len(e_ids))
                if tail:
                    t_ids = _ids(self.tok, tail)
                    ids += t_ids
                    labels += [IGNORE] * len(t_ids)
                prev = upto
        else:
            if fmt == "alpaca":
                prompt, answer = self._alpaca_prompt(row), row["output"]
            elif row.get("text"):
                prompt, answer = (self.tok.bos_token or ""), row["text"]
            else:
                prompt, answer = (self.tok.bos_token or "") + row["prompt"], row["completion"]
            p_ids, a_ids = _ids(self.tok, prompt), _ids(self.tok, answer)
            e_ids = _ids(self.tok, eos) if eos else []
            ids = p_ids + a_ids + e_ids
            labels = [IGNORE] * len(p_ids) + a_ids + (e_ids if self.cfg.add_eos else [IGNORE] * len(e_ids))
        ids, labels = ids[: self.cfg.max_seq_len], labels[: self.cfg.max_seq_len]
        if all(x == IGNORE for x in labels):
            return None
        return {"input_ids": ids, "labels": labels}

    def _split_end(self, answer: str) -> tuple[str, str]:
        for e in sorted(self.end_of_turn, key=len, reverse=True):
            if e and answer.endswith(e):
                return answer[: -len(e)], e
        return answer, ""


def encode_rows(encoder: Encoder, rows: list[Row], key: str) -> list[dict[str, list[int]]]:
    out = []
    for r in rows:
        if r.data.get("answerable") is False:
            continue  # "I don't know" probes are for behaviour eval, not for the loss
        enc = _encode_checked(encoder, r, key)
        if enc is not None:
            out.append(enc)
    if not out:
        raise ConfigError(Problem("data.max_seq_len", encoder.cfg.max_seq_len,
                                  f"no answer token of {key} fits; raise data.max_seq_len"))
    return out


def encode_splits(encoder: Encoder, objective: str, train_rows: list[Row],
                  eval_rows: list[Row]) -> tuple[list[dict], list[dict]]:
    """Training examples (preference pairs for ORPO) and eval examples, answer-only labels."""
    if objective == "orpo":
        train = encode_preferences(encoder, train_rows)
    else:
        train = encode_rows(encoder, train_rows, "data.path")
    return train, encode_rows(encoder, eval_rows, "data.eval_path")


def _encode_checked(encoder: Encoder, row: Row, key: str, answer_key: str = "chosen"):
    """Encode a row; a template that cannot render it is bad input naming the row."""
    from jinja2 import TemplateError

    try:
        return encoder.encode(row.data, answer_key)
    except (TemplateError, ValueError) as exc:
        raise ConfigError(Problem(key, row.where, f"the chat template {encoder.cfg.chat_template!r} cannot "
                                  f"render this row ({exc}); fix the row or choose another template")) from None


def encode_preferences(encoder: Encoder, rows: list[Row]) -> list[dict[str, list[int]]]:
    """Chosen and rejected sequences side by side (for ORPO)."""
    out = []
    for r in rows:
        c = _encode_checked(encoder, r, "data.path", "chosen")
        j = _encode_checked(encoder, r, "data.path", "rejected")
        if c is not None and j is not None:
            out.append({"input_ids": c["input_ids"], "labels": c["labels"],
                        "rejected_input_ids": j["input_ids"], "rejected_labels": j["labels"]})
    if not out:
        raise ConfigError(Problem("data.max_seq_len", encoder.cfg.max_seq_len,
                                  "no preference pair fits; raise data.max_seq_len"))
    return out
