"""Training objectives: token-level NLL (SFT) and ORPO (Hong et al., 2024).

Both return *sums* that the trainer divides by counts over the whole effective batch, so a
step's gradient does not depend on how the batch is split into micro batches (the OOM fallback
relies on that).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

IGNORE = -100


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sequence sum of label log-probs and label counts (next-token shift applied)."""
    logits = logits[:, :-1, :].float()
    labels = labels[:, 1:]
    mask = labels != IGNORE
    safe = labels.masked_fill(~mask, 0)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(-1), mask.sum(-1)


def nll_sum(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed next-token NLL over labelled tokens, and their count."""
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    loss = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    return loss, int((shift_labels != IGNORE).sum())


def nll_per_row(logits: torch.Tensor, labels: torch.Tensor) -> tuple[list[float], list[int]]:
    """Each sequence's summed next-token NLL and label count: an eval report's rows, from which
    its standard error and paired differences between trials are computed (sweep.noise)."""
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    per_token = F.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=IGNORE,
                                reduction="none")
    mask = shift_labels != IGNORE
    return (per_token * mask).sum(-1).tolist(), mask.sum(-1).tolist()


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, accurate over the whole range (Maechler, 2012).

    `log1p(-exp(x))` loses most digits as x -> 0 (1 - exp(x) cancels): in float32 its error is
    ~1e-2 at x = -1e-6, and a well-learned chosen answer has a mean token log-prob that close
    to 0. `log(-expm1(x))` is exact there; the switch at -ln 2 is where both are accurate.
    TRL's ORPO uses the same split.
    """
    return torch.where(x < -math.log(2.0), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def orpo_odds_ratio_loss(chosen_logp_mean: torch.Tensor, rejected_logp_mean: torch.Tensor) -> torch.Tensor:
    """Per-pair ORPO term: -log sigmoid(log odds(chosen) - log odds(rejected)).

    `*_logp_mean` are length-normalised sequence log-likelihoods (mean token log-prob, < 0).
    odds(y) = p / (1 - p) with p = exp(mean log-prob), so log odds = lp - log(1 - exp(lp)).
    The clamp keeps log(1 - p) finite when a sequence is (numerically) certain.
    """
    def log_odds(lp: torch.Tensor) -> torch.Tensor:
        lp = lp.float().clamp(max=-1e-6)
        return lp - log1mexp(lp)

    return -F.logsigmoid(log_odds(chosen_logp_mean) - log_odds(rejected_logp_mean))
