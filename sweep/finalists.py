"""Extra training seeds for the finalists the eval set cannot tell apart (`finalists`, conf).

A trial's eval loss is one draw: its seed fixes the data order and the adapter's init, and on the
real-model tables that seed noise is as large as the differences between the best configurations
(benchmarks/RESULTS.md). With `finalists.seeds: N` (0, off, by default), after the last trial the
best complete trial and the trials statistically tied with it (final eval loss within
`finalists.z` paired standard errors on the same eval rows: `sweep.noise.tied_with`) are trained
again with N more training seeds (`seed + 1`, ...; the eval rows stay the study's, drawn with
`seed`). Only the final eval loss is needed: the reruns evaluate once, at the end, and run no
cooldown branches (a branch never changes the run: tests/test_cooldown.py).

Each rerun's final eval loss is stored on the study as it ends (user attr `finalists`: trial
number -> {training seed: eval loss, or null when the rerun failed}); a resumed sweep trains only
what is missing. A failed rerun is recorded, never fatal, and not tried again (a seeded run fails
the same way); its seed is then left out for every finalist, so none is compared on its one lucky
draw against the others' means. Reruns wait while trials of another process still run. The
study's own trials are not changed. `seed_means` (the current finalists only, the configured
seeds only; nothing when `finalists.seeds` is 0) is what the summary prints and what
`select=loss` reads: among finalists it chooses the lowest mean over seeds (best.yaml,
axolotl.yaml and the export are a configuration: the better one in expectation); best_adapter/ is
that trial's own adapter, kept for every finalist until then (`results.keep_adapters`).

This module holds the finalists and their records (what `select` reads, no training);
`sweep.retraining.train_finalists` runs the reruns, in the driver process, one after another.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep import noise, storage
from sweep.config import SweepConfig

ATTR = "finalists"


def finalists(cfg: SweepConfig, study: optuna.Study) -> list[FrozenTrial]:
    """The best complete trial first, then those tied with it (by eval loss)."""
    done = sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None),
                  key=lambda t: t.value)
    if not done:
        return []
    tied = set(noise.tied_with(done[0], done, cfg.finalists.z))
    return [done[0], *(t for t in done[1:] if t.number in tied)]


def recorded(study: optuna.Study) -> dict[int, dict[int, float | None]]:
    """Trial number -> {training seed: final eval loss (None: the rerun failed)} of the reruns."""
    raw = study.user_attrs.get(ATTR) or {}
    return {int(n): {int(s): v for s, v in seeds.items()} for n, seeds in raw.items()}


def seeds(cfg: SweepConfig) -> list[int]:
    """The rerun training seeds `finalists.seeds` asks for: seed + 1, ..."""
    return [cfg.seed + k for k in range(1, cfg.finalists.seeds + 1)]


def seed_means(cfg: SweepConfig, study: optuna.Study) -> dict[int, tuple[float, float, int]]:
    """Current finalist -> (mean, standard deviation, number of seeds) of its final eval loss over
    the study's seed (the trial itself) and the configured rerun seeds that finished for EVERY
    finalist (a failed rerun drops that seed for all of them: a finalist is never compared on its
    one lucky draw against the others' means); {} when off or before any rerun. Reruns recorded
    for trials that are no longer finalists (a resumed study found a better trial) or for seeds no
    longer asked for are ignored."""
    if cfg.finalists.seeds <= 0:  # off: no storage read (select=loss asks on every refresh)
        return {}
    runs = recorded(study)
    if not runs:
        return {}
    current = finalists(cfg, study)
    if not any(t.number in runs for t in current):
        return {}

    def ok(v: float | None) -> bool:
        return v is not None and math.isfinite(v)

    shared = [s for s in seeds(cfg) if all(ok(runs.get(t.number, {}).get(s)) for t in current)]
    out = {}
    for t in current:
        values = [t.value, *(runs[t.number][s] for s in shared)]
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        out[t.number] = (mean, sd, len(values))
    return out


def todo(cfg: SweepConfig, study: optuna.Study) -> tuple[list[FrozenTrial], list[tuple[FrozenTrial, int]]]:
    """The finalists, and the (trial, training seed) reruns not recorded yet."""
    chosen = finalists(cfg, study) if cfg.finalists.seeds > 0 else []
    done = recorded(study)
    # a rerun recorded as failed (None) is not tried again: a seeded run fails the same way
    return chosen, [(t, s) for t in chosen for s in seeds(cfg) if s not in done.get(t.number, {})]


def record(cfg: SweepConfig, study: optuna.Study, number: int, seed: int, value: float | None) -> None:
    """Store one rerun's final eval loss (None: it failed) on the study."""
    with storage.study_lock(cfg):  # read-modify-write of one study attr
        runs = study.user_attrs.get(ATTR) or {}
        runs.setdefault(str(number), {})[str(seed)] = value
        study.set_user_attr(ATTR, runs)


def summary_lines(cfg: SweepConfig, study: optuna.Study) -> list[str]:
    """The summary's lines on the finalists' seed means; [] without reruns."""
    means = seed_means(cfg, study)
    if not means:
        return []
    lines = [f"finalists over {max(n for _, _, n in means.values())} training seeds (same eval rows): "
             "trial, mean eval loss +- sd"]
    for number, (mean, sd, k) in sorted(means.items(), key=lambda kv: kv[1][0]):
        lines.append(f"  {number}: {mean:.4f} +- {sd:.4f} ({k} seeds)")
    return lines


__all__ = ["ATTR", "finalists", "record", "recorded", "seed_means", "seeds", "summary_lines", "todo"]
