"""Which of issue 22's two causes each table shows: noise, and short-horizon bias.

    python -m benchmarks.causes                        # every built table, markdown to stdout
    python -m benchmarks.causes --tables smollm2_chat_sched,smollm2_chat

Nothing is replayed; every figure comes from the table's recorded runs.
- **Noise** (the issue's test): the median over configurations of the std of the final eval loss
  across seeds, in regret units. A table counts for the goals only where it is below the hit
  threshold (0.02). Next to it is the part within the seed: each seed's shared effect removed,
  which is what ranking sees under common random numbers. Also shown: how many configurations
  are within that noise of the best (regret below it) against how many are hits. Many of the
  first and few of the second means the seed decides which one is the hit.
- **Short-horizon bias**: the Spearman rank correlation of the seed-mean loss with the seed-mean
  final, at the first report and at the engine's first rung (conf/'s pruner: `min_resource`
  reports, at least `n_warmup_steps`). A table whose schedule is searched is also cut per
  schedule (the mixed table's ranks are partly the schedule's). The label "yes" is a Spearman
  below 0.5 (over the whole table or any one schedule) at the first rung, "at the first report"
  below 0.5 there only, "unmeasured" with too few configurations. Below 0.5 a rung keeps many of
  the configurations that end worst: the horizon bias the issue names (its first report: 0.20).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from benchmarks import replay, run, suite, task
from benchmarks.replay import Table

BIAS = 0.5  # Spearman below this at a rung: the rung ranks configurations badly


def engine_first_rung(table: Table) -> int:
    """The optimizer step of the engine's (conf/'s) first rung on this table's cadence."""
    from sweep.pruning import first_rung

    return first_rung(task.task_config(base=table.overrides()))


def _at(ranks: dict[str, float], step: int) -> float:
    """The Spearman at the first report at or after `step` (a rung between reports acts there)."""
    later = sorted((int(s), v) for s, v in ranks.items() if int(s) >= step)
    return later[0][1] if later else math.nan


def _rank_by_schedule(table: Table) -> dict[str, dict[str, float]]:
    if "lr_scheduler" not in table.names:
        return {}
    from benchmarks import schedules

    out = {}
    for sched in sorted({c["values"]["lr_scheduler"] for c in table.configs.values()}):
        r = schedules.ranking(table, sched)
        out[sched] = {k.split("@")[1]: v for k, v in r.items() if k.startswith("run@")}
    return out


def diagnose(table: Table) -> dict[str, Any]:
    """The figures and labels of one table (see the module docstring)."""
    noise = run.seed_noise(table) or {}
    raw, within = noise.get("median_final_sd_normalised"), noise.get("median_within_seed_sd_normalised")
    finals = table.finals()
    near = None if raw is None else sum(1 for k in finals if table.regret(k) <= raw)
    ranks = run.early_rank_correlation(table)
    first_report = min((int(s) for s in ranks), default=None)
    rung = engine_first_rung(table)
    at_first, at_rung = (ranks.get(str(first_report), math.nan) if first_report else math.nan), _at(ranks, rung)
    by_sched = {s: {"first": r.get(str(first_report), math.nan) if first_report else math.nan, "rung": _at(r, rung)}
                for s, r in _rank_by_schedule(table).items()}
    def worst(xs: list[float]) -> float:
        measured = [x for x in xs if not math.isnan(x)]
        return min(measured) if measured else math.nan

    worst_rung = worst([at_rung, *(v["rung"] for v in by_sched.values())])
    worst_first = worst([at_first, *(v["first"] for v in by_sched.values())])
    bias = ("unmeasured" if math.isnan(worst_rung) else "yes" if worst_rung < BIAS
            else "at the first report" if worst_first < BIAS else "no")
    return {"configs": len(table.configs), "seeds_per_config": max(len(c["seeds"]) for c in table.configs.values()),
            "max_steps": table.max_steps, "first_report": first_report, "engine_first_rung": rung,
            "noise_raw": raw, "noise_within_seed": within, "hits": len(table.hits()), "within_noise_of_best": near,
            "counts_for_goals": raw is not None and raw < replay.THRESHOLD,
            "spearman_first_report": at_first, "spearman_engine_rung": at_rung, "by_schedule": by_sched,
            "noise_above_threshold": "unmeasured" if raw is None else ("yes" if raw >= replay.THRESHOLD else "no"),
            "horizon_bias": bias}


def _f(x: Any, nd: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    out = [f"Noise: median sd of a configuration's final across seeds, regret units (hit threshold "
           f"{replay.THRESHOLD}); horizon bias: Spearman of an early report with the final (seed means), "
           f"'yes' below {BIAS} at the engine's first rung.", "",
           "| table | configs x seeds | steps (first report, engine's first rung) | seed noise: raw / within seed "
           "| hits / configs within noise of the best | raw noise above the hit threshold | counts for the goals "
           "| Spearman at first report / at first rung (per schedule) | short-horizon bias |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, d in rows.items():
        per = "; ".join(f"{s} {_f(v['first'], 2)} / {_f(v['rung'], 2)}" for s, v in d["by_schedule"].items())
        sp = f"{_f(d['spearman_first_report'], 2)} / {_f(d['spearman_engine_rung'], 2)}" + (f" ({per})" if per else "")
        out.append(f"| {name} | {d['configs']} x {d['seeds_per_config']} | {d['max_steps']} ({d['first_report']}, "
                   f"{d['engine_first_rung']}) | {_f(d['noise_raw'], 4)} / {_f(d['noise_within_seed'], 4)} "
                   f"| {d['hits']} / {'-' if d['within_noise_of_best'] is None else d['within_noise_of_best']} "
                   f"| {d['noise_above_threshold']} | "
                   f"{'yes' if d['counts_for_goals'] else 'no'} | {sp} | {d['horizon_bias']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.causes", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", default=None, help="comma-separated table names (default: every built table)")
    args = ap.parse_args(argv)
    paths: list[tuple[str, Path]] = suite.suite_paths(args.tables.split(",") if args.tables else None)
    print(markdown({name: diagnose(Table.load(p)) for name, p in paths}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
