"""The reference table: real eval-loss curves of every configuration of the task, 3 seeds each.

Building it is the expensive part (576 real trainings), so it is incremental and resumable:
worker processes append one JSON line per finished (configuration, seed) to a journal
(`benchmarks/data/runs.jsonl`), skipping what is already there; `aggregate` turns the journal into
`benchmarks/data/reference.json` (curves, per-seed and mean, plus versions, machine and date);
`check` retrains a few configurations in a fresh process and compares the curves bit for bit.

    python -m benchmarks.reference build --workers 2    # resumable; Ctrl-C safe
    python -m benchmarks.reference aggregate
    python -m benchmarks.reference check --n 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import task

JOURNAL = task.DATA_DIR / "runs.jsonl"


def versions() -> dict[str, str]:
    """Versions of everything a curve depends on."""
    import optuna
    import peft
    import torch
    import transformers

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "transformers": transformers.__version__, "peft": peft.__version__, "optuna": optuna.__version__}
    try:
        import ray

        out["ray"] = ray.__version__
    except ImportError:  # pragma: no cover - ray is a dependency, but keep the table readable
        pass
    return out


def machine() -> dict[str, Any]:
    """Where the table was built (CPU model matters: float kernels differ between CPUs)."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.system(),
            "torch_threads": 1}


def read_journal(path: Path = JOURNAL) -> dict[tuple[str, int], dict[str, Any]]:
    """Finished runs by (config key, seed); a torn last line (killed writer) is ignored."""
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    if not path.is_file():
        return runs
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        runs[(row["key"], int(row["seed"]))] = row
    return runs


def work_items(seeds: tuple[int, ...] = task.TRAIN_SEEDS) -> list[tuple[int, dict[str, Any]]]:
    """All (seed, configuration) pairs, seed-major: a partial journal is a whole table for seed 0."""
    cfg = task.task_config()
    space = task.task_space(cfg)
    return [(s, values) for s in seeds for values in task.all_configs(space)]


def run_worker(index: int, of: int, seeds: tuple[int, ...], journal: Path = JOURNAL) -> None:
    """Train this worker's share of the missing runs, appending each to the journal."""
    import torch

    torch.set_num_threads(1)
    cfgs = {s: task.task_config(seed=s, study_name=f"ref{s}") for s in seeds}
    space = task.task_space(cfgs[seeds[0]])
    names = [p.name for p in space.params]
    done = read_journal(journal)
    items = [(s, v) for s, v in work_items(seeds)]
    mine = [it for i, it in enumerate(items) if i % of == index]
    journal.parent.mkdir(parents=True, exist_ok=True)
    for n, (seed, values) in enumerate(mine):
        key = task.config_key(values, names)
        if (key, seed) in done:
            continue
        record_run(journal, cfgs[seed], space, values, seed, key, f"[worker {index}] {n + 1}/{len(mine)}")


def record_run(journal: Path, cfg: Any, space: Any, values: dict[str, Any], seed: int, key: str,
               label: str) -> None:
    """Train one configuration and append its row to the journal (shared by benchmarks.tables)."""
    out = task.train_config(cfg, space, values)
    with journal.open("a") as f:  # one short line per write: appends do not interleave
        f.write(json.dumps({"key": key, "seed": seed, "values": values, **out}) + "\n")
    print(f"{label} seed={seed} {key} {out['status']} "
          f"final={out['curve'][-1][1] if out['curve'] else None} {out['wall_s']}s", flush=True)


