"""Benchmark entry point.

    python -m benchmarks.run --quick     # cached table, 200 replay seeds per contender, a short
                                         # real sweep, ask+tell, tokens/s: < 10 min on 2 cores
    python -m benchmarks.run --full      # rebuild the table from scratch (504 real trainings,
                                         # ~1-3 h on 2 cores; --resume continues, --skip-build
                                         # reuses it), 500 seeds, every contender and candidate,
                                         # a real Tuner, live runs, costs; writes RESULTS.md

Both replay every built table of the suite (`benchmarks/tables.py`, `benchmarks/data/tables/`;
`--table FILE` picks tables), print per table and contender the ratios vs random search and ASHA
with 90% bootstrap intervals over replay seeds and the top-5-pruned share, and end with one line:

    compute_ratio_vs_random=X compute_ratio_vs_asha=Y top5_pruned_pct=Z overhead_pct=W tables=N

with the figures of the WORST table (the one where the engine is furthest from its goals:
largest of ratio/0.6 vs ASHA, ratio/0.25 vs random, pruned%/5) and N tables replayed.
X and Y are the engine's median compute (training samples) to the first fully trained
configuration with normalised regret <= 0.02, divided by random search's and by ASHA's; Z is how
often (% of seeds) the engine pruned a true top-5 configuration before that hit; W is the share
of a real sweep's steady-state wall time (per further trial) spent outside training steps and
eval passes, measured with trials of ~35 s of training (see `benchmarks.costs.engine_overhead`).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import candidates, replay, task
from benchmarks.replay import AshaContender, Contender, OptunaContender, Table

RESULTS_MD = task.BENCH_DIR / "RESULTS.md"
RESULTS_JSON = task.DATA_DIR / "results.json"

# The engine as configured in conf/ (whatever its defaults are), the alternatives the issue names,
# and candidate default changes. Every contender but `engine` names its pruner explicitly, so the
# rows keep their meaning when the defaults change.
ENGINE = OptunaContender("engine")
BASELINES: tuple[Contender, ...] = (
    OptunaContender("random", ("sampler=random", "pruner=none")),
    AshaContender(),
)
ALTERNATIVES: tuple[Contender, ...] = (
    OptunaContender("grid", ("sampler=grid", "pruner=none")),
    OptunaContender("tpe+none", ("pruner=none",)),
    OptunaContender("tpe+median", ("pruner=median",)),
    OptunaContender("tpe+hyperband", ("pruner=hyperband",)),
    OptunaContender("tpe+successive_halving", ("pruner=successive_halving",)),
    # issue 22: ASHA fed the engine's cooldown-branch fidelity (tables that record branches; on the
    # others it is plain ASHA): how much comes from the fidelity, how much from the search
    AshaContender(name="asha(branch)", fidelity="branch"),
)
# `E` = one eval interval of the task (20 steps): a warm-up of E + 1 steps exempts the first
# eval report from pruning. Hyperband / successive halving count min_resource in eval reports.
E = task.EVAL_EVERY
PRIORS = (  # the default space's enqueued priors, on this space's grid (alpha = 2r, batch 16 -> 8)
    {"learning_rate": 2e-4, "lora_r": 16, "lora_alpha_ratio": 2.0, "effective_batch_size": 8,
     "lr_scheduler": "cosine"},  # Unsloth guide
    {"learning_rate": 1e-3, "lora_r": 16, "lora_alpha_ratio": 2.0, "effective_batch_size": 8,
     "lr_scheduler": "cosine"},  # Tinker's best LoRA lr (their r 32 is not on the grid; 16 kept)
)
MEDIAN = ("pruner=median", "pruner.n_startup_trials=3", "pruner.n_warmup_steps=0")  # the pre-change default
SH = ("pruner=successive_halving", "pruner.min_resource=1")
VARIANTS: tuple[Contender, ...] = (
    OptunaContender("tpe(startup=10)+median", (*MEDIAN, "sampler.n_startup_trials=10")),
    OptunaContender("tpe(startup=3)+median", (*MEDIAN, "sampler.n_startup_trials=3")),
    OptunaContender("tpe+median(warmup=2E)", (*MEDIAN, f"pruner.n_warmup_steps={2 * E}")),
    OptunaContender("tpe+median(startup=1)", (*MEDIAN, "pruner.n_startup_trials=1")),
    OptunaContender("tpe+median(startup=1,warmup=E+1)", (*MEDIAN, "pruner.n_startup_trials=1",
                                                         f"pruner.n_warmup_steps={E + 1}")),
    OptunaContender("tpe+median(startup=1)+priors", (*MEDIAN, "pruner.n_startup_trials=1"), enqueue=PRIORS),
    OptunaContender("tpe+sh(rf=3)", (*SH, "pruner.reduction_factor=3")),
    OptunaContender("tpe+sh(rf=2)", (*SH, "pruner.reduction_factor=2")),
    OptunaContender("tpe+sh(rf=2)+priors", (*SH, "pruner.reduction_factor=2"), enqueue=PRIORS),
    OptunaContender("tpe+hyperband(rf=2)", ("pruner=hyperband", "pruner.min_resource=1", "pruner.reduction_factor=2")),
    OptunaContender("tpe+percentile25(startup=1,warmup=E+1)",
                    pruner_factory=partial(candidates.percentile, percentile=25.0, n_startup_trials=1,
                                           n_warmup_steps=E + 1)),
    OptunaContender("tpe+top_trajectory(k=1,startup=1,warmup=E+1)",
                    pruner_factory=partial(candidates.top_trajectory, top_k=1, n_startup_trials=1,
                                           n_warmup_steps=E + 1, margin=0.002)),
)
BEFORE = "tpe+median"  # the engine's default before this benchmark (median pruner, 3 start-up trials)
PROPOSED = "tpe+sh(rf=2)"  # proposed (and adopted in conf/) default: successive halving, rf 2

GOALS = {"compute_ratio_vs_random": 0.25, "compute_ratio_vs_asha": 0.6, "top5_pruned_pct": 5.0,
         "overhead_pct": 3.0, "ask_tell_ms": 200.0, "tokens_per_s_ratio": 1.0}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- replay, in parallel


def _replay_chunk(args: tuple[Contender, str, list[int], int | None]) -> list[replay.RunResult]:
    contender, table_path, seeds, max_trials = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    table = Table.load(table_path)
    return replay.run_many(contender, table, seeds, max_trials)


def replay_contenders(contenders: Sequence[Contender], table_path: Path, seeds: Sequence[int],
                      workers: int = 2, max_trials: int | None = None) -> dict[str, list[replay.RunResult]]:
    """Every contender over every seed; seeds split over `workers` processes (results identical)."""
    jobs = []
    for c in contenders:
        for w in range(workers):
            chunk = list(seeds)[w::workers]
            if chunk:
                jobs.append((c, str(table_path), chunk, max_trials))
    out: dict[str, list[replay.RunResult]] = {c.name: [] for c in contenders}
    if workers <= 1:
        for job in jobs:
            out[job[0].name] += _replay_chunk(job)
    else:
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            for job, res in zip(jobs, pool.map(_replay_chunk, jobs), strict=True):
                out[job[0].name] += res
    for name in out:
        out[name].sort(key=lambda r: r.seed)
    return out


def ratio(a: float, b: float) -> float:
    """a / b for costs to a hit, where inf is a miss: a miss against anything is inf (no credit),
    a hit against a miss is 0.0 (the other found nothing within its budget)."""
    if math.isinf(a) or b == 0:
        return math.inf
    if math.isinf(b):
        return 0.0
    return a / b


def ratio_ci(a: Sequence[float], b: Sequence[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """90% bootstrap interval of median(a) / median(b) (seeds resampled independently)."""
    import random

    rng = random.Random(seed)
    ratios = sorted(ratio(replay.quantile(rng.choices(a, k=len(a)), 0.5), replay.quantile(rng.choices(b, k=len(b)), 0.5))
                    for _ in range(n_boot))
    return ratios[int(0.05 * n_boot)], ratios[int(0.95 * n_boot) - 1]


def _paired_pct(a: Sequence[float], e: Sequence[float] | None) -> float | None:
    if not e or len(a) != len(e):
        return None
    return round(100.0 * sum(x < y for x, y in zip(a, e, strict=True)) / len(a), 1)


def _paired_ratio(a: Sequence[float], e: Sequence[float] | None) -> float | None:
    if not e or len(a) != len(e):
        return None
    return replay.quantile([ratio(x, y) if not math.isinf(y) else math.inf for x, y in zip(a, e, strict=True)], 0.5)


def summaries(runs: dict[str, list[replay.RunResult]], table: Table) -> dict[str, dict[str, Any]]:
    """Per contender: cost-to-hit median/IQR (samples and share of the grid), ratios with 90%
    bootstrap intervals, top-5 pruned."""
    s = {name: replay.summarize(r, table) for name, r in runs.items()}
    rnd = s.get("random")
    asha = s.get("asha")
    costs = {name: [r.cost_to_hit for r in rs] for name, rs in runs.items()}
    out = {}
    for name, x in s.items():
        out[name] = {
            "ci_vs_random": ratio_ci(costs[name], costs["random"]) if rnd else None,
            "ci_vs_asha": ratio_ci(costs[name], costs["asha"]) if asha else None,
            "seeds": x.n, "median_samples": x.median, "q1_samples": x.q1, "q3_samples": x.q3,
            "median_share": x.share(x.median), "q1_share": x.share(x.q1), "q3_share": x.share(x.q3),
            "misses": x.misses, "top5_pruned_pct": x.top_pruned_pct, "median_trials": x.median_trials,
            # paired with the pre-benchmark default (same seeds): how often cheaper, median cost ratio
            "cheaper_than_before_pct": _paired_pct(costs[name], costs.get(BEFORE)),
            "paired_ratio_vs_before": _paired_ratio(costs[name], costs.get(BEFORE)),
            "ratio_vs_random": ratio(x.median, rnd.median) if rnd else None,
            "ratio_vs_asha": ratio(x.median, asha.median) if asha else None,
        }
    return out


def table_facts(table: Table) -> dict[str, Any]:
    finals = table.finals()
    hits = table.hits()
    top = table.top()
    return {
        "configs": len(table.configs), "usable": len(finals), "diverged": len(table.configs) - len(finals),
        "hits": len(hits), "hit_pct": round(100 * len(hits) / len(table.configs), 1),
        "initial_loss": table.initial, "best_final": table.best, "grid_cost_samples": table.grid_cost(),
        "top5": [(k, finals[k], round(table.regret(k), 4)) for k in top],
        "seeds": table.meta.get("built", {}).get("seeds"),
        "built": table.meta.get("built"), "determinism": table.meta.get("determinism"),
        "early_vs_final_spearman": early_rank_correlation(table),
        "seed_noise": seed_noise(table),
    }


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    for rank, i in enumerate(order):
        r[i] = float(rank)
    return r


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va and vb else math.nan


def early_rank_correlation(table: Table) -> dict[str, float]:
    """Spearman rank correlation of the mean eval loss at each eval step with the final one."""
    keys = [k for k in table.configs if table.configs[k].get("mean_curve")]
    if len(keys) < 3:
        return {}
    curves = [table.configs[k]["mean_curve"] for k in keys]
    final = [c[-1][1] for c in curves]
    return {str(int(curves[0][i][0])): round(spearman([c[i][1] for c in curves], final), 3)
            for i in range(len(curves[0]))}


def seed_noise(table: Table) -> dict[str, float] | None:
    """Median over configurations of the std of the final loss across seeds, normalised like regret."""
    import statistics

    sds = []
    for c in table.configs.values():
        finals = [r["curve"][-1][1] for r in c["seeds"].values() if r["status"] == "ok" and r["curve"]]
        if len(finals) >= 2:
            sds.append(statistics.stdev(finals))
    if not sds:
        return None
    span = table.initial - table.best
    out = {"median_final_sd": statistics.median(sds), "median_final_sd_normalised": statistics.median(sds) / span}
    within = within_seed_sd(table)
    if within is not None:
        out.update(median_within_seed_sd=within, median_within_seed_sd_normalised=within / span)
    return out


def within_seed_sd(table: Table) -> float | None:
    """The seed noise that ranking sees under common random numbers: a seed's shared effect on
    every configuration (its data order: smollm2_chat_sched's WSD seed 1 ends 0.06 above seed 0
    for nearly every configuration) removed. Per common seed, each configuration's final minus that
    seed's median over configurations; the median over configurations of the std of that
    residual across seeds. The seeds are those of the configurations with the most seeds (a table
    may give its top configurations extra seeds only), over the configurations that finished all
    of them; None with fewer than two such seeds or three such configurations."""
    import statistics

    most = max(table.configs.values(), key=lambda c: len(c["seeds"]))
    common = sorted(most["seeds"], key=int)
    rows = {k: [float(c["seeds"][s]["curve"][-1][1]) for s in common] for k, c in table.configs.items()
            if all(s in c["seeds"] and c["seeds"][s]["status"] == "ok" and c["seeds"][s]["curve"] for s in common)}
    if len(common) < 2 or len(rows) < 3:
        return None
    centre = [statistics.median(v[i] for v in rows.values()) for i in range(len(common))]
    return statistics.median(statistics.stdev(x - m for x, m in zip(v, centre, strict=True)) for v in rows.values())


# --------------------------------------------------------------------------- steps


def ray_init(num_cpus: int) -> None:
    """Local Ray whose workers can import `benchmarks` (they inherit PYTHONPATH)."""
    import ray

    root = str(task.BENCH_DIR.parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *[p for p in paths if p != root]])
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)


def asha_tuner_check(table_path: Path, seeds: Sequence[int], max_trials: int) -> dict[str, Any]:
    """The ASHA contender through a real ray.tune.Tuner on a few seeds vs the in-process replay."""
    import ray

    table = Table.load(table_path)
    t0 = time.perf_counter()
    ray_init(num_cpus=2)
    try:
        real = [replay.run_asha_tuner(table, s, max_trials) for s in seeds]
    finally:
        ray.shutdown()
    seconds = time.perf_counter() - t0
    fast = [AshaContender().run(table, s, max_trials) for s in seeds]
    same = [[(t.key, t.state, t.steps) for t in a.trials] == [(t.key, t.state, t.steps) for t in b.trials]
            for a, b in zip(real, fast, strict=True)]
    return {"seeds": list(seeds), "identical": same, "all_identical": all(same),
            "tuner_seconds": round(seconds, 1),
            "tuner_seconds_per_trial": round(seconds / max(sum(len(r.trials) for r in real), 1), 3),
            "cost_to_hit_tuner": [r.cost_to_hit for r in real], "cost_to_hit_replay": [r.cost_to_hit for r in fast]}


def live_engine_check(n_trials: int, table_path: Path = task.REFERENCE_FILE,
                      out_dir: str = "/tmp/lora_sweep_bench_live", max_trials: int = 40) -> dict[str, Any]:
    """A real `sweep.engine.run` (seed 0, the engine's defaults) on the task; curves vs the table.

    Runs `n_trials`, or, when the replay of the same sweep predicts a hit, up to 2 trials past it
    (at most `max_trials`), so the live run shows whether the hit comes where the replay says.
    """
    import contextlib
    import io
    import shutil

    from sweep import engine

    shutil.rmtree(out_dir, ignore_errors=True)
    table = Table.load(table_path)
    predicted = ENGINE.run(_seed0_table(table), 0, 3 * len(table.configs))
    if predicted.trials_to_hit is not None:  # run until just past the hit the replay predicts
        n_trials = min(predicted.trials_to_hit + 2, max_trials)
    cfg = task.task_config(seed=0, output_dir=out_dir, study_name="live", extra=(f"n_trials={n_trials}",))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        summary = engine.run(cfg)
    wall = time.perf_counter() - t0
    trials = summary.study.get_trials(deepcopy=False)
    rows, matches = [], []
    led = replay.Ledger(table, "engine_live", 0, n_trials)
    for t in trials:
        key = table.key_of({n: t.params[n] for n in table.names})
        live = [[int(s), v] for s, v in sorted(t.intermediate_values.items())]
        stored = table.configs[key]["seeds"].get("0", {}).get("curve")
        same = stored is not None and live == stored[: len(live)]
        matches.append(same)
        batch = table.batch(key)
        steps = max(t.intermediate_values) if t.intermediate_values else 0
        led.record(replay.Trial(key, t.state.name, steps, steps * batch, t.value))
        rows.append({"number": t.number, "key": key, "state": t.state.name, "steps": steps,
                     "curve_matches_table_seed0": same, "regret": round(table.regret(key), 4)})
    res = led.result()
    # the replay of the same sweep: same sampler seed, every trial on seed 0's curve
    fast = ENGINE.run(_seed0_table(table), 0, n_trials)
    n = min(len(rows), len(fast.trials))
    decisions = [(x["key"], x["state"], x["steps"]) for x in rows[:n]] == \
        [(t.key, t.state, t.steps) for t in fast.trials[:n]]
    return {"wall_s": round(wall, 1), "trials": rows, "all_curves_match": all(matches),
            "decisions_match_replay": decisions, "cost_to_hit": res.cost_to_hit, "hit_key": res.hit_key,
            "trials_to_hit": res.trials_to_hit, "predicted_trials_to_hit": predicted.trials_to_hit,
            "predicted_cost_to_hit": predicted.cost_to_hit}


def live_asha_check(n_trials: int, table_path: Path = task.REFERENCE_FILE, seed: int = 0) -> dict[str, Any]:
    """Ray Tune ASHA + random search with real training (the task's Trainer) on a few trials."""
    import ray
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    table = Table.load(table_path)
    names = table.names
    contender = AshaContender()

    def trainable(config: dict[str, Any]) -> None:
        import torch

        from benchmarks import task as t

        torch.set_num_threads(1)
        cfg = t.task_config(seed=0, study_name="asha_live")
        space = t.task_space(cfg)

        class Rep(t.RecordingReporter):
            def report(self, step: int, value: float) -> None:
                super().report(step, value)
                tune.report({"eval_loss": value, "step": step, "key": t.config_key(config, names)})

        from sweep.trial import run_trial

        run_trial(cfg, space.from_values(dict(config)), Rep())

    t0 = time.perf_counter()
    ray_init(num_cpus=1)
    try:
        grid = tune.Tuner(
            trainable, param_space=replay.ray_param_space(table),
            tune_config=tune.TuneConfig(num_samples=n_trials, max_concurrent_trials=1,
                                        scheduler=contender.scheduler(table),
                                        search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=1)),
            run_config=tune.RunConfig(name="asha_live", storage_path="/tmp/lora_sweep_bench_ray", verbose=0),
        ).fit()
    finally:
        ray.shutdown()
    wall = time.perf_counter() - t0
    rows, matches = [], []
    for r in sorted(grid, key=lambda r: (r.metrics or {}).get("trial_id", "")):
        m = r.metrics or {}
        if "key" not in m:
            continue
        hist = r.metrics_dataframe
        live = [[int(s), float(v)] for s, v in zip(hist["step"], hist["eval_loss"], strict=True)]
        stored = table.configs[m["key"]]["seeds"].get("0", {}).get("curve")
        same = stored is not None and live == stored[: len(live)]
        matches.append(same)
        rows.append({"key": m["key"], "steps": int(m["step"]), "curve_matches_table_seed0": same})
    fast = contender.run(_seed0_table(table), seed, n_trials)
    n = min(len(rows), len(fast.trials))
    decisions_match = [(x["key"], x["steps"]) for x in rows[:n]] == [(t.key, t.steps) for t in fast.trials[:n]]
    return {"wall_s": round(wall, 1), "trials": rows, "all_curves_match": all(matches),
            "decisions_match_replay": decisions_match}


def _seed0_table(table: Table) -> Table:
    """The table as a seed-0 sweep sees it (every trial trains with seed 0)."""
    configs = {k: {**c, "seeds": {"0": c["seeds"]["0"]}} for k, c in table.configs.items() if "0" in c["seeds"]}
    return Table(table.names, configs, table.initial, table.max_steps, table.eval_every, table.meta)


# --------------------------------------------------------------------------- report


def final_line(s: dict[str, dict[str, Any]], overhead_pct: float, n_tables: int | None = None) -> str:
    """The one-line summary; with `n_tables`, `s` is the worst table's summaries (`worst_table`)."""
    e = s["engine"]
    line = (f"compute_ratio_vs_random={e['ratio_vs_random']:.3f} compute_ratio_vs_asha={e['ratio_vs_asha']:.3f} "
            f"top5_pruned_pct={e['top5_pruned_pct']:.1f} overhead_pct={overhead_pct:.2f}")
    return line if n_tables is None else f"{line} tables={n_tables}"


def goal_distance(e: dict[str, Any]) -> float:
    """How far the engine is from its goals on one table: the largest of figure / goal over
    compute vs ASHA, compute vs random and top-5 pruned (<= 1: every goal met)."""
    return max(e["ratio_vs_asha"] / GOALS["compute_ratio_vs_asha"],
               e["ratio_vs_random"] / GOALS["compute_ratio_vs_random"],
               e["top5_pruned_pct"] / GOALS["top5_pruned_pct"])


def worst_table(per_table: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The table where the engine is furthest from its goals (`goal_distance`)."""
    return max(per_table, key=lambda n: goal_distance(per_table[n]["engine"]))


def suite_tables(args_tables: list[str] | None) -> list[tuple[str, Path]]:
    """(name, file) of the tables to replay: `--table` files, or every built table of the suite."""
    if args_tables:
        out = []
        for p in args_tables:
            out.append((Table.load(p).name, Path(p)))
        return out
    from benchmarks import suite

    skipped: list[str] = []
    out = suite.suite_paths(skipped=skipped)
    for why in skipped:
        log(f"table left out: {why}")
    return out


def describe_line(name: str, table: Table) -> str:
    part = table.meta.get("partial")
    size = f"{len(table.configs)} configurations" + (
        f" (PARTIAL: {part['trained']} of {part['grid']} trained; largest complete sub-grid {part['kept']})"
        if part else "")
    return (f"table {name}: {size}, {len(table.hits())} hits, {table.max_steps} steps, eval every "
            f"{table.eval_every}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="cached table; replay + small live measurements")
    mode.add_argument("--full", action="store_true", help="rebuild the table, everything, write RESULTS.md")
    ap.add_argument("--seeds", type=int, default=None, help="replay seeds per contender (quick 200, full 500)")
    ap.add_argument("--workers", type=int, default=2, help="processes for replay and the table build")
    ap.add_argument("--table", action="append", default=None,
                    help="a table file (repeatable); default: every built table of the suite "
                         "(benchmarks/data/tables/); the first is the one --full reports in detail")
    ap.add_argument("--skip-build", action="store_true", help="--full: reuse the cached table")
    ap.add_argument("--resume", action="store_true", help="--full: continue an interrupted table build")
    ap.add_argument("--skip-live", action="store_true", help="skip real training (overhead, throughput, live)")
    ap.add_argument("--trial-seconds", type=float, default=35.0, help="trial length of the overhead sweep")
    ap.add_argument("--write", action="store_true", help="--quick: also write RESULTS.md / results.json")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    paths = suite_tables(args.table)
    table_path = paths[0][1]
    full = bool(args.full)
    rebuild: dict[str, Any] | None = None
    if full and not args.skip_build:
        from benchmarks import reference

        previous = reference.JOURNAL.with_suffix(".prev.jsonl")
        if not args.resume and reference.JOURNAL.is_file():
            reference.JOURNAL.replace(previous)  # a fresh build; the old one is compared below
        log(f"building the reference table ({len(task.TRAIN_SEEDS)} seeds x every configuration, "
            f"{args.workers} workers; resumable with --resume): {reference.JOURNAL}")
        reference.build(args.workers, task.TRAIN_SEEDS)
        if previous.is_file():
            rebuild = reference.compare_journals(previous, reference.JOURNAL)
            log(f"rebuilt curves identical to the previous build: {rebuild}")
        log("determinism check: retraining 3 configurations in this process")
        reference.check(3)
    table = Table.load(table_path)
    facts = table_facts(table)
    facts["rebuild_vs_previous"] = rebuild
    log(f"table: {facts['configs']} configurations, {facts['hits']} hits ({facts['hit_pct']}%), "
        f"seeds {facts['seeds']}")
    n_seeds = args.seeds or (500 if full else 200)
    seeds = list(range(n_seeds))
    contenders: list[Contender] = [ENGINE, *BASELINES]
    if full:
        contenders += [*ALTERNATIVES, *VARIANTS]
    results: dict[str, Any] = {
        "mode": "full" if full else "quick",
        "command": " ".join(["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)]),
        "table_rebuilt": full and not args.skip_build, "table": facts, "goals": GOALS, "proposed": PROPOSED,
        "groups": {"main": [c.name for c in (ENGINE, *BASELINES, *(ALTERNATIVES if full else ()))],
                   "variants": [BEFORE, ENGINE.name, *(c.name for c in VARIANTS if full)]}}
    t0 = time.perf_counter()
    runs = replay_contenders(contenders, table_path, seeds, workers=args.workers)
    results["replay_seconds"] = round(time.perf_counter() - t0, 1)
    results["summaries"] = summaries(runs, table)
    again = replay_contenders([ENGINE, BASELINES[1], *([ALTERNATIVES[3]] if full else [])], table_path, seeds[:5],
                              workers=1)
    results["replay_deterministic"] = all(
        replay.fingerprint(again[n]) == replay.fingerprint(runs[n][:5]) for n in again)
    log(f"replay: {len(contenders)} contenders x {n_seeds} seeds in {results['replay_seconds']} s; "
        f"deterministic={results['replay_deterministic']}")
    for name, x in results["summaries"].items():
        log(f"  {name:28s} median share of grid {x['median_share']:.3f} "
            f"[IQR {x['q1_share']:.3f}-{x['q3_share']:.3f}] vs random {x['ratio_vs_random']:.3f} "
            f"vs asha {x['ratio_vs_asha']:.3f} top5 pruned {x['top5_pruned_pct']:.1f}% misses {x['misses']}")
    per_table = {paths[0][0]: {k: results["summaries"][k] for k in (ENGINE.name, *(b.name for b in BASELINES))}}
    results["suite"] = {paths[0][0]: {"describe": describe_line(paths[0][0], table),
                                      "summaries": per_table[paths[0][0]]}}
    for name, path in paths[1:]:
        other = Table.load(path)
        log(describe_line(name, other))
        s = summaries(replay_contenders([ENGINE, *BASELINES], path, seeds, workers=args.workers), other)
        per_table[name] = s
        results["suite"][name] = {"describe": describe_line(name, other), "summaries": s}
    log(f"per table ({n_seeds} replay seeds; 90% bootstrap intervals over seeds):")
    for name, s in per_table.items():
        log(f"  {results['suite'][name]['describe']}")
        for c, x in s.items():
            log(f"    {c:8s} vs random {x['ratio_vs_random']:.3f} [{x['ci_vs_random'][0]:.2f}-"
                f"{x['ci_vs_random'][1]:.2f}]  vs asha {x['ratio_vs_asha']:.3f} [{x['ci_vs_asha'][0]:.2f}-"
                f"{x['ci_vs_asha'][1]:.2f}]  top5 pruned {x['top5_pruned_pct']:.1f}%  misses {x['misses']}")
    worst = worst_table(per_table)
    results["worst_table"] = worst
    log(f"worst table (furthest from the goals): {worst}")
    if full:
        log("ASHA through a real ray.tune.Tuner (3 seeds)")
        results["asha_tuner"] = asha_tuner_check(table_path, seeds[:3], 3 * len(table.configs))
        log(f"  {results['asha_tuner']}")
    from benchmarks import costs

    overhead_pct = math.nan
    if not args.skip_live:
        log("tokens/s: our Trainer vs HF Trainer + PEFT")
        results["throughput"] = costs.throughput(steps=60 if full else 30, repeats=3 if full else 1)
        tp = results["throughput"]
        log(f"  ours {tp['ours_tokens_per_s']} vs HF {tp['hf_tokens_per_s']} tokens/s (ratio {tp['ratio']})")
        # trials of >= 30 s at the speed just measured (batch 8 pinned so every trial is alike)
        step_s = statistics.median(r["seconds"] / r["steps"] for r in tp["ours_runs"])
        steps = max(100, math.ceil(args.trial_seconds / step_s))
        log(f"engine overhead: a real sweep (fresh process), {3 if not full else 5} trials of {steps} steps "
            f"(~{steps * step_s:.0f} s of training each)")
        results["overhead"] = costs.engine_overhead_subprocess(n_trials=5 if full else 3, max_steps=steps)
        overhead_pct = results["overhead"]["overhead_pct"]
        log(f"  {results['overhead']}")
        log("ask+tell at 1,000 trials (SQLite)")
        results["ask_tell"] = costs.ask_tell_timing(1000, measure_last=50 if full else 20, prefill=not full)
        log(f"  {results['ask_tell']}")
        results["ask_tell_journal"] = costs.ask_tell_timing(1000, measure_last=50 if full else 20,
                                                            prefill=not full, storage="journal")
        log(f"  journal storage: {results['ask_tell_journal']}")
        if full:
            log("live confirmation: engine (real training)")
            results["live_engine"] = live_engine_check(20, table_path)
            log(f"  curves match: {results['live_engine']['all_curves_match']}, decisions match: "
                f"{results['live_engine']['decisions_match_replay']}")
            log("live confirmation: Ray Tune ASHA (real training)")
            results["live_asha"] = live_asha_check(8, table_path)
            log(f"  curves match: {results['live_asha']['all_curves_match']}, decisions match: "
                f"{results['live_asha']['decisions_match_replay']}")
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    results["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if full or args.write:
        from benchmarks import report

        RESULTS_JSON.write_text(json.dumps(results, indent=1, default=str) + "\n")
        report.write_results_md(results, RESULTS_MD)
        log(f"wrote {RESULTS_MD} and {RESULTS_JSON}")
    print(final_line(per_table[worst], overhead_pct, len(per_table)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
