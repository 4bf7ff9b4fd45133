"""Replay search strategies over the reference table: seconds per run instead of hours.

A contender proposes configurations one after another (one trial at a time, like the inline
executor); each proposed configuration "trains" by reading its recorded eval-loss curve from the
table, step by step, and the strategy's pruner or scheduler sees those values exactly as it would
live. The cost of a trial is the training samples it processed: optimizer steps run x effective
batch, so a pruned trial costs only what it ran and batch size counts.

The figure of merit is the compute until the first *fully trained* configuration whose normalised
regret `(final - best) / (initial - best)` is at most `THRESHOLD` (final = the configuration's
mean final eval loss over the seeds every configuration of the table has, best = the best such
value in the table; `benchmarks.tables.aggregate` says why).

Noise: a real sweep trains each trial with one seed. A replay picks, for every configuration,
one of the table's seeds (a stable hash of run seed and configuration), so the same
configuration proposed twice in one run gives the same curve (as in a real sweep), and pruning
decisions see single-seed noise, while a hit is judged on the seed-averaged final loss.

Contenders (all built from this project's code paths or the libraries' own classes):
- `engine`: `sweep.sampling.make_sampler` / `sweep.pruning.make_pruner` from `load_config` with the task's
  overrides (the engine's defaults: TPE, 5 start-up trials, median pruner, 3 start-up trials);
- `tpe+median`, `tpe+hyperband`, `tpe+successive_halving`: the same with `pruner=...`;
- `random` (no pruning), `grid` (Optuna's GridSampler, shuffled, no pruning);
- `asha`: Ray Tune's `ASHAScheduler` (defaults, max_t = number of evals) with random search
  (Tune's own variant generation), driven in-process through the scheduler's public
  on_trial_add / on_trial_result / on_trial_complete; `asha_tuner` runs the same through a real
  `ray.tune.Tuner` (slow, a few seeds, to show the in-process replay makes the same decisions).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import statistics
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import task

THRESHOLD = 0.02  # normalised regret of a "hit"
CRN_ENV = "BENCH_REPLAY_CRN"


@contextlib.contextmanager
def common_random_numbers() -> Iterator[None]:
    """Inside: every Table loaded (here and in replay worker processes, which inherit the
    environment) replays with common random numbers; the variable is restored after."""
    before = os.environ.get(CRN_ENV)
    os.environ[CRN_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CRN_ENV, None)
        else:
            os.environ[CRN_ENV] = before
LR = "learning_rate"
TOP_K = 5


# --------------------------------------------------------------------------- the table


@dataclass
class Table:
    """The reference table in memory: curves per configuration and seed, and the oracle."""

    names: tuple[str, ...]
    configs: dict[str, dict[str, Any]]
    initial: float
    max_steps: int
    eval_every: int
    meta: dict[str, Any] = field(default_factory=dict)
    _grid_cost: int | None = field(default=None, repr=False)
    _best: float | None = field(default=None, repr=False)
    _common: list[str] | None = field(default=None, repr=False)
    # replay with common random numbers (`trial_record`); `python -m benchmarks.suite --crn` sets
    # CRN_ENV, so the worker processes that load the table read it too
    crn: bool = field(default_factory=lambda: os.environ.get(CRN_ENV, "") == "1")

    @classmethod
    def load(cls, path: Path | str = task.REFERENCE_FILE) -> Table:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Table:
        """A table; a partly built one is cut to its largest complete sub-grid (`meta["partial"]`
        says how many configurations of the grid it kept), so every contender's space is a grid
        the table covers."""
        t = raw["task"]
        configs = raw["configs"]
        meta = {k: v for k, v in raw.items() if k not in ("configs",)}
        names = tuple(t["param_names"])
        grid_size = math.prod(len(p.get("choices", ())) for p in t["space"]["params"].values())
        if grid_size and len(configs) < grid_size:
            kept = complete_subgrid(configs, names)
            meta["partial"] = {"grid": grid_size, "trained": len(configs), "kept": len(kept)}
            configs = {k: configs[k] for k in kept}
        return cls(names=names, configs=configs, initial=float(raw["initial_loss"]),
                   max_steps=int(t["max_steps"]), eval_every=int(t["eval_every"]), meta=meta)

    @property
    def name(self) -> str:
        return self.meta.get("name") or "tiny_llama_chat"

    def overrides(self) -> tuple[str, ...]:
        """The Hydra overrides of the table's task (paths made absolute): what a live sweep uses."""
        root = task.BENCH_DIR.parent
        out = []
        for o in self.meta["task"]["overrides"]:
            k, _, v = o.partition("=")
            out.append(f"{k}={root / v}" if v.startswith("benchmarks/") else o)
        return tuple(out)

    def subset(self, keys: Sequence[str]) -> Table:
        """A smaller table (tests): the same task, fewer configurations."""
        return dataclasses.replace(self, configs={k: self.configs[k] for k in keys}, _grid_cost=None, _best=None,
                                   _common=None)

    # ---- oracle
    def finals(self) -> dict[str, float]:
        """Mean final eval loss of every usable configuration (diverged ones left out)."""
        return {k: c["final"] for k, c in self.configs.items() if c.get("final") is not None}

    @property
    def best(self) -> float:
        if self._best is None:
            self._best = min(self.finals().values())
        return self._best

    def regret(self, key: str) -> float:
        """Normalised regret of a configuration; inf for one that diverged."""
        final = self.configs[key].get("final")
        if final is None:
            return math.inf
        return (final - self.best) / (self.initial - self.best)

    def hits(self, threshold: float = THRESHOLD) -> set[str]:
        return {k for k in self.configs if self.regret(k) <= threshold}

    def top(self, k: int = TOP_K) -> list[str]:
        f = self.finals()
        return sorted(f, key=f.__getitem__)[:k]

    def seeds(self, key: str) -> list[str]:
        return sorted(self.configs[key]["seeds"])

    def common_seeds(self) -> list[str]:
        """The training seeds every configuration of the table has (the top ones may have more)."""
        if self._common is None:
            self._common = sorted(set.intersection(*(set(c["seeds"]) for c in self.configs.values())), key=int)
        return self._common

    def trial_record(self, key: str, run_seed: int) -> dict[str, Any]:
        """The recorded run (one seed) a trial of `key` replays in run `run_seed`.

        Independent draws (the default, what the published figures used): each configuration's
        seed is drawn from its own seeds by a hash of (run seed, key). Common random numbers
        (`crn`, as a live study runs: every trial of a study has the study's seed, so the data
        order and the init are shared): one of the common seeds for every trial of the run."""
        if self.crn:
            common = self.common_seeds()
            if not common:
                raise ValueError(f"{self.name}: no training seed every configuration has; replay it without crn")
            return self.configs[key]["seeds"][common[run_seed % len(common)]]
        seeds = self.seeds(key)
        pick = seeds[zlib.crc32(f"{run_seed}|{key}".encode()) % len(seeds)]
        return self.configs[key]["seeds"][pick]

    def trial_curve(self, key: str, run_seed: int,
                    fidelity: str = "prefix") -> tuple[list[tuple[int, float]], int, str]:
        """The curve a trial of `key` shows in replay run `run_seed`: (curve, end_step, status).
        `fidelity="branch"`: the cooldown branch's loss wherever the run recorded one."""
        rec = self.trial_record(key, run_seed)
        curve = reported_curve(rec, fidelity)
        return curve, int(rec.get("end_step") or (curve[-1][0] if curve else 0)), rec["status"]

    def batch(self, key: str) -> int:
        """The configuration's effective batch: searched, or fixed by the table's space."""
        values = self.configs[key]["values"]
        if "effective_batch_size" in values:
            return int(values["effective_batch_size"])
        return int(self.meta["task"]["space"]["fixed"]["effective_batch_size"])

    def full_cost(self, key: str) -> int:
        return self.max_steps * self.batch(key)

    def grid_cost(self) -> int:
        """Training samples to train every configuration once, fully."""
        if self._grid_cost is None:
            self._grid_cost = sum(self.full_cost(k) for k in self.configs)
        return self._grid_cost

    def key_of(self, values: dict[str, Any]) -> str:
        return task.config_key(values, self.names)

    # ---- continuous learning rate (an experiment: lr sampled log-uniform, snapped to the table)
    def lr_values(self) -> list[float]:
        """The table's learning rates, ascending."""
        return sorted({float(c["values"][LR]) for c in self.configs.values()})

    def lr_range(self, widen: float = 0.0) -> tuple[float, float]:
        """The log-uniform range lr is sampled from: the table's [min, max] lr, widened at each end
        by `widen` of the (log) gap to the neighbouring table value (0.5: half a bin)."""
        v = self.lr_values()
        lo, hi = v[0], v[-1]
        if widen and len(v) > 1:
            lo = lo / (v[1] / v[0]) ** widen
            hi = hi * (v[-1] / v[-2]) ** widen
        return lo, hi

    def snap_lr(self, lr: float) -> float:
        """The table lr nearest to `lr` in log space (the same rule for every contender)."""
        return min(self.lr_values(), key=lambda v: (abs(math.log(lr) - math.log(v)), v))

    def snapped_key(self, values: dict[str, Any], continuous_lr: bool) -> str:
        if continuous_lr:
            values = {**values, LR: self.snap_lr(float(values[LR]))}
        return self.key_of(values)