def build(workers: int, seeds: tuple[int, ...]) -> None:
    """Run `workers` worker processes (one torch thread each) until the journal is complete."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    seed_arg = ",".join(map(str, seeds))
    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.reference", "worker", "--index", str(i),
                               "--of", str(workers), "--seeds", seed_arg], env=env)
             for i in range(workers)]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"a worker failed (exit codes {codes}); rerun to resume")
    aggregate()


def mean_curve(curves: list[list[list[float]]]) -> list[list[float]]:
    """Step-wise mean of same-length curves."""
    steps = [s for s, _ in curves[0]]
    return [[s, sum(c[i][1] for c in curves) / len(curves)] for i, s in enumerate(steps)]


def aggregate(journal: Path = JOURNAL, out: Path = task.REFERENCE_FILE,
              determinism: dict[str, Any] | None = None) -> dict[str, Any]:
    """Journal -> reference.json (per-seed curves, mean curve, final loss, metadata)."""
    cfg = task.task_config()
    space = task.task_space(cfg)
    names = [p.name for p in space.params]
    runs = read_journal(journal)
    all_keys = [task.config_key(v, names) for v in task.all_configs(space)]
    seeds = sorted({s for _, s in runs})
    # average over the seeds every configuration has (a build in progress: seed 0 first)
    complete = [s for s in seeds if all((k, s) in runs for k in all_keys)]
    seeds = complete or seeds
    configs: dict[str, Any] = {}
    for values in task.all_configs(space):
        key = task.config_key(values, names)
        per_seed = {str(s): {k: runs[(key, s)].get(k) for k in ("curve", "status", "end_step", "train_time_s",
                                                                  "eval_time_s", "wall_s")}
                    for s in seeds if (key, s) in runs}
        if not per_seed:
            continue
        ok = [r["curve"] for r in per_seed.values() if r["status"] == "ok"]
        entry: dict[str, Any] = {"values": values, "seeds": per_seed}
        if len(ok) == len(per_seed):
            entry["mean_curve"] = [[s, round(v, 6)] for s, v in mean_curve(ok)]
            entry["final"] = entry["mean_curve"][-1][1]
        else:  # a seed diverged: the configuration is not a usable result
            entry["final"] = None
        configs[key] = entry
    old = json.loads(out.read_text()) if out.is_file() else {}
    table = {
        "format": 1,
        "task": {"overrides": [o.replace(f"{task.BENCH_DIR.parent}/", "") for o in task.TASK_OVERRIDES],
                 "space": space.to_dict(), "param_names": names, "max_steps": task.MAX_STEPS,
                 "eval_every": task.EVAL_EVERY, "micro_batch_size": task.MICRO_BATCH},
        "task_fingerprint": task.fingerprint(),
        "built": {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "versions": versions(), "machine": machine(), "seeds": seeds,
                  "note": "built on a shared 2-core CPU machine; curves are deterministic, times are noisy"},
        "initial_loss": old.get("initial_loss") or task.initial_eval_loss(cfg, space),
        "determinism": determinism or old.get("determinism"),
        "configs": configs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    print(f"wrote {out}: {len(configs)} configurations x seeds {seeds}", flush=True)
    return table


def compare_journals(a: Path, b: Path) -> dict[str, Any]:
    """How many (configuration, seed) curves two builds share, and how many are bit-identical."""
    ra, rb = read_journal(a), read_journal(b)
    common = set(ra) & set(rb)
    same = sum(ra[k]["curve"] == rb[k]["curve"] for k in common)
    return {"compared": len(common), "identical": same}


def check(n: int, table_path: Path = task.REFERENCE_FILE) -> dict[str, Any]:
    """Retrain `n` configurations (spread over the table and seeds) and compare curves exactly."""
    table = json.loads(table_path.read_text())
    keys = sorted(table["configs"])
    picks = [keys[(i * 7919) % len(keys)] for i in range(n)]
    results = []
    t0 = time.perf_counter()
    for i, key in enumerate(picks):
        seeds = sorted(table["configs"][key]["seeds"])
        seed = int(seeds[i % len(seeds)])
        cfg = task.task_config(seed=seed, study_name=f"check{seed}")
        space = task.task_space(cfg)
        again = task.train_config(cfg, space, table["configs"][key]["values"])
        stored = table["configs"][key]["seeds"][str(seed)]["curve"]
        diff = max((abs(a[1] - b[1]) for a, b in zip(again["curve"], stored, strict=False)), default=0.0)
        same = again["curve"] == stored
        results.append({"key": key, "seed": seed, "identical": same, "max_abs_diff": diff})
        print(f"check {key} seed={seed}: {'identical' if same else f'DIFFERENT (max diff {diff:g})'}", flush=True)
    det = {"checked": results, "all_identical": all(r["identical"] for r in results),
           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "seconds": round(time.perf_counter() - t0, 1)}
    table["determinism"] = det
    table_path.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    return det


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.reference", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="train every missing (configuration, seed); resumable")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--seeds", default=",".join(map(str, task.TRAIN_SEEDS)))
    w = sub.add_parser("worker", help="(internal) one build worker")
    w.add_argument("--index", type=int, required=True)
    w.add_argument("--of", type=int, required=True)
    w.add_argument("--seeds", default=",".join(map(str, task.TRAIN_SEEDS)))
    sub.add_parser("aggregate", help="journal -> reference.json")
    c = sub.add_parser("check", help="retrain a few configurations and compare curves bit for bit")
    c.add_argument("--n", type=int, default=3)
    args = ap.parse_args(argv)
    if args.cmd == "build":
        build(args.workers, tuple(int(s) for s in args.seeds.split(",")))
    elif args.cmd == "worker":
        run_worker(args.index, args.of, tuple(int(s) for s in args.seeds.split(",")))
    elif args.cmd == "aggregate":
        aggregate()
    else:
        check(args.n)


if __name__ == "__main__":
    main()
