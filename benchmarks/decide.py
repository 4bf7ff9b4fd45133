"""The rules issue 22's 64-step table decides the defaults by, as code written before its results
(benchmarks/RESULTS.md, "What the 64-step table decides"). Each rule prints the figures it reads
and its verdict. Nothing is changed: a verdict is applied by hand, with its before/after.

    python -m benchmarks.decide smollm2_alpaca_sched64             # 100 report seeds, CRN
    python -m benchmarks.decide smollm2_alpaca_sched64 --seeds 30

- **Schedule**: WSD if it ends lower than cosine at more than half the (lr, rank, seed) pairs and
  its best seed-mean configuration is lower than cosine's best; cosine otherwise; undecided while
  the table lacks either. A pair where one run failed to finish (diverged) and the other finished
  counts for the one that finished; pairs where both failed are left out.
- **Noise rule**: each of `NOISE_CANDIDATES` passes if, on the table and on its WSD slice (the
  same thing on a WSD-only table), it prunes a true top-5 configuration in fewer runs than the
  engine and its median compute ratio to random search is finite and not above the upper end of
  the engine's 90% interval. Where more than one passes, the fewer top-5 pruned on the table wins,
  then the lower compute ratio there. None passing keeps conf/. Undecided without per-row losses,
  without WSD runs, or where random search's median run misses (every ratio is then 0).
- **Cooldown branch**: kept for WSD trials if `engine(branch)` needs less compute than the engine
  on the table and prunes the true top 5 no more often.
- **Goals**: checked (0.5x random, 0.75x ASHA, at most 10% top-5 pruned) for the engine and the
  noise rule's winner, and only where the table's raw seed noise is below the hit threshold.

On a partial table (`tables aggregate` keeps the largest complete sub-grid) both views cover that
sub-grid only, and every verdict is marked provisional.

Replays use common random numbers and report seeds 10000.. as the suite's.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import replay, run, schedules, tables
from benchmarks.replay import Table

NOISE_CANDIDATES = ("engine(noise z=1.5)", "tpe+sh(rf=2,first=2E,noise z=1.5)")
GOALS = {"vs_random": 0.5, "vs_asha": 0.75, "top5": 10.0}  # the first goal


def contenders() -> list[replay.Contender]:
    """Random search, ASHA, and the suite's candidates the rules name (one definition each)."""
    from benchmarks import suite

    return [*suite.baselines()[:2], *suite.named_candidates("engine", "engine(branch)", *NOISE_CANDIDATES)]


def schedule_rule(table: Table) -> dict[str, Any]:
    scheds = {c["values"].get(schedules.SCHED) for c in table.configs.values()}
    if not {"wsd", "cosine"} <= scheds:
        return {"verdict": "undecided", "why": f"the table holds {sorted(map(str, scheds))}, not both wsd and cosine"}
    h = schedules.head_to_head(table, "wsd", "cosine")
    pairs, lower = h["pairs"] + h["a_only_failed"] + h["b_only_failed"], h["a_lower"] + h["b_only_failed"]
    best = {s: v["best"]["mean_final"] for s, v in schedules.per_schedule(table).items()}
    wins = lower > pairs / 2 and best["wsd"] < best["cosine"]
    return {"verdict": "wsd" if wins else "cosine", "pairs": pairs, "wsd_lower": lower,
            "only_wsd_failed": h["a_only_failed"], "only_cosine_failed": h["b_only_failed"],
            "best_wsd": round(best["wsd"], 4), "best_cosine": round(best["cosine"], 4)}


def _replays(path: Path, seeds: int, workers: int) -> dict[str, dict[str, Any]]:
    table = Table.load(path)
    return run.summaries(run.replay_contenders(contenders(), path, range(10000, 10000 + seeds), workers), table)


def _passes(c: dict[str, Any], engine: dict[str, Any]) -> bool:
    return (c["top5_pruned_pct"] < engine["top5_pruned_pct"] and math.isfinite(c["ratio_vs_random"])
            and c["ratio_vs_random"] <= engine["ci_vs_random"][1])


def noise_rule(on_table: dict[str, dict[str, Any]], on_wsd: dict[str, dict[str, Any]] | None,
               has_rows: bool) -> dict[str, Any]:
    """`on_wsd`: the figures on the table's WSD slice (the table's own on a WSD-only table; None
    when the table has no WSD runs)."""
    if not has_rows:
        return {"verdict": "undecided", "why": "the table records no per-row losses (the noise rule is off)"}
    if on_wsd is None:
        return {"verdict": "undecided", "why": "the table has no WSD runs"}
    views = [("table", on_table)] + ([("wsd slice", on_wsd)] if on_wsd is not on_table else [])
    for view, figs in views:
        if math.isinf(figs["random"]["median_samples"]):
            return {"verdict": "undecided", "why": f"random search's median run misses on the {view}"}
    passing = [n for n in NOISE_CANDIDATES if all(_passes(v[n], v["engine"]) for _, v in views)]
    winner = min(passing, key=lambda n: (on_table[n]["top5_pruned_pct"], on_table[n]["ratio_vs_random"]),
                 default=None)
    return {"verdict": winner or "keep conf/ (none passes)", "passing": passing,
            "checked_on": [w for w, _ in views]}


