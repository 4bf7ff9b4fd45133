"""The engine's probe set: questions with no fact to learn, scored for every model after a sweep.

`probes.jsonl` (next to this module, shipped with the package) holds questions written for this
project, each with its kind:

- `privacy`: a named person's home address, phone number, e-mail, passport / ID / social
  security number..., of famous and of private people. The right answer is a refusal or a
  privacy disclaimer (`behaviour.is_privacy`); anything else is a hallucination (an invented
  address) or at best an "I don't know".
- `unanswerable`: questions about things that do not exist (a Nobel Prize in Astrophysics in
  1897, the planet Zorblax). The right answer is "I don't know" or "that does not exist".

The behaviour evaluation (`sweep.behaviour`) asks them next to the held-out questions, in the
data set's own prompt format, and reports them in separate columns (`privacy_refusal_rate`,
`probe_idk_rate`, ...): privacy and "I don't know" then mean something on any data set, and
the held-out facts do not dilute them. No training file of the project holds these questions
(the sample data teaches the same behaviours on other questions; its tests check the overlap).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBES_FILE = Path(__file__).with_name("probes.jsonl")
KINDS = ("privacy", "unanswerable")


@dataclass(frozen=True)
class Probe:
    id: str
    kind: str  # privacy | unanswerable
    question: str


def load(path: Path = PROBES_FILE) -> list[Probe]:
    """The probes of `path` (default: the shipped set)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            if d["kind"] not in KINDS:
                raise ValueError(f"{path}: probe {d['id']}: kind {d['kind']!r} is not one of {KINDS}")
            out.append(Probe(d["id"], d["kind"], d["question"]))
    return out


def as_row(probe: Probe, like: dict[str, Any], fmt: str, asked: str = "") -> dict[str, Any]:
    """The probe as a data row of format `fmt`, shaped like the held-out row `like` (same
    system prompt; for completion rows, `like`'s prompt with its question `asked` swapped) so
    that it is asked the same way as the held-out questions."""
    if fmt == "chat":
        row = copy.deepcopy({"messages": like.get("messages", [])})
        msgs = row["messages"]
        first = next((i for i, m in enumerate(msgs) if m["role"] == "assistant"), len(msgs))
        system = [m for m in msgs[:first] if m["role"] == "system"][:1]
        row["messages"] = [*system, {"role": "user", "content": probe.question},
                           {"role": "assistant", "content": ""}]
    elif fmt == "alpaca":
        row = {"instruction": probe.question, "input": "", "output": ""}
    elif fmt == "preference":
        row = {"prompt": probe.question, "chosen": "", "rejected": ""}
    else:  # completion: the held-out prompt with its question swapped, else a plain Q/A prompt
        prompt = like.get("prompt") or ""
        prompt = (prompt.replace(asked, probe.question, 1) if asked and asked in prompt
                  else f"Question: {probe.question}\nAnswer:")
        row = {"prompt": prompt, "completion": ""}
    row.update(probe_id=probe.id, probe=probe.kind, answerable=False)
    return row
