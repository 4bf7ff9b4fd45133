"""The schedule question of issue 22, on a table that records several `lr_scheduler`s.

    python -m benchmarks.schedules smollm2_chat_sched      # markdown to stdout
    python -m benchmarks.schedules smollm2_chat_sched --slices 100   # + replays per schedule

Per schedule, from the table's recorded runs (every configuration x seed; nothing replayed):
- the best configuration by its seed-mean final eval loss (over the seeds every configuration of
  the table has, as the oracle counts it), and that loss;
- the seed noise: median over configurations of the std of the final across seeds (raw, and in
  regret units of the whole table: (loss - table best) / (initial - table best)), against the
  hit threshold 0.02;
- head to head with another schedule at the same (lr, rank, seed): how often it ends lower, the
  mean difference, and where it loses (by lr);
- how well an early report ranks the schedule's configurations by their final (Spearman over
  seed-mean losses): the run itself at each report, and the cooldown branch where recorded.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import replay, run, tables
from benchmarks.replay import Table

SCHED = "lr_scheduler"


def _finals(table: Table) -> dict[tuple[str, ...], dict[str, float]]:
    """(schedule, lr, rank) -> {seed: final eval loss} of the runs that finished."""
    out: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for c in table.configs.values():
        v = c["values"]
        for seed, r in c["seeds"].items():
            if r["status"] == "ok" and r["curve"]:
                out[(v[SCHED], v["learning_rate"], v["lora_r"])][seed] = float(r["curve"][-1][1])
    return out


def per_schedule(table: Table) -> dict[str, dict[str, Any]]:
    finals = _finals(table)
    span = table.initial - table.best
    out: dict[str, dict[str, Any]] = {}
    for sched in sorted({k[0] for k in finals}):
        rows = {k: f for k, f in finals.items() if k[0] == sched}
        # the oracle's figure: the mean over the seeds every configuration has (tables.aggregate)
        means = {(sched, c["values"]["learning_rate"], c["values"]["lora_r"]): c["final"]
                 for c in table.configs.values() if c["values"][SCHED] == sched and c.get("final") is not None}
        best = min(means, key=means.__getitem__)
        sds = [statistics.stdev(f.values()) for f in rows.values() if len(f) >= 2]
        diverged = sum(1 for c in table.configs.values() if c["values"][SCHED] == sched
                       for r in c["seeds"].values() if r["status"] != "ok")
        out[sched] = {"best": {"lr": best[1], "r": best[2], "mean_final": means[best]},
                      "best_regret": (means[best] - table.best) / span,
                      "median_sd": statistics.median(sds) if sds else math.nan,
                      "median_sd_regret": statistics.median(sds) / span if sds else math.nan,
                      "runs": sum(len(f) for f in rows.values()), "diverged": diverged,
                      "ranking": ranking(table, sched)}
    return out


def head_to_head(table: Table, a: str, b: str) -> dict[str, Any]:
    """`a` against `b` at the same (lr, rank, seed): over runs that finished under both (`pairs`,
    `a_lower`, the differences), and how many pairs had one of the two fail to finish."""
    finals = _finals(table)
    diffs, by_lr = [], defaultdict(list)
    for (sched, lr, r), f in finals.items():
        if sched != a or (b, lr, r) not in finals:
            continue
        for seed, v in f.items():
            w = finals[(b, lr, r)].get(seed)
            if w is not None:
                diffs.append(v - w)
                by_lr[lr].append(v - w)
    ran = {(c["values"][SCHED], c["values"]["learning_rate"], c["values"]["lora_r"], seed): r["status"] == "ok"
           and bool(r["curve"]) for c in table.configs.values() for seed, r in c["seeds"].items()}
    # pairs where one of the two diverged (or failed) and the other finished: `a_only_failed` counts
    # those where `a` is the one that did not finish
    one = [(k, ok) for k, ok in ran.items() if k[0] == a and (b, *k[1:]) in ran and ok != ran[(b, *k[1:])]]
    return {"pairs": len(diffs), "a_lower": sum(d < 0 for d in diffs),
            "a_only_failed": sum(not ok for _, ok in one), "b_only_failed": sum(ok for _, ok in one),
            "mean_diff": statistics.fmean(diffs) if diffs else math.nan,
            "by_lr": {lr: (sum(d < 0 for d in ds), len(ds), statistics.fmean(ds)) for lr, ds in sorted(by_lr.items())}}


def ranking(table: Table, sched: str) -> dict[str, float]:
    """Spearman of the seed-mean loss at each report (run itself, and branch where recorded) with
    the seed-mean final, over the schedule's configurations that finished every seed."""
    keys = [k for k, c in table.configs.items() if c["values"][SCHED] == sched and c.get("final") is not None]
    out: dict[str, float] = {}
    steps = [s for s, _ in table.configs[keys[0]]["seeds"][next(iter(table.configs[keys[0]]["seeds"]))]["curve"]]
    finals = [table.configs[k]["final"] for k in keys]
    for fidelity in replay.FIDELITIES:
        for step in steps[:-1]:
            vals = []
            for k in keys:
                per_seed = [dict(replay.reported_curve(r, fidelity)).get(step) for r in table.configs[k]["seeds"].values()]
                vals.append(statistics.fmean(v for v in per_seed if v is not None))
            if fidelity == "branch" and not any(r.get("branch_curve") for k in keys
                                                 for r in table.configs[k]["seeds"].values()):
                continue
            out[f"{'run' if fidelity == 'prefix' else 'branch'}@{step}"] = run.spearman(vals, finals)
    return out


