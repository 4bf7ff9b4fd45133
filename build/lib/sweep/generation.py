"""Greedy generation for behaviour evaluation: stop tokens, batched `generate`, answers.

`answer` turns a model's raw output into `sweep.scoring.Generation`s: the text before the first
stop token (the template's end-of-turn strings, the eos token, the model's
`generation_config.eos_token_id`), cut again at the first turn marker of any known template
(a run-on), special tokens removed. Measured on raw generation: lm-evaluation-harness's
`generate_until` hides run-ons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sweep import templates
from sweep.scoring import Example, Generation

# Written text that starts a new turn in formats without special tokens.
TEXT_MARKERS: tuple[str, ...] = ("### Input:", "\nQuestion:", "\nUser:", "\nuser:")


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


