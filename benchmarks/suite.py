"""The table suite: per-table figures, leave-one-table-out selection, rank-aware pruning.

    python -m benchmarks.suite                 # every table; writes benchmarks/data/suite.json and
                                               # the generated suite block of RESULTS.md
    python -m benchmarks.suite --seeds 100     # fewer replay seeds (selection and report each)

Per table and contender (the engine as conf/ configures it, random search, Ray Tune's ASHA, and
candidate defaults): the median compute to the first fully trained configuration within
normalised regret 0.02, as a ratio to random search's and ASHA's with 90% bootstrap intervals
over replay seeds, and the share of runs that pruned a true top-5 configuration before that.

Honest selection (leave-one-table-out): for each table, the candidate default is chosen on the
OTHER tables with selection seeds (0..n-1), by the rule below, and reported on the held-out table
with report seeds (10000..10000+n-1) that no choice saw; ASHA and random search run on the same
report seeds. Rule: among candidates whose top-5-pruned share is at most 5% on every other table
(all candidates if none is), the lowest geometric mean over the other tables of the compute ratio
to ASHA.

Rank-aware pruning: per table, the Spearman rank correlation of the mean eval loss at each rung
with the final one, over all configurations and within each LoRA rank (configurations differing in
lr and batch) and within each lr (differing in rank), and where the true top-5 stand at the first
report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import candidates, replay, run, tables
from benchmarks.replay import AshaContender, Contender, OptunaContender, Table

SUITE_JSON = tables.task.DATA_DIR / "suite.json"
SELECT_SEEDS_BASE = 0
REPORT_SEEDS_BASE = 10000
GOALS = {"vs_asha": 0.6, "vs_random": 0.25, "top5": 5.0, "mid_vs_asha": 0.75, "mid_vs_random": 0.5}

# Published priors for the first trials (the default space's enqueue: Unsloth's guide lr 2e-4 r 16,
# Tinker's best LoRA lr ~1e-3), snapped to each table's grid by `replay.snap_to_table`.
PRIORS = ({"learning_rate": 1e-3, "lora_r": 16, "lora_alpha_ratio": 2.0, "effective_batch_size": 8},
          {"learning_rate": 2e-4, "lora_r": 16, "lora_alpha_ratio": 2.0, "effective_batch_size": 8})
SH = ("pruner=successive_halving", "pruner.min_resource=1")  # first rung at the first eval report
SH2 = ("pruner=successive_halving", "pruner.min_resource=2")  # ... at the second
BEFORE = "tpe+sh(rf=2) (before)"  # the default until the suite chose `engine` (rf 3, first rung 2 evals)


def candidate_defaults() -> list[Contender]:
    """Candidate engine defaults, every one expressed without reference to a particular table
    (each pins the pruner settings it names, so a change of conf/ does not change a candidate)."""
    return [
        OptunaContender("engine"),
        # every shipped search space enqueues published priors: what a user of one gets
        OptunaContender("engine+priors", enqueue=PRIORS),
        OptunaContender(BEFORE, (*SH, "pruner.reduction_factor=2")),
        OptunaContender("tpe+sh(rf=2)+priors", (*SH, "pruner.reduction_factor=2"), enqueue=PRIORS),
        OptunaContender("tpe+median", ("pruner=median",)),
        OptunaContender("tpe+sh(rf=3)", (*SH, "pruner.reduction_factor=3")),
        OptunaContender("tpe+sh(rf=4)", (*SH, "pruner.reduction_factor=4")),
        OptunaContender("tpe+sh(rf=3)+priors", (*SH, "pruner.reduction_factor=3"), enqueue=PRIORS),
        OptunaContender("tpe(startup=3)+sh(rf=2)", (*SH, "pruner.reduction_factor=2", "sampler.n_startup_trials=3")),
        # never judge a trial on one report: the first rung at the second eval
        OptunaContender("tpe+sh(rf=2,first=2E)", (*SH2, "pruner.reduction_factor=2")),
        OptunaContender("tpe+sh(rf=2,first=2E)+priors", (*SH2, "pruner.reduction_factor=2"), enqueue=PRIORS),
        OptunaContender("tpe+sh(rf=4,first=2E)", (*SH2, "pruner.reduction_factor=4")),
        # a lenient first rung, harder later ones
        OptunaContender("tpe+protected(keep1/2,rf4)", pruner_factory=partial(
            candidates.protected_rungs, first_keep=0.5, later_rf=4.0, first_rung_evals=1)),
        OptunaContender("tpe+protected(keep1/2,rf3)", pruner_factory=partial(
            candidates.protected_rungs, first_keep=0.5, later_rf=3.0, first_rung_evals=1)),
        # compare at examples seen instead of optimizer steps
        OptunaContender("tpe+sh(rf=2,examples)", (*SH, "pruner.reduction_factor=2"), report_examples=True),
        # the first rung no earlier than half the schedule (short cosine schedules)
        OptunaContender("tpe+sh(rf=2,from1/2)", (*SH, "pruner.reduction_factor=2"),
                        pruner_factory=partial(candidates.sh_progress, min_progress=0.5)),
        OptunaContender("tpe+sh(rf=2,from1/2)+priors", (*SH, "pruner.reduction_factor=2"), enqueue=PRIORS,
                        pruner_factory=partial(candidates.sh_progress, min_progress=0.5)),
        # the previous pruner, overruled below the bar the finished winners set at each step
        OptunaContender("tpe+sh(rf=2)+guard(top3,startup3)", (*SH, "pruner.reduction_factor=2"),
                        pruner_factory=partial(candidates.guarded)),
        OptunaContender("tpe+top-trajectory(top3,startup3)", pruner_factory=partial(candidates.top_trajectory)),
        # issue 22 (on tables built with cooldown branches; elsewhere the same as the engine):
        # the branch's loss as the fidelity, the noise rule, and a first rung again at the first
        # report now that the branch ranks it
        OptunaContender("engine(branch)", fidelity="branch"),
        OptunaContender("engine(noise z=1.5)", ("pruner.noise_z=1.5",)),
        OptunaContender("engine(branch,noise z=1.5)", ("pruner.noise_z=1.5",), fidelity="branch"),
        OptunaContender("tpe+sh(rf=3,first=1E)(branch)", (*SH, "pruner.reduction_factor=3"), fidelity="branch"),
        # the lenient rf 2 from the second report (fewest top-5 pruned on smollm2_chat_sched) with the noise rule
        OptunaContender("tpe+sh(rf=2,first=2E,noise z=1.5)", (*SH2, "pruner.reduction_factor=2", "pruner.noise_z=1.5")),
        # rank on the final loss extrapolated from the report and lr, fitted on the finished trials
        OptunaContender("engine(extrapolated)", pruner_factory=partial(candidates.extrapolating)),
        OptunaContender("engine(extrapolated,branch)", pruner_factory=partial(candidates.extrapolating),
                        fidelity="branch"),
    ]


def named_candidates(*names: str) -> list[Contender]:
    """The candidate defaults called `names`, in that order (one definition of each, here)."""
    by_name = {c.name: c for c in candidate_defaults()}
    return [by_name[n] for n in names]


CANDIDATE_FILTER: list[str] | None = None  # --candidates


def baselines() -> list[Contender]:
    """Random search, ASHA as a Ray Tune user runs it (the run's own loss), and ASHA's second row
    with the engine's fidelity (cooldown branches; the same as the first on tables without them)."""
    return [OptunaContender("random", ("sampler=random", "pruner=none")), AshaContender(),
            AshaContender(name="asha(branch)", fidelity="branch")]


MIN_CONFIGS = 12  # a partial table whose largest complete sub-grid is smaller is left out of the suite


def suite_paths(names: Sequence[str] | None = None, skipped: list[str] | None = None) -> list[tuple[str, Path]]:
    """(name, table file) of every suite table that has been built; a table not built yet, or built
    so partly that its largest complete sub-grid has fewer than MIN_CONFIGS configurations, is
    left out (and named in `skipped`, with why)."""
    out = []
    for n in names or tables.names():
        p = tables.load_spec(n).table_path
        if not p.is_file():
            if skipped is not None:
                skipped.append(f"{n}: not built")
            continue
        t = Table.load(p)
        if len(t.configs) < MIN_CONFIGS:
            if skipped is not None:
                part = t.meta.get("partial") or {}
                skipped.append(f"{n}: partial, {part.get('trained')} of {part.get('grid')} configurations trained, "
                               f"largest complete sub-grid {len(t.configs)} < {MIN_CONFIGS}")
            continue
        out.append((n, p))
    return out


def describe(table: Table) -> dict[str, Any]:
    """What the suite table says about a table: size, partial build, hits, noise, cost."""
    finals = table.finals()
    built = table.meta.get("built") or {}
    seeds_per = [len(c["seeds"]) for c in table.configs.values()]
    return {"configs": len(table.configs), "partial": table.meta.get("partial"), "hits": len(table.hits()),
            "hit_pct": round(100 * len(table.hits()) / max(len(table.configs), 1), 1),
            "usable": len(finals), "max_steps": table.max_steps, "eval_every": table.eval_every,
            "initial_loss": table.initial, "best_final": table.best,
            "configs_with_2plus_seeds": sum(s >= 2 for s in seeds_per), "seed_noise": run.seed_noise(table),
            "overrides": table.meta["task"]["overrides"], "space": table.meta["task"]["space"],
            "wall_s_total": built.get("wall_s_total"), "wall_s_median": built.get("wall_s_median"),
            "runs": built.get("runs"), "date": built.get("date")}


def replay_table(path: Path, contenders: Sequence[Contender], seeds: Sequence[int], workers: int
                 ) -> dict[str, list[replay.RunResult]]:
    return run.replay_contenders(contenders, path, seeds, workers=workers)


def figures(runs: dict[str, list[replay.RunResult]], table: Table) -> dict[str, dict[str, Any]]:
    """run.summaries, per contender (ratios with 90% intervals, top-5 pruned)."""
    return run.summaries(runs, table)


SCORE_FLOOR = 0.1  # a ratio of 0 (ASHA's median run missed) scores as 0.1: one table cannot outweigh the rest


def score(s: dict[str, Any]) -> float:
    r = s["ratio_vs_asha"]
    return math.log(max(r, SCORE_FLOOR)) if r is not None and math.isfinite(r) else math.inf


def choose(per_table: dict[str, dict[str, dict[str, Any]]], names: Sequence[str], pool: Sequence[str]) -> str:
    """The rule in the module docstring over the tables `names`."""
    safe = [c for c in pool if all(per_table[t][c]["top5_pruned_pct"] <= GOALS["top5"] for t in names)]
    pool = safe or list(pool)
    return min(pool, key=lambda c: (statistics.mean(score(per_table[t][c]) for t in names), pool.index(c)))


def leave_one_out(paths: list[tuple[str, Path]], seeds: int, workers: int) -> dict[str, Any]:
    cands = [c for c in candidate_defaults() if CANDIDATE_FILTER is None or c.name in CANDIDATE_FILTER]
    base = baselines()
    sel_seeds = list(range(SELECT_SEEDS_BASE, SELECT_SEEDS_BASE + seeds))
    rep_seeds = list(range(REPORT_SEEDS_BASE, REPORT_SEEDS_BASE + seeds))
    loaded = {n: Table.load(p) for n, p in paths}
    selection: dict[str, dict[str, dict[str, Any]]] = {}
    report: dict[str, dict[str, dict[str, Any]]] = {}
    t0 = time.perf_counter()
    for n, p in paths:
        runs = replay_table(p, [*cands, *base], sel_seeds, workers)
        selection[n] = figures(runs, loaded[n])
        runs = replay_table(p, [*cands, *base], rep_seeds, workers)
        report[n] = figures(runs, loaded[n])
        print(f"[suite] {n}: {len(cands)} candidates + {len(base)} baselines x {seeds} seeds x 2 seed sets "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    pool = [c.name for c in cands]
    held = {}
    for n, _ in paths:
        others = [m for m, _ in paths if m != n]
        pick = choose(selection, others, pool) if others else "engine"
        held[n] = {"chosen": pick, "chosen_on": others, "held_out": report[n][pick], "engine": report[n]["engine"]}
    overall = choose(selection, [n for n, _ in paths], pool)
    return {"selection_seeds": [sel_seeds[0], sel_seeds[-1]], "report_seeds": [rep_seeds[0], rep_seeds[-1]],
            "candidates": pool, "selection": selection, "report": report, "held_out": held,
            "chosen_on_all": overall, "seconds": round(time.perf_counter() - t0, 1)}


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    return run.spearman(a, b) if len(a) >= 3 else math.nan


def rank_aware(table: Table) -> dict[str, Any]:
    """How well early eval loss ranks configurations: Spearman(rung-k loss, final) over all
    configurations, within each rank (lr and batch vary) and within each lr (rank varies); where
    the true top-5 stand at the first report; and per rank, the median rank at the first report
    vs the final rank (does a high rank look worse, or better, early than it ends?)."""
    keys = [k for k, c in table.configs.items() if c.get("mean_curve")]
    if len(keys) < 3:
        return {}
    curves = {k: table.configs[k]["mean_curve"] for k in keys}
    steps = [s for s, _ in curves[keys[0]]]
    final = {k: curves[k][-1][1] for k in keys}
    out: dict[str, Any] = {"steps": steps}
    rungs = [i for i in range(len(steps) - 1)][:4]  # the first reports: where pruning acts

    def sp(sub: list[str], i: int) -> float:
        return round(_spearman([curves[k][i][1] for k in sub], [final[k] for k in sub]), 3)

    every = run.early_rank_correlation(table)
    out["all"] = {str(steps[i]): every[str(steps[i])] for i in rungs}
    for dim in ("lora_r", "learning_rate"):
        groups: dict[Any, list[str]] = {}
        for k in keys:
            groups.setdefault(table.configs[k]["values"][dim], []).append(k)
        out[f"within_{dim}"] = {str(v): {str(steps[i]): sp(g, i) for i in rungs} for v, g in sorted(groups.items())
                                if len(g) >= 3}
    first = {k: curves[k][0][1] for k in keys}
    order_first = sorted(keys, key=first.__getitem__)
    order_final = sorted(keys, key=final.__getitem__)
    out["top5_rank_at_first_report"] = [order_first.index(k) + 1 for k in order_final[:5]]
    per_rank = {}
    for r in sorted({table.configs[k]["values"]["lora_r"] for k in keys}):
        g = [k for k in keys if table.configs[k]["values"]["lora_r"] == r]
        per_rank[str(r)] = {"median_rank_first": statistics.median(order_first.index(k) + 1 for k in g),
                            "median_rank_final": statistics.median(order_final.index(k) + 1 for k in g)}
    out["per_rank_median_rank"] = per_rank
    out["n"] = len(keys)
    return out


def pruned_by_rank(runs: list[replay.RunResult], table: Table) -> dict[str, float]:
    """Per LoRA rank: the share of the engine's trials of that rank that were pruned (before the hit)."""
    tot: dict[str, list[int]] = {}
    for r in runs:
        upto = r.trials[: r.trials_to_hit] if r.trials_to_hit else r.trials
        for t in upto:
            rank = str(table.configs[t.key]["values"]["lora_r"])
            x = tot.setdefault(rank, [0, 0])
            x[0] += t.state == "PRUNED"
            x[1] += 1
    return {k: round(100 * a / b, 1) for k, (a, b) in sorted(tot.items(), key=lambda kv: int(kv[0])) if b}


def goals_met(s: dict[str, Any]) -> dict[str, bool]:
    return {"vs_asha<=0.6": s["ratio_vs_asha"] <= GOALS["vs_asha"],
            "vs_random<=0.25": s["ratio_vs_random"] <= GOALS["vs_random"],
            "top5<=5%": s["top5_pruned_pct"] <= GOALS["top5"],
            "vs_asha<=0.75": s["ratio_vs_asha"] <= GOALS["mid_vs_asha"],
            "vs_random<=0.5": s["ratio_vs_random"] <= GOALS["mid_vs_random"]}


def run_suite(seeds: int, workers: int, names: Sequence[str] | None = None) -> dict[str, Any]:
    paths = suite_paths(names)
    res: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), "tables": {}}
    for n, p in paths:
        t = Table.load(p)
        res["tables"][n] = {"describe": describe(t), "rank_aware": rank_aware(t)}
    res["loto"] = leave_one_out(paths, seeds, workers)
    for n, p in paths:
        t = Table.load(p)
        eng = run.replay_contenders([OptunaContender("engine")], p, list(range(REPORT_SEEDS_BASE,
                                                                              REPORT_SEEDS_BASE + seeds)),
                                    workers=workers)["engine"]
        res["tables"][n]["engine_pruned_by_rank_pct"] = pruned_by_rank(eng, t)
        for who in ("engine", "chosen"):
            s = res["loto"]["held_out"][n]["engine" if who == "engine" else "held_out"]
            res["tables"][n][f"goals_{who}"] = goals_met(s)
    return res