FIDELITIES = ("prefix", "branch")


def reported_curve(rec: dict[str, Any], fidelity: str = "prefix") -> list[tuple[int, float]]:
    """What a trial reports at each eval: the run itself (`prefix`), or, with `branch`, the loss
    after its cooldown branch where one ran (tables built with train.cooldown_steps record both:
    `curve` is the run, `branch_curve` the branches)."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {FIDELITIES}, but got {fidelity=}.")
    curve = [(int(s), float(v)) for s, v in rec["curve"]]
    if fidelity == "prefix" or not rec.get("branch_curve"):
        return curve
    branch = {int(s): float(v) for s, v in rec["branch_curve"]}
    return [(s, branch.get(s, v)) for s, v in curve]


def branch_steps_by(rec: dict[str, Any], fidelity: str) -> dict[int, int]:
    """Optimizer steps spent in cooldown branches up to and including each report (0 without
    branches): what a trial pays for the branch fidelity, as the engine counts it."""
    if fidelity != "branch" or not rec.get("branch_curve"):
        return {}
    per_branch = int(rec.get("branch_steps") or 0) // max(len(rec["branch_curve"]), 1)
    spent, out = 0, {}
    branched = {int(s) for s, _ in rec["branch_curve"]}
    for s, _ in rec["curve"]:
        spent += per_branch if int(s) in branched else 0
        out[int(s)] = spent
    return out


def branch_steps_until(paid: dict[int, int], step: int) -> int:
    """Branch steps a trial paid by optimizer step `step` (a report's or a diverged run's last,
    which may fall between reports): the branches of every report at or before it."""
    return max((v for s, v in paid.items() if s <= step), default=0)


def reported_rows(rec: dict[str, Any], fidelity: str) -> dict[str, list[float]] | None:
    """The per-row NLL sums of what the trial reported, keyed as `sweep.noise.report_rows` reads
    them (`branch:S` where the branch was reported, `main:S` elsewhere); None without rows."""
    rows = rec.get("rows")
    if not rows:
        return None
    branched = {int(s) for s, _ in rec.get("branch_curve") or ()} if fidelity == "branch" else set()
    out: dict[str, list[float]] = {"tokens": rows["tokens"]}
    for s, _ in rec["curve"]:
        s = int(s)
        if s in branched and f"branch:{s}" in rows:
            out[f"branch:{s}"] = rows[f"branch:{s}"]
        elif f"prefix:{s}" in rows or f"main:{s}" in rows:
            out[f"main:{s}"] = rows.get(f"prefix:{s}") or rows[f"main:{s}"]
    return out


def complete_subgrid(configs: dict[str, dict[str, Any]], names: Sequence[str]) -> list[str]:
    """The keys of the largest full product of dimension values that `configs` all cover.

    Greedy: while the present values' product is not fully covered, drop the one dimension value
    whose removal keeps the most present configurations (a build trains in `order:` priority, so
    what it finished first is a complete sub-grid)."""
    values = {n: sorted({repr(c["values"][n]) for c in configs.values()}) for n in names}
    keys = list(configs)

    def inside(k: str) -> bool:
        return all(repr(configs[k]["values"][n]) in values[n] for n in names)

    while True:
        kept = [k for k in keys if inside(k)]
        if len(kept) == math.prod(len(v) for v in values.values()):
            return kept
        best = None
        for n in names:
            if len(values[n]) <= 1:
                continue
            for v in values[n]:
                trial = {**values, n: [x for x in values[n] if x != v]}
                count = sum(all(repr(configs[k]["values"][m]) in trial[m] for m in names) for k in keys)
                size = math.prod(len(x) for x in trial.values())
                score = (count == size, count)
                if best is None or score > best[0]:
                    best = (score, n, v)
        if best is None:
            return kept
        values[best[1]] = [x for x in values[best[1]] if x != best[2]]


# --------------------------------------------------------------------------- one run


@dataclass
class Trial:
    """One replayed trial."""

    key: str
    state: str  # COMPLETE | PRUNED | FAIL
    steps: int
    cost: int
    value: float | None = None


@dataclass
class RunResult:
    """One contender run (one seed) until the first hit or the budget."""

    contender: str
    seed: int
    cost_to_hit: float  # training samples; inf when no hit within the budget
    trials_to_hit: int | None
    hit_key: str | None
    top_pruned_before_hit: bool
    trials: list[Trial]

    @property
    def total_cost(self) -> int:
        return sum(t.cost for t in self.trials)


class Ledger:
    """Book-keeping shared by every contender: cost, hit detection, top-k pruned."""

    def __init__(self, table: Table, contender: str, seed: int, max_trials: int):
        self.table = table
        self.contender = contender
        self.seed = seed
        self.max_trials = max_trials
        self.hits = table.hits()
        self.top = set(table.top())
        self.trials: list[Trial] = []
        self.cost = 0
        self.hit: tuple[int, str, int] | None = None  # (cost, key, trial count)
        self.top_pruned = False

    def record(self, t: Trial) -> None:
        self.trials.append(t)
        self.cost += t.cost
        if self.hit is not None:
            return
        if t.state == "PRUNED" and t.key in self.top:
            self.top_pruned = True
        if t.state == "COMPLETE" and t.steps >= self.table.max_steps and t.key in self.hits:
            self.hit = (self.cost, t.key, len(self.trials))

    @property
    def done(self) -> bool:
        """A hit, or the budget spent: `max_trials`, or the samples of training the whole grid."""
        return (self.hit is not None or len(self.trials) >= self.max_trials
                or self.cost >= self.table.grid_cost())

    def result(self) -> RunResult:
        cost, key, n = self.hit if self.hit else (math.inf, None, None)
        return RunResult(self.contender, self.seed, cost, n, key, self.top_pruned, self.trials)


# --------------------------------------------------------------------------- Optuna contenders


@dataclass(frozen=True)
class OptunaContender:
    """This engine's sampler and pruner, built exactly as `sweep.study` builds them.

    `overrides` are Hydra overrides on top of the task's (e.g. `pruner=hyperband`); `enqueue`
    are configurations tried first (the search space's `enqueue` section).
    """

    name: str
    overrides: tuple[str, ...] = ()
    enqueue: tuple[dict[str, Any], ...] = ()
    pass_max_steps: bool = False  # the engine's study.create_or_load gets none: hyperband's max is "auto"
    # candidate engine changes that conf cannot express yet: (cfg, space) -> sampler / pruner
    sampler_factory: Callable[[Any, Any], Any] | None = None
    pruner_factory: Callable[[Any, Any], Any] | None = None
    # experiment: None = lr categorical (the table's values); a number = lr sampled as a log-uniform
    # float over the table's range widened by this share of a bin at each end, snapped to the table
    lr_widen: float | None = None
    # candidate: trials report at examples seen (step x effective batch) instead of optimizer steps,
    # so rung-based pruners compare trials of different batch sizes at equal data; the first rung
    # is at the conf's first rung x the table's smallest batch
    report_examples: bool = False
    # what trials report to the pruner: the run itself, or a cooldown branch's loss (tables built
    # with train.cooldown_steps); branch steps are paid for
    fidelity: str = "prefix"

    def setup(self, table: Table | None = None) -> tuple[Any, Any]:
        """The engine's config and space on `table`'s task (the first table's by default)."""
        base = table.overrides() if table is not None else task.TASK_OVERRIDES
        cfg = task.task_config(extra=self.overrides, base=base)
        return cfg, task.task_space(cfg)

    def run(self, table: Table, seed: int, max_trials: int, setup: tuple[Any, Any] | None = None) -> RunResult:
        import optuna

        from sweep import noise
        from sweep.pruning import make_pruner
        from sweep.sampling import make_sampler

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        cfg, space = setup or self.setup(table)
        cfg = dataclasses.replace(cfg, seed=seed)  # what `seed=<seed>` on the command line gives
        space = restrict_space(space, table)
        if self.lr_widen is not None:
            space = continuous_lr_space(space, table, self.lr_widen)
        min_batch = min(table.batch(k) for k in table.configs)
        if self.report_examples:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train,
                                                                     eval_every=cfg.train.eval_every * min_batch))
        sampler = self.sampler_factory(cfg, space) if self.sampler_factory else make_sampler(cfg, space)
        pruner = self.pruner_factory(cfg, space) if self.pruner_factory else \
            make_pruner(cfg, table.max_steps if self.pass_max_steps else None)
        # a fixed name: HyperbandPruner assigns brackets by a hash of study name and trial number
        study = optuna.create_study(study_name=f"replay-{self.name}-{seed}", sampler=sampler, pruner=pruner,
                                    direction="minimize")
        for values in self.enqueue:
            study.enqueue_trial(snap_to_table(values, table), skip_if_exists=True)
        led = Ledger(table, self.name, seed, max_trials)
        while not led.done:
            trial = study.ask()
            params = space.suggest(trial)
            key = table.snapped_key({n: getattr(params, n) for n in table.names}, self.lr_widen is not None)
            if key not in table.configs:
                raise KeyError(f"{key} is not in the reference table; the space and the table differ")
            curve, end_step, status = table.trial_curve(key, seed, self.fidelity)
            rec = table.trial_record(key, seed)
            paid = branch_steps_by(rec, self.fidelity)
            rows = reported_rows(rec, self.fidelity)
            if rows is not None:  # what a live trial records for the noise-aware pruner (sweep.noise)
                for name, attr in noise.as_attrs(rows).items():
                    trial.set_user_attr(name, attr)
            batch = table.batch(key)
            outcome: Trial | None = None
            for step, value in curve:
                trial.report(value, step * batch if self.report_examples else step)
                if step < table.max_steps and trial.should_prune():
                    outcome = Trial(key, "PRUNED", step, (step + paid.get(step, 0)) * batch)
                    break
            if outcome is None:
                if status == "ok":
                    spent = branch_steps_until(paid, table.max_steps)
                    outcome = Trial(key, "COMPLETE", table.max_steps, (table.max_steps + spent) * batch, curve[-1][1])
                else:  # diverged: the Trainer stops at end_step and the engine records FAIL
                    outcome = Trial(key, "FAIL", end_step, (end_step + branch_steps_until(paid, end_step)) * batch)
            state = optuna.trial.TrialState[outcome.state]
            study.tell(trial, outcome.value if outcome.state == "COMPLETE" else None, state=state)
            led.record(outcome)
        return led.result()


