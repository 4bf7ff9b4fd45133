"""Micro batches as the model sees them: right padding, the LM head only where an answer token is
predicted (`answer_logits`), and a model's eval loss on encoded rows (`eval_loss`: what a trial
reports, for a model that is not being trained, e.g. the base model)."""

from __future__ import annotations

import torch

from sweep.objectives import IGNORE, nll_sum


def collate(examples: list[dict[str, list[int]]], pad_id: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """Right-pad a micro batch; `prefix='rejected_'` picks the rejected side of ORPO pairs."""
    ids = [e[f"{prefix}input_ids"] for e in examples]
    labs = [e[f"{prefix}labels"] for e in examples]
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    labels = torch.full((len(ids), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, (x, y) in enumerate(zip(ids, labs, strict=True)):
        input_ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def answer_logits(model, b: dict[str, torch.Tensor], answers_only: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and the labels they are scored against (`nll_sum` shifts them by one).

    With `answers_only`, the LM head runs only from the position before the micro batch's first
    labelled token to the end (`logits_to_keep`): prompts are never scored, and the head
    (vocabulary x hidden: a fifth of SmolLM2's compute per token) was most of the waste. The
    loss is the same sum over the same tokens.
    """
    labels = b["labels"]
    kw: dict[str, int] = {}
    if answers_only:
        cols = (labels != IGNORE).any(0).nonzero()
        keep = labels.size(1) - int(cols[0]) + 1 if len(cols) else labels.size(1)
        if keep < labels.size(1):
            kw["logits_to_keep"] = keep
            labels = labels[:, -keep:]
    return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], **kw).logits, labels


def supports_logits_to_keep(model) -> bool:
    """Whether the causal LM under the adapter takes `logits_to_keep` (transformers' own models)."""
    import inspect

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    forward = getattr(type(inner), "forward", None)
    return forward is not None and "logits_to_keep" in inspect.signature(forward).parameters


@torch.no_grad()
def eval_loss(model, eval_data: list[dict], pad_id: int, batch_size: int = 8) -> float:
    """Mean NLL per answer token of `model` on encoded eval examples: what a trial reports as
    its eval loss (`Trainer.evaluate`), for a model that is not being trained (the base model)."""
    device = next(model.parameters()).device
    answers_only = supports_logits_to_keep(model)
    batch_size = max(batch_size, 1)
    total, count = 0.0, 0
    for start in range(0, len(eval_data), batch_size):
        b = {k: v.to(device) for k, v in collate(eval_data[start: start + batch_size], pad_id).items()}
        nll, n = nll_sum(*answer_logits(model, b, answers_only))
        total += float(nll)
        count += int(n)
    return total / max(count, 1)


__all__ = ["answer_logits", "collate", "eval_loss", "supports_logits_to_keep"]