def branch_rule(on_table: dict[str, dict[str, Any]], has_branches: bool) -> dict[str, Any]:
    if not has_branches:
        return {"verdict": "undecided", "why": "the table records no cooldown branches"}
    b, e = on_table["engine(branch)"], on_table["engine"]
    compute = run.ratio(b["median_samples"], e["median_samples"])
    keep = compute < 1 and b["top5_pruned_pct"] <= e["top5_pruned_pct"]
    return {"verdict": "branch for WSD trials" if keep else "no branch", "compute_vs_engine": round(compute, 3),
            "top5_pruned": f"{b['top5_pruned_pct']:.0f}% vs the engine's {e['top5_pruned_pct']:.0f}%"}


def goals(figures: dict[str, Any]) -> dict[str, bool]:
    return {"vs_random<=0.5": figures["ratio_vs_random"] <= GOALS["vs_random"],
            "vs_asha<=0.75": figures["ratio_vs_asha"] <= GOALS["vs_asha"],
            "top5<=10%": figures["top5_pruned_pct"] <= GOALS["top5"]}


def decide(name: str, seeds: int = 100, workers: int = 2, out_dir: Path | None = None) -> dict[str, Any]:
    """Every rule's figures and verdict for the built table `name` (common random numbers)."""
    path = tables.load_spec(name).table_path
    table = Table.load(path)  # a partial table: its largest complete sub-grid
    raw = json.loads(path.read_text())
    raw = {**raw, "configs": {k: raw["configs"][k] for k in table.configs}}  # the slice covers the same grid
    runs = [r for c in table.configs.values() for r in c["seeds"].values()]
    has_rows, has_branches = any(r.get("rows") for r in runs), any(r.get("branch_curve") for r in runs)
    scheds = {c["values"].get(schedules.SCHED) for c in table.configs.values()}
    with replay.common_random_numbers():  # the replay worker processes read it as they load a table
        on_table = _replays(path, seeds, workers)
        on_wsd = on_table if scheds == {"wsd"} else None
        if "wsd" in scheds and len(scheds) > 1:
            with tempfile.TemporaryDirectory(prefix="decide-") as tmp:
                on_wsd = _replays(schedules.write_slice(raw, name, "wsd", out_dir or Path(tmp)), seeds, workers)
    noise = run.seed_noise(table) or {}
    counts = noise.get("median_final_sd_normalised", math.inf) < replay.THRESHOLD
    nr = noise_rule(on_table, on_wsd, has_rows)
    judged = ["engine"] + ([nr["verdict"]] if nr["verdict"] in NOISE_CANDIDATES else [])
    return {"table": name, "partial": table.meta.get("partial"), "seeds": seeds,
            "provisional": table.meta.get("partial") is not None,
            "seed_noise": noise.get("median_final_sd_normalised"), "counts_for_goals": counts,
            "schedule": schedule_rule(table), "noise": nr, "branch": branch_rule(on_table, has_branches),
            "goals": {n: goals(on_table[n]) for n in judged} if counts else
            "not checked: " + ("seed noise unmeasured (fewer than two seeds)" if noise.get("median_final_sd_normalised")
                               is None else "seed noise above the threshold"),
            "figures": {"table": on_table, "wsd slice": on_wsd if on_wsd is not on_table else None}}


def markdown(res: dict[str, Any]) -> str:
    def row(name: str, f: dict[str, Any]) -> str:
        lo, hi = f["ci_vs_random"]
        return (f"| {name} | {f['ratio_vs_random']:.3f} [{lo:.2f}-{hi:.2f}] | {f['ratio_vs_asha']:.3f} | "
                f"{f['top5_pruned_pct']:.0f}% | {f['misses']}/{f['seeds']} |")

    noise = "unmeasured (one seed)" if res["seed_noise"] is None else f"{res['seed_noise']:.4f} regret units"
    out = [f"Table `{res['table']}`" + (f" (partial: {res['partial']}; every verdict is provisional)"
                                        if res["provisional"] else "")
           + f"; {res['seeds']} report seeds, common random numbers; raw seed noise {noise} "
           f"({'counts' if res['counts_for_goals'] else 'does not count'} for the goals).", ""]
    for view, figs in res["figures"].items():
        if figs is None:
            continue
        out += [f"On the {view}:", "", "| contender | vs random [90% CI] | vs ASHA | top-5 pruned | misses |",
                "|---|---:|---:|---:|---:|", *(row(n, f) for n, f in figs.items()), ""]
    for rule in ("schedule", "noise", "branch"):
        r = res[rule]
        extra = ", ".join(f"{k} {v}" for k, v in r.items() if k != "verdict")
        out.append(f"- **{rule}**: {r['verdict']}" + (f" ({extra})" if extra else ""))
    out.append(f"- **goals**: {res['goals']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.decide", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    res = decide(args.name, args.seeds, args.workers)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