def snap_to_table(values: dict[str, Any], table: Table) -> dict[str, Any]:
    """A prior configuration on the table's grid: each searched dimension snapped to the nearest
    value the table holds (log scale for numbers), dimensions the table does not search dropped."""
    out = {}
    for n in table.names:
        if n not in values:
            continue
        present = sorted({c["values"][n] for c in table.configs.values()}, key=repr)
        v = values[n]
        if isinstance(v, (int, float)) and all(isinstance(x, (int, float)) for x in present):
            out[n] = min(present, key=lambda x: (abs(math.log(x) - math.log(v)), x))
        else:
            out[n] = v if v in present else present[0]
    return out


def restrict_space(space: Any, table: Table) -> Any:
    """The space cut down to the values the table holds (a table slice in tests; else unchanged)."""
    from sweep.search_space import Param

    if len(table.configs) == math.prod(len(p.choices) for p in space.params):
        return space
    present = {n: [] for n in table.names}
    for c in table.configs.values():
        for n in table.names:
            if c["values"][n] not in present[n]:
                present[n].append(c["values"][n])
    params = tuple(Param(name=p.name, type="categorical", choices=tuple(present[p.name])) for p in space.params)
    return dataclasses.replace(space, params=params)


def continuous_lr_space(space: Any, table: Table, widen: float = 0.0) -> Any:
    """The space with lr as `{type: float, log: true}` over the table's (widened) lr range."""
    from sweep.search_space import Param

    lo, hi = table.lr_range(widen)
    params = tuple(Param(name=LR, type="float", low=lo, high=hi, log=True) if p.name == LR else p
                   for p in space.params)
    return dataclasses.replace(space, params=params)


