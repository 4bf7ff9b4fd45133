"""Experiment: learning rate sampled as a continuous log-uniform float, snapped to the table.

    python -m benchmarks.continuous_lr [--seeds 200] [--workers 2] [--out FILE.json]

Every contender (engine = conf defaults, random, ASHA + random search) runs three ways on the
same replay machinery and seeds:
- `cat`:  lr categorical over the table's 7 values (what benchmarks.run measures);
- `cont`: lr log-uniform over [min, max] of the table, snapped to the nearest table lr in log
          space (the end values get half a bin of mass);
- `wide`: the same over a range widened by half a bin at each end ([1e-4/sqrt 2, 1e-2*sqrt 2]).
Ratios are taken within a variant (engine_X vs random_X, asha_X) and against the categorical
baselines. Also prints each variant's per-value lr probabilities: analytic, and counted over
the learning rates random search actually proposed.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import sys
import time
from pathlib import Path

from benchmarks import replay, run, task
from benchmarks.replay import AshaContender, OptunaContender, Table

VARIANTS = {"cat": None, "cont": 0.0, "wide": 0.5}


def contenders() -> list[replay.Contender]:
    out: list[replay.Contender] = []
    for tag, w in VARIANTS.items():
        out += [OptunaContender(f"engine_{tag}", lr_widen=w),
                OptunaContender(f"random_{tag}", ("sampler=random", "pruner=none"), lr_widen=w),
                AshaContender(f"asha_{tag}", lr_widen=w)]
    return out


def analytic_probs(table: Table, widen: float | None) -> dict[float, float]:
    v = table.lr_values()
    if widen is None:
        return {x: 1 / len(v) for x in v}
    lo, hi = (math.log(x) for x in table.lr_range(widen))
    cuts = [lo] + [(math.log(a) + math.log(b)) / 2 for a, b in zip(v[:-1], v[1:], strict=True)] + [hi]
    return {x: (cuts[i + 1] - cuts[i]) / (hi - lo) for i, x in enumerate(v)}


def observed_probs(runs: list[replay.RunResult], table: Table) -> dict[float, float]:
    c = collections.Counter(table.configs[t.key]["values"]["learning_rate"] for r in runs for t in r.trials)
    n = sum(c.values())
    return {x: c[x] / n for x in table.lr_values()}


def ratio_of_ratios_ci(costs: dict[str, list[float]], tag: str, base: str, n_boot: int = 2000,
                       seed: int = 0) -> tuple[float, float, float]:
    """(engine_tag / base_tag) / (engine_cat / base_cat) of medians, with a 90% bootstrap interval
    (each contender's seeds resampled independently)."""
    import random

    names = (f"engine_{tag}", f"{base}_{tag}", "engine_cat", f"{base}_cat")

    def rr(xs: list[list[float]]) -> float:
        m = [replay.quantile(x, 0.5) for x in xs]
        return (m[0] / m[1]) / (m[2] / m[3])

    rng = random.Random(seed)
    point = rr([costs[n] for n in names])
    boots = sorted(rr([rng.choices(costs[n], k=len(costs[n])) for n in names]) for _ in range(n_boot))
    return point, boots[int(0.05 * n_boot)], boots[int(0.95 * n_boot) - 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="/tmp/continuous_lr.json")
    args = ap.parse_args(argv)
    table = Table.load(task.REFERENCE_FILE)
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    runs = run.replay_contenders(contenders(), task.REFERENCE_FILE, seeds, workers=args.workers)
    secs = time.perf_counter() - t0
    s = {n: replay.summarize(r, table) for n, r in runs.items()}
    costs = {n: [r.cost_to_hit for r in rs] for n, rs in runs.items()}
    res: dict = {"seeds": args.seeds, "replay_seconds": round(secs, 1), "rows": {}, "lr_probs": {}}
    print(f"{len(runs)} contenders x {args.seeds} seeds in {secs:.0f} s", file=sys.stderr)
    for tag, w in VARIANTS.items():
        res["lr_probs"][tag] = {
            "range": table.lr_range(w) if w is not None else None,
            "analytic": analytic_probs(table, w),
            "random_observed": observed_probs(runs[f"random_{tag}"], table),
            "asha_observed": observed_probs(runs[f"asha_{tag}"], table)}
        for who in ("engine", "random", "asha"):
            n = f"{who}_{tag}"
            x = s[n]
            row = {"median_share": x.share(x.median), "q1_share": x.share(x.q1), "q3_share": x.share(x.q3),
                   "misses": x.misses, "top5_pruned_pct": x.top_pruned_pct, "median_trials": x.median_trials}
            for base in (f"random_{tag}", f"asha_{tag}", "random_cat", "asha_cat"):
                row[f"vs_{base}"] = run.ratio(x.median, s[base].median)
                row[f"ci90_vs_{base}"] = run.ratio_ci(costs[n], costs[base], n_boot=2000)
            res["rows"][n] = row
    # engine variant vs categorical engine (same seeds; pairing is loose: different sampling)
    for tag in ("cont", "wide"):
        res["rows"][f"engine_{tag}"]["ci90_vs_engine_cat"] = run.ratio_ci(costs[f"engine_{tag}"],
                                                                         costs["engine_cat"], n_boot=2000)
        res["rows"][f"engine_{tag}"]["vs_engine_cat"] = run.ratio(s[f"engine_{tag}"].median, s["engine_cat"].median)
    # is the within-variant gain real? 90% bootstrap of (engine_X / base_X) / (engine_cat / base_cat)
    res["ratio_of_ratios"] = {f"{tag}_vs_{base}": ratio_of_ratios_ci(costs, tag, base)
                              for tag in ("cont", "wide") for base in ("random", "asha")}
    res["costs"] = costs
    Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    for n, r in res["rows"].items():
        tag = n.split("_")[1]
        print(f"{n:12s} share {r['median_share']:.4f} [IQR {r['q1_share']:.4f}-{r['q3_share']:.4f}] "
              f"vs random_{tag} {r[f'vs_random_{tag}']:.3f} {tuple(round(v, 3) for v in r[f'ci90_vs_random_{tag}'])} "
              f"vs asha_{tag} {r[f'vs_asha_{tag}']:.3f} {tuple(round(v, 3) for v in r[f'ci90_vs_asha_{tag}'])} "
              f"| vs random_cat {r['vs_random_cat']:.3f} vs asha_cat {r['vs_asha_cat']:.3f} "
              f"top5 {r['top5_pruned_pct']:.1f}% misses {r['misses']} trials {r['median_trials']}")
    for tag in ("cont", "wide"):
        r = res["rows"][f"engine_{tag}"]
        print(f"engine_{tag} / engine_cat {r['vs_engine_cat']:.3f} ci90 {tuple(round(v, 3) for v in r['ci90_vs_engine_cat'])}")
    for k, v in res["ratio_of_ratios"].items():
        print(f"ratio-of-ratios {k}: {v[0]:.3f} ci90 ({v[1]:.3f}, {v[2]:.3f})")
    for tag, p in res["lr_probs"].items():
        print(tag, p["range"], " ".join(f"{k:g}:{p['analytic'][k]:.3f}/{p['random_observed'][k]:.3f}/"
                                         f"{p['asha_observed'][k]:.3f}" for k in p["analytic"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