# --------------------------------------------------------------------------- markdown


def _f(x: Any, nd: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "inf" if math.isinf(x) else "n/a" if math.isnan(x) else f"{x:.{nd}f}"
    return str(x)


def _ci(v: Any) -> str:
    return f" [{_f(v[0], 2)}-{_f(v[1], 2)}]" if v else ""


def _r(s: dict[str, Any], key: str) -> str:
    """A ratio with its interval; 0 means the baseline's median run found no hit (`run.ratio`)."""
    v = s[f"ratio_vs_{key}"]
    note = f" ({'ASHA' if key == 'asha' else 'random'}: median run missed)" if v == 0.0 else ""
    return f"{_f(v)}{_ci(s[f'ci_vs_{key}'])}{note}"


def markdown(res: dict[str, Any]) -> str:
    L = ["<!-- suite -->", "## The table suite (generated by `python -m benchmarks.suite`)", "",
         f"Generated {res['date']}. Replay seeds: selection {res['loto']['selection_seeds']}, report "
         f"{res['loto']['report_seeds']} (inclusive); every figure below is on the report seeds, which no "
         "choice saw. Intervals: 90% bootstrap over replay seeds. "
         + ("**Common random numbers** (`--crn`): every trial of a replay run has the same training seed, one of "
            "the seeds every configuration has (a table with one such seed replays that seed only)."
            if res.get("crn") else "Each configuration's training seed is drawn on its own (no `--crn`)."), "",
         "| table | configs | steps / eval every | hits | runs with 2+ seeds | seed noise (regret units) "
         "| within-seed noise (regret units) | build CPU |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n, t in res["tables"].items():
        d = t["describe"]
        part = d["partial"]
        cfgs = f"{d['configs']}" + (f" (partial: {part['trained']} of {part['grid']} trained, largest complete "
                                    f"sub-grid {part['kept']})" if part else "")
        noise = d["seed_noise"]["median_final_sd_normalised"] if d["seed_noise"] else None
        within = (d["seed_noise"] or {}).get("median_within_seed_sd_normalised")
        cost = f"{d['wall_s_total'] / 60:.0f} min ({d['runs']} runs, median {d['wall_s_median']} s)" \
            if d.get("wall_s_total") else "-"
        L.append(f"| {n} | {cfgs} | {d['max_steps']} / {d['eval_every']} | {d['hits']} ({d['hit_pct']}%) "
                 f"| {d['configs_with_2plus_seeds']} | {_f(noise, 4)} | {_f(within, 4)} | {cost} |")
    L += ["", "### Per table: engine (conf/ defaults), baselines and candidates (report seeds)", ""]
    for n, rep in res["loto"]["report"].items():
        L += [f"**{n}**", "", "| contender | median share of grid | vs random [90% CI] | vs ASHA [90% CI] "
              "| top-5 pruned | misses |", "|---|---:|---:|---:|---:|---:|"]
        for c, s in rep.items():
            L.append(f"| {c} | {_f(s['median_share'])} | {_r(s, 'random')} | {_r(s, 'asha')} "
                     f"| {_f(s['top5_pruned_pct'], 1)}% | {s['misses']}/{s['seeds']} |")
        L.append("")
    L += ["### Leave-one-table-out", "",
          "Chosen on the other tables (selection seeds), reported on the held-out table (report seeds). Goals: "
          "<= 0.6x ASHA, <= 0.25x random, <= 5% top-5 pruned; intermediate <= 0.75x ASHA, <= 0.5x random.", "",
          "| held-out table | chosen on the others | vs random [90% CI] | vs ASHA [90% CI] | top-5 pruned "
          "| engine now: vs random / vs ASHA / top-5 | goals met (chosen) |", "|---|---|---:|---:|---:|---:|---|"]
    for n, h in res["loto"]["held_out"].items():
        s, e = h["held_out"], h["engine"]
        met = [k for k, v in goals_met(s).items() if v]
        L.append(f"| {n} | {h['chosen']} | {_r(s, 'random')} | {_r(s, 'asha')} | {_f(s['top5_pruned_pct'], 1)}% "
                 f"| {_f(e['ratio_vs_random'])} / {_f(e['ratio_vs_asha'])} / {_f(e['top5_pruned_pct'], 1)}% "
                 f"| {', '.join(met) or 'none'} |")
    L += ["", f"Chosen on all tables together (selection seeds): `{res['loto']['chosen_on_all']}`.", "",
          f"### Before / after: `{BEFORE}` (the default until this suite) vs `engine` (conf/ now)", "",
          "| table | before: vs random / vs ASHA / top-5 / misses | after: vs random / vs ASHA / top-5 / misses |",
          "|---|---|---|"]
    for n, rep in res["loto"]["report"].items():
        if BEFORE in rep:
            b, e = rep[BEFORE], rep["engine"]
            L.append(f"| {n} | " + " | ".join(
                f"{_r(x, 'random')} / {_r(x, 'asha')} / {_f(x['top5_pruned_pct'], 1)}% / {x['misses']}/{x['seeds']}"
                for x in (b, e)) + " |")
    L += ["",
          "### Rank-aware pruning (per table)", "",
          "Spearman rank correlation of the seed-mean eval loss at the first reports with the final one: over "
          "all configurations, and the range over groups of one LoRA rank (lr, batch vary) and of one lr "
          "(rank varies). Top-5 rank at first report: where the five best final configurations stood at the "
          "first eval. Engine prunes by rank: share of the engine's trials of each rank pruned before the hit.", "",
          "| table | all (step: rho) | within one rank | within one lr | top-5 rank at first report "
          "| median rank first -> final, per r | engine pruned by rank |", "|---|---|---|---|---|---|---|"]
    for n, t in res["tables"].items():
        ra = t["rank_aware"]
        if not ra:
            continue
        first = str(ra["steps"][0])

        def rng(groups: dict[str, dict[str, float]], first: str = first) -> str:
            vals = [g[first] for g in groups.values() if not math.isnan(g[first])]
            return f"step {first}: {min(vals):.2f}..{max(vals):.2f}" if vals else "-"

        allr = ", ".join(f"{k}: {v}" for k, v in ra["all"].items())
        per = "; ".join(f"r{r} {v['median_rank_first']:g}->{v['median_rank_final']:g}"
                        for r, v in ra["per_rank_median_rank"].items())
        pr = ", ".join(f"r{k} {v}%" for k, v in t.get("engine_pruned_by_rank_pct", {}).items())
        L.append(f"| {n} | {allr} | {rng(ra['within_lora_r'])} | {rng(ra['within_learning_rate'])} "
                 f"| {ra['top5_rank_at_first_report']} | {per} | {pr} |")
    L += ["<!-- /suite -->"]
    return "\n".join(L)


SUITE_RE = __import__("re").compile(r"<!-- suite -->.*?<!-- /suite -->", __import__("re").S)


def write_block(md: str, path: Path) -> None:
    """Put the generated suite block into RESULTS.md (replacing the previous one, or after notes)."""
    text = path.read_text()
    if SUITE_RE.search(text):
        text = SUITE_RE.sub(lambda _: md, text)
    else:
        text = text.replace("<!-- /notes -->", "<!-- /notes -->\n\n" + md, 1)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=200, help="replay seeds, for selection and for the report each")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--candidates", default=None, help="semicolon-separated candidate names (default: all)")
    ap.add_argument("--tables", default=None, help="comma-separated table names (default: every built table)")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md (suite.json is written)")
    ap.add_argument("--from-json", action="store_true", help="render the block from suite.json, replay nothing")
    ap.add_argument("--json", type=Path, default=SUITE_JSON, help="where the results go (default: suite.json)")
    ap.add_argument("--crn", action="store_true",
                    help="common random numbers: every trial of a replay run has the same training seed, as in "
                         "a live study (default: each configuration's seed drawn on its own, as published)")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(args.json.read_text())
    else:
        global CANDIDATE_FILTER
        CANDIDATE_FILTER = args.candidates.split(";") if args.candidates else None
        if args.crn:
            os.environ[replay.CRN_ENV] = "1"  # read by every Table loaded here and in the workers
        res = run_suite(args.seeds, args.workers, args.tables.split(",") if args.tables else None)
        res["crn"] = bool(args.crn)
        args.json.write_text(json.dumps(res, indent=1, default=str) + "\n")
    md = markdown(res)
    print(md)
    if not args.no_write:
        write_block(md, run.RESULTS_MD)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