# --------------------------------------------------------------------------- Ray Tune ASHA


def ray_param_space(table: Table, lr_widen: float | None = None) -> dict[str, Any]:
    """Tune's `tune.choice` per dimension, values as in the table (lr: `tune.loguniform` over the
    table's range widened by `lr_widen` of a bin at each end, when given)."""
    from ray import tune

    choices: dict[str, list[Any]] = {n: [] for n in table.names}
    for c in table.configs.values():
        for n in table.names:
            if c["values"][n] not in choices[n]:
                choices[n].append(c["values"][n])
    out = {n: tune.choice(v) for n, v in choices.items()}
    if lr_widen is not None:
        out[LR] = tune.loguniform(*table.lr_range(lr_widen))
    return out


def ray_random_configs(table: Table, seed: int, lr_widen: float | None = None):
    """The random configurations `BasicVariantGenerator(random_state=seed)` proposes, in order.

    Uses Tune's own `generate_variants` and seeded generator the way `BasicVariantGenerator`
    does (one variant per sample, sharing one random state), so the sequence is the one a
    `Tuner` with `search_alg=BasicVariantGenerator(random_state=seed)` trains.
    """
    from ray.tune.search.sample import _BackwardsCompatibleNumpyRng
    from ray.tune.search.variant_generator import generate_variants

    rng = _BackwardsCompatibleNumpyRng(seed)
    spec = {"config": ray_param_space(table, lr_widen)}
    while True:
        _, resolved = next(generate_variants(spec, constant_grid_search=False, random_state=rng))
        yield dict(resolved["config"])


