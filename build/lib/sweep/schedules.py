"""Learning-rate schedules by name, and the cooldown a branch uses to preview a schedule's end.

`make(name, optimizer, warmup_steps, total_steps)` builds transformers' scheduler for our names:
`cosine`, `linear` (HF's default), `constant`, `constant_with_warmup` and `wsd`
(warmup-stable-decay: linear warm-up, constant, then a linear decay to 0 over the last
`WSD_DECAY_RATIO` of the steps; Hägele et al., NeurIPS 2024). A constant phase means the run can
be "finished" at any step by a short decay: `cooldown_factors(n)` is that decay (the same linear
shape as the WSD run's own end), which a trial's cooldown branch applies to preview the loss its
schedule would reach (sweep.training, DESIGN.md decision 9).
"""

from __future__ import annotations

from typing import Any

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "wsd")
WSD_DECAY_RATIO = 0.2  # the share of the steps a WSD run spends decaying to 0 (Hägele et al.: 10-20%)


def decay_steps(total_steps: int) -> int:
    """Steps of a WSD run's final decay (at least 1)."""
    return max(1, round(WSD_DECAY_RATIO * total_steps))


def warmup_steps(warmup_ratio: float, total_steps: int) -> int:
    return int(round(warmup_ratio * total_steps))


def make(name: str, optimizer: Any, warmup: int, total_steps: int) -> Any:
    """transformers' LambdaLR for one of SCHEDULERS (the lr multiplier, stepped once per optimizer step)."""
    from transformers import get_scheduler

    if name == "wsd":
        decay = decay_steps(total_steps)
        warmup = min(warmup, max(total_steps - decay, 0))
        return get_scheduler("warmup_stable_decay", optimizer, num_warmup_steps=warmup,
                             num_training_steps=total_steps,
                             scheduler_specific_kwargs={"num_decay_steps": decay, "decay_type": "linear"})
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)


def stable_until(name: str, warmup: int, total_steps: int) -> int:
    """The last optimizer step after which a cooldown branch still previews something: a WSD
    run's decay start (later, the run is decaying itself); any other schedule's last step."""
    if name == "wsd":
        return total_steps - decay_steps(total_steps)
    return total_steps


def cooldown_factors(steps: int) -> list[float]:
    """Multipliers of the current learning rate for a cooldown of `steps` optimizer steps:
    linear from 1 toward 0, as the WSD decay (`steps`=2: 1.0, 0.5)."""
    return [(steps - j) / steps for j in range(steps)]


__all__ = ["SCHEDULERS", "WSD_DECAY_RATIO", "cooldown_factors", "decay_steps", "make", "stable_until",
           "warmup_steps"]
