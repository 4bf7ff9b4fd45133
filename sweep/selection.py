"""Which finished trial the sweep returns: the `select` step (conf/select/, DESIGN.md decision 10).

Pruning stops trials on eval loss; choosing is a separate decision, because eval loss cannot tell
a privacy refusal from a blanket "I don't know". The rules:

- `loss`: the complete trial with the lowest eval loss; when the finalists were trained with
  more seeds (`finalists.seeds`, sweep.finalists), the finalist with the lowest mean over seeds;
- `behaviour`: among the complete trials that were asked the behaviour questions (`behaviour_*`
  attrs, measured in the trial's own process: sweep.trial) and whose eval loss is at most
  `max_loss_increase` above the best complete trial's, the highest behaviour score; eval loss
  breaks ties;
- `pareto`: the same candidates' front of eval loss (lower is better) against the behaviour score
  (higher is better); the pick is the front member closest to the ideal point (the front's lowest
  loss and highest score) after scaling both axes to [0, 1] over the front; eval loss breaks ties.

The behaviour score is the weighted sum of behaviour metrics (`select.weights`; a negative weight:
lower is better). A rule that needs behaviour and finds no measured candidate falls back to
`loss` and says so. `choose` is what best.yaml, best_adapter/, axolotl.yaml, the report and the
summary all read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep import finalists
from sweep.config import SweepConfig
from sweep.errors import ConfigError, Problem
from sweep.scoring import ATTR_PREFIX, METRICS

MEASURED = ATTR_PREFIX + "n_probes"  # every measured trial carries it (the probes are always asked)


@dataclass(frozen=True)
class Selection:
    """The chosen trial and why."""

    trial: FrozenTrial
    rule: str  # the rule that chose (loss when behaviour was asked but nothing was measured)
    reason: str  # one line for the summary
    scores: dict[int, float] = field(default_factory=dict)  # trial number -> behaviour score
    candidates: tuple[int, ...] = ()  # measured trials within the loss guard
    front: tuple[int, ...] = ()  # pareto: the front's trial numbers (by eval loss)


def check(cfg: SweepConfig) -> None:
    """Bad `select.weights` as a ConfigError before any work (engine.preflight)."""
    for metric, weight in cfg.select.weights.items():
        if metric not in METRICS:
            raise ConfigError(Problem(f"select.weights.{metric}", weight,
                                      f"not a behaviour metric; choose from {', '.join(METRICS)}"))
    if cfg.select.name != "loss" and not any(cfg.select.weights.values()):
        raise ConfigError(Problem("select.weights", cfg.select.weights, "give at least one metric a non-zero weight"))


def complete(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials by eval loss, best first."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    return sorted(done, key=lambda t: t.value)


def measured(trial: FrozenTrial) -> bool:
    return MEASURED in trial.user_attrs


def score(trial: FrozenTrial, weights: dict[str, float]) -> float | None:
    """The trial's behaviour score, None when it was not asked (a metric that is NaN counts 0)."""
    if not measured(trial):
        return None
    total = 0.0
    for metric, weight in weights.items():
        value = trial.user_attrs.get(ATTR_PREFIX + metric)
        if isinstance(value, int | float) and not math.isnan(value):
            total += weight * value
    return round(total, 6)


def pareto_front(points: list[tuple[int, float, float]]) -> list[int]:
    """Numbers of the points (number, loss, score) no other point beats on both axes."""
    front = []
    for n, loss, sc in points:
        if not any((lo <= loss and s >= sc) and (lo < loss or s > sc) for _, lo, s in points):
            front.append(n)
    return front


def choose(cfg: SweepConfig, study: optuna.Study) -> Selection | None:
    """The trial `cfg.select` returns, or None before the first complete trial."""
    ranked = complete(study)
    if not ranked:
        return None
    best = ranked[0]
    if cfg.select.name == "loss":
        means = finalists.seed_means(cfg, study)  # the finalists' means over seeds, once their reruns are in
        if means:
            pick = min((t for t in ranked if t.number in means), key=lambda t: (means[t.number][0], t.value))
            mean, _, n = means[pick.number]
            return Selection(pick, "loss", f"lowest mean eval loss over {n} training seeds among the finalists "
                             f"tied within noise ({mean:.4f})")
        return Selection(best, "loss", f"lowest eval loss ({best.value:.4f})")
    weights = cfg.select.weights
    limit = best.value * (1 + cfg.select.max_loss_increase)
    scores = {t.number: s for t in ranked if (s := score(t, weights)) is not None}
    pool = [t for t in ranked if t.number in scores and t.value <= limit + 1e-12]
    if not pool:
        return Selection(best, "loss", "lowest eval loss: no trial within the loss guard was asked the "
                         f"behaviour questions (select={cfg.select.name} needs eval.behaviour=true)", scores)
    guard = f"eval loss within {100 * cfg.select.max_loss_increase:g}% of the best ({best.value:.4f})"
    if cfg.select.name == "behaviour":
        pick = min(pool, key=lambda t: (-scores[t.number], t.value))
        return Selection(pick, "behaviour", f"highest behaviour score ({scores[pick.number]:.3f}) with {guard}",
                         scores, tuple(t.number for t in pool))
    front = pareto_front([(t.number, t.value, scores[t.number]) for t in pool])
    members = [t for t in pool if t.number in front]
    losses, values = [t.value for t in members], [scores[t.number] for t in members]
    span_l, span_s = (max(losses) - min(losses)) or 1.0, (max(values) - min(values)) or 1.0

    def distance(t: FrozenTrial) -> float:
        return math.hypot((t.value - min(losses)) / span_l, (max(values) - scores[t.number]) / span_s)

    pick = min(members, key=lambda t: (round(distance(t), 9), t.value))
    return Selection(pick, "pareto", f"the Pareto front's member closest to the ideal point (score "
                     f"{scores[pick.number]:.3f}, front of {len(members)}) with {guard}", scores,
                     tuple(t.number for t in pool), tuple(t.number for t in members))


def chosen_trial(cfg: SweepConfig, study: optuna.Study) -> FrozenTrial | None:
    selection = choose(cfg, study)
    return selection.trial if selection else None


def should_ask(study: optuna.Study, value: float, top_k: int) -> bool:
    """Whether a trial that just completed with eval loss `value` is asked the behaviour
    questions: fewer than `top_k` complete trials have a lower eval loss (so the trial that ends
    best overall always is: when it finished, none was better)."""
    better = sum(1 for t in complete(study) if t.value < value)
    return better < top_k


__all__ = ["Selection", "check", "choose", "chosen_trial", "complete", "measured", "pareto_front", "score",
           "should_ask"]