@dataclass(frozen=True)
class AshaContender:
    """Random search + Ray Tune's ASHAScheduler (its defaults; max_t = the number of evals)."""

    name: str = "asha"
    grace_period: int = 1
    reduction_factor: float = 4
    lr_widen: float | None = None  # as OptunaContender.lr_widen (Tune's loguniform, then snapped)
    fidelity: str = "prefix"  # as OptunaContender.fidelity: the second row (the engine's fidelity)

    def scheduler(self, table: Table) -> Any:
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="training_iteration", metric="eval_loss", mode="min",
                             max_t=table.max_steps // table.eval_every, grace_period=self.grace_period,
                             reduction_factor=self.reduction_factor)

    def run(self, table: Table, seed: int, max_trials: int, setup: Any = None) -> RunResult:
        import numpy as np
        from ray.tune.schedulers import TrialScheduler

        np.random.seed(seed)  # ASHA draws a bracket with np.random (one bracket: no effect)
        sched = self.scheduler(table)
        configs = ray_random_configs(table, seed, self.lr_widen)
        led = Ledger(table, self.name, seed, max_trials)
        n = 0
        while not led.done:
            key = table.snapped_key(next(configs), self.lr_widen is not None)
            handle = _TrialHandle(f"{seed}_{n:05d}")
            n += 1
            sched.on_trial_add(None, handle)
            curve, end_step, status = table.trial_curve(key, seed, self.fidelity)
            paid = branch_steps_by(table.trial_record(key, seed), self.fidelity)
            batch = table.batch(key)
            outcome: Trial | None = None
            for it, (step, value) in enumerate(curve, start=1):
                result = {"training_iteration": it, "eval_loss": value, "step": step}
                if sched.on_trial_result(None, handle, result) == TrialScheduler.STOP:
                    sched.on_trial_complete(None, handle, result)
                    state = "COMPLETE" if step >= table.max_steps else "PRUNED"
                    outcome = Trial(key, state, step, (step + paid.get(step, 0)) * batch,
                                    value if state == "COMPLETE" else None)
                    break
            if outcome is None:  # a diverged curve ends early; its trial errors out in Tune
                sched.on_trial_remove(None, handle)
                outcome = Trial(key, "FAIL", end_step, (end_step + branch_steps_until(paid, end_step)) * batch)
            led.record(outcome)
        return led.result()


