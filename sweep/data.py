"""Data: read and validate rows, then turn them into token ids with answer-only labels.

Formats: `chat` (JSONL rows with `messages`), `alpaca` (JSON array or JSONL of
instruction/input/output), `completion` (`text`, or `prompt` + `completion`), `preference`
(prompt/chosen/rejected, for ORPO). Every problem names the file and line. Loss is on answer
tokens only, and with `add_eos` every answer ends with the end-of-turn token, so the model
learns to stop; with `add_eos: false` that token is left unlabelled (to show what happens).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def read_rows(path: str, fmt: str, key: str) -> list[Row]:
    """Parse a JSON / JSONL file and validate every row for `fmt`; all problems at once."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(Problem(key, path, "file not found; give an existing JSON/JSONL file"))
    problems = Problems()
    raw = parse_records(p, key, problems)
    rows = []
    for item, where in raw:
        err = _check_row(item, fmt)
        if err:
            problems.add(key, where, err)
        else:
            rows.append(Row(item, where))
        if len(problems.items) >= 5:
            break
    problems.raise_if_any()
    if not rows:
        raise ConfigError(Problem(key, path, f"no {fmt} examples in the file; add rows or point to another file"))
    return rows


def parse_records(path: Path, key: str, problems: Problems | None = None) -> list[tuple[Any, str]]:
    """(record, 'file:line') pairs of a JSON array or a JSONL file.

    A bad JSONL line is added to `problems` (so all of them are reported together) or, without
    a collector, raised at once; a JSON array that does not parse is raised at once.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(key, str(path), f"not UTF-8 text (byte {exc.start}); save it as UTF-8")) from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(Problem(key, f"{path}:{exc.lineno}", f"not valid JSON ({exc.msg})")) from None
        return [(item, f"{path}[{i}]") for i, item in enumerate(items)]
    out: list[tuple[Any, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), f"{path}:{n}"))
        except json.JSONDecodeError as exc:
            problem = (key, f"{path}:{n}", f"line is not valid JSON ({exc.msg}); one JSON object per line")
            if problems is None:
                raise ConfigError(Problem(*problem)) from None
            problems.add(*problem)
    return out


def _nonempty(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _check_row(item: Any, fmt: str) -> str | None:
    if not isinstance(item, dict):
        return "each row must be a JSON object"
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


def load_splits(cfg: DataConfig, seed: int) -> tuple[list[Row], list[Row]]:
    """Train and eval rows, validated. Eval: `eval_path`, else a seeded `val_set_size` split."""
    train = read_rows(cfg.path, cfg.format, "data.path")
    if cfg.eval_path:
        evals = read_rows(cfg.eval_path, cfg.format, "data.eval_path")
    else:
        rng = random.Random(seed)
        order = list(range(len(train)))
        rng.shuffle(order)
        n_eval = int(round(len(train) * cfg.val_set_size))
        if n_eval < 1 or n_eval >= len(train):
            raise ConfigError(Problem("data.val_set_size", cfg.val_set_size,
                                      f"gives {n_eval} eval rows of {len(train)}; raise it or set data.eval_path"))
        evals = [train[i] for i in order[:n_eval]]
        train = [train[i] for i in sorted(order[n_eval:])]
    if cfg.max_train_examples:
        train = train[: cfg.max_train_examples]
    if cfg.max_eval_examples:
        evals = evals[: cfg.max_eval_examples]
    return train, evals


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
        fmt = self.cfg.format
        if fmt in ("chat", "preference"):
            msgs = to_messages(row, fmt, self.cfg.system_prompt)
            first = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
            return _render(self.tok, msgs[:first], True)
        if fmt == "alpaca":
            return self._alpaca_prompt(row)
        return (self.tok.bos_token or "") + (row.get("prompt") or "")

    def answer_text(self, row: dict[str, Any]) -> str:
        """The reference answer of a row (the first assistant turn)."""
        fmt = self.cfg.format
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
        fmt = self.cfg.format
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