def slice_replays(name: str, seeds: int = 100, workers: int = 2, out_dir: Path | None = None) -> str:
    """The fair-comparison rows of issue 22, per schedule: the table cut to one schedule (its own
    oracle and hits), and on it random search, ASHA as a Tune user runs it (the run's own loss),
    ASHA with the cooldown branch, the engine (conf/ now), the engine with the branch and with
    the noise rule, and the noise rule over SH rf 2 from the second report; report seeds 10000..,
    common random numbers. Returns markdown."""
    with replay.common_random_numbers():  # the replay worker processes read it when they load a slice
        return _slices(name, seeds, workers, out_dir)


def _slices(name: str, seeds: int, workers: int, out_dir: Path | None) -> str:
    import json
    import tempfile

    from benchmarks import suite

    raw = json.loads(tables.load_spec(name).table_path.read_text())
    contenders = [*suite.baselines(), *suite.named_candidates("engine", "engine(branch)", "engine(noise z=1.5)",
                                                             "tpe+sh(rf=2,first=2E,noise z=1.5)")]
    folder = out_dir or Path(tempfile.mkdtemp(prefix="sched-slices-"))
    lines = ["| schedule (its own oracle) | hits | " + " | ".join(c.name for c in contenders) + " |",
             "|---|---:|" + "---:|" * len(contenders)]
    for sched in sorted({c["values"][SCHED] for c in raw["configs"].values()}):
        path = write_slice(raw, name, sched, folder)
        table = Table.load(path)
        res = run.summaries(run.replay_contenders(contenders, path, range(10000, 10000 + seeds), workers), table)
        cells = [f"{run.ratio(r['median_samples'], res['random']['median_samples']):.3f} "
                 f"({r['top5_pruned_pct']:.0f}%, {r['misses']} miss)" for r in (res[c.name] for c in contenders)]
        lines.append(f"| {sched} | {len(table.hits())} | " + " | ".join(cells) + " |")
    return ("Per schedule, compute to a hit as a ratio to random search's (top-5 pruned, misses of "
            f"{seeds}; common random numbers):\n\n" + "\n".join(lines) + "\n")


def write_slice(raw: dict[str, Any], name: str, sched: str, folder: Path) -> Path:
    """The table file `raw` (table.json's content) cut to one schedule, written into `folder`: a
    table of its own, with its own oracle and hits."""
    import json

    part = {**raw, "configs": {k: c for k, c in raw["configs"].items() if c["values"][SCHED] == sched}}
    path = folder / f"{name}-{sched}.json"
    path.write_text(json.dumps(part))
    return path


def markdown(name: str) -> str:
    table = Table.load(tables.load_spec(name).table_path)
    res = per_schedule(table)
    scheds = list(res)
    lines = [f"Table `{name}`: {len(table.configs)} configurations"
             + (f" (partial: {table.meta['partial']})" if table.meta.get("partial") else "")
             + f", initial eval loss {table.initial:.3f}, best seed-mean final {table.best:.4f}.", "",
             "| schedule | runs (diverged) | best configuration (seed mean) | its regret | seed noise: median sd "
             "(regret units; hit threshold 0.02) |", "|---|---|---|---|---|"]
    for s in scheds:
        r = res[s]
        b = r["best"]
        lines.append(f"| {s} | {r['runs']} ({r['diverged']}) | lr {b['lr']:g}, r {b['r']}: {b['mean_final']:.4f} | "
                     f"{r['best_regret']:.3f} | {r['median_sd']:.4f} ({r['median_sd_regret']:.3f}) |")
    lines += ["", "Head to head at the same (lr, rank, seed):", "",
              "| schedules | pairs (both finished) | first ends lower | only the first / only the second failed "
              "| mean difference | per lr: lower / pairs (mean diff) |",
              "|---|---|---|---|---|---|"]
    for i, a in enumerate(scheds):
        for b in scheds[i + 1:]:
            h = head_to_head(table, a, b)
            per = "; ".join(f"{lr:g}: {n}/{m} ({d:+.3f})" for lr, (n, m, d) in h["by_lr"].items())
            lines.append(f"| {a} vs {b} | {h['pairs']} | {h['a_lower']} | {h['a_only_failed']} / {h['b_only_failed']} "
                         f"| {h['mean_diff']:+.4f} | {per} |")
    lines += ["", "Spearman of an early report with the final (seed means, per schedule):", ""]
    cols = sorted({c for r in res.values() for c in r["ranking"]}, key=lambda c: (c.split("@")[0], int(c.split("@")[1])))
    lines += ["| schedule | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for s in scheds:
        lines.append(f"| {s} | " + " | ".join(f"{res[s]['ranking'].get(c, math.nan):+.2f}" for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.schedules", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("--slices", type=int, default=0, metavar="SEEDS",
                    help="also replay each schedule's slice of the table with SEEDS report seeds")
    args = ap.parse_args(argv)
    print(markdown(args.name), end="")
    if args.slices:
        print("\n" + slice_replays(args.name, args.slices), end="")


if __name__ == "__main__":
    main()