@dataclass(frozen=True)
class _TrialHandle:
    """What ASHA's bookkeeping reads from a Tune trial: its id."""

    trial_id: str


def run_asha_tuner(table: Table, seed: int, max_trials: int, contender: AshaContender | None = None,
                   storage_dir: str = "/tmp/lora_sweep_bench_ray") -> RunResult:
    """The ASHA contender through a real `ray.tune.Tuner` (one trial at a time, replayed curves).

    The trainable reads the table and calls `tune.report` per eval; the experiment stops at the
    first fully trained hit (or after `max_trials`). Needs `ray.init` done by the caller.
    """
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    contender = contender or AshaContender()
    hits = table.hits()
    curves = {k: table.trial_curve(k, seed) for k in table.configs}
    names = table.names

    def trainable(config: dict[str, Any]) -> None:
        key = task.config_key(config, names)
        curve, _, status = curves[key]
        for step, value in curve:
            tune.report({"eval_loss": value, "step": step, "key": key})
        if status != "ok":
            raise RuntimeError(f"diverged at step {curve[-1][0] if curve else 0}")

    class StopAtHit(tune.Stopper):
        def __init__(self) -> None:
            self.hit = False

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            if result["step"] >= table.max_steps and result["key"] in hits:
                self.hit = True
            return False

        def stop_all(self) -> bool:
            return self.hit

    tuner = tune.Tuner(
        trainable,
        param_space=ray_param_space(table),
        tune_config=tune.TuneConfig(num_samples=max_trials, max_concurrent_trials=1,
                                    scheduler=contender.scheduler(table),
                                    search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=1)),
        run_config=tune.RunConfig(name=f"asha_seed{seed}", storage_path=storage_dir, stop=StopAtHit(),
                                  verbose=0, failure_config=tune.FailureConfig(max_failures=0)),
    )
    grid = tuner.fit()
    led = Ledger(table, "asha_tuner", seed, max_trials)
    rows = sorted(grid, key=lambda r: r.metrics.get("trial_id", "") if r.metrics else "")
    for r in rows:
        m = r.metrics or {}
        if "key" not in m:
            continue
        key, step = m["key"], int(m["step"])
        batch = table.batch(key)
        if r.error is not None:
            led.record(Trial(key, "FAIL", step, step * batch))
        elif step >= table.max_steps:
            led.record(Trial(key, "COMPLETE", step, step * batch, float(m["eval_loss"])))
        else:
            led.record(Trial(key, "PRUNED", step, step * batch))
        if led.hit:
            break
    return led.result()


# --------------------------------------------------------------------------- many runs


Contender = OptunaContender | AshaContender


def run_many(contender: Contender, table: Table, seeds: Sequence[int], max_trials: int | None = None,
             progress: Callable[[str], None] | None = None) -> list[RunResult]:
    """One run per seed (deterministic: same table, seed and code -> same result)."""
    max_trials = max_trials or 3 * len(table.configs)
    setup = contender.setup(table) if isinstance(contender, OptunaContender) else None
    out = []
    for s in seeds:
        out.append(contender.run(table, s, max_trials, setup))
        if progress and len(out) % 25 == 0:
            progress(f"{contender.name}: {len(out)}/{len(seeds)} seeds")
    return out


@dataclass
class Summary:
    """Distribution of cost-to-hit over seeds (as a share of the grid's full cost too)."""

    contender: str
    n: int
    median: float
    q1: float
    q3: float
    misses: int
    top_pruned_pct: float
    median_trials: float
    grid_cost: int

    def share(self, x: float) -> float:
        return x / self.grid_cost


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile; inf values (misses) sort last."""
    s = sorted(xs)
    if not s:
        return math.nan
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    if math.isinf(s[hi]) or math.isinf(s[lo]):
        return s[hi] if pos - lo >= 0.5 or math.isinf(s[lo]) else s[lo]
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(runs: Sequence[RunResult], table: Table) -> Summary:
    costs = [r.cost_to_hit for r in runs]
    trials = [r.trials_to_hit if r.trials_to_hit is not None else math.inf for r in runs]
    return Summary(
        contender=runs[0].contender, n=len(runs), median=quantile(costs, 0.5), q1=quantile(costs, 0.25),
        q3=quantile(costs, 0.75), misses=sum(math.isinf(c) for c in costs),
        top_pruned_pct=100.0 * sum(r.top_pruned_before_hit for r in runs) / len(runs),
        median_trials=statistics.median(trials), grid_cost=table.grid_cost())


def fingerprint(runs: Sequence[RunResult]) -> list[tuple[Any, ...]]:
    """What must be identical when a replay is repeated (determinism check)."""
    return [(r.seed, r.cost_to_hit, r.hit_key, r.top_pruned_before_hit,
             tuple((t.key, t.state, t.steps) for t in r.trials)) for r in runs]
