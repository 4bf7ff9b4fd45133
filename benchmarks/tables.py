"""The suite of reference tables: each a declared spec, built resumably with the project's trainer.

A table lives in `benchmarks/data/tables/<name>/`:

- `spec.yaml`: what the curves depend on and how the table is built: Hydra overrides (the task:
  model, data, eval cadence, micro batch; `{dir}` is the table's folder, `{root}` the repository),
  the discrete search space file (its `fixed.max_steps` is the budget), the training seeds of
  every configuration, and `top: {n, seeds}` (the best n configurations by the first seeds'
  mean final loss get these extra seeds, to measure noise where it matters). A `freeze:` block
  names a tiny architecture to build once into `{dir}/model` (the engine's own tiny presets are
  rebuilt whenever the sample data changes, which would silently change every curve) and data
  files to copy into the folder. `table:` points at the table file when it is not
  `{dir}/table.json` (the first table, recorded before the suite, stays where it was built).
  `order:` lists dimension values to train first (e.g. the default run's batch), so that an
  interrupted build leaves a complete sub-grid;
- `journal.jsonl`: one line per finished (configuration, seed), appended by the workers (a build
  continues where it stopped: `--resume` is what every build does);
- `table.json`: the aggregated table `benchmarks.replay.Table` reads (format of reference.json).

    python -m benchmarks.tables list
    python -m benchmarks.tables estimate NAME          # one real trial of the costliest config
    python -m benchmarks.tables build NAME --workers 2 # resumable; Ctrl-C safe
    python -m benchmarks.tables aggregate NAME

A table whose build stopped part-way is still usable: `aggregate` writes what is there and
`replay.Table` restricts a partial grid to its largest complete sub-grid (the suite reports how
many configurations that is).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import reference, task

TABLES_DIR = task.DATA_DIR / "tables"
ROOT = task.BENCH_DIR.parent


@dataclass(frozen=True)
class Spec:
    """One table's declaration (spec.yaml), paths resolved."""

    name: str
    dir: Path
    description: str
    overrides: tuple[str, ...]
    space_file: Path
    seeds: tuple[int, ...]
    top_n: int = 0
    top_seeds: tuple[int, ...] = ()
    table_file: Path | None = None
    freeze: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    order: dict[str, list[Any]] = field(default_factory=dict)
    legacy: bool = False  # recorded before the suite by benchmarks.reference (its own journal)

    @property
    def table_path(self) -> Path:
        return self.table_file or self.dir / "table.json"

    @property
    def journal(self) -> Path:
        return reference.JOURNAL if self.legacy else self.dir / "journal.jsonl"


# Recorded by runs with cooldown branches (benchmarks.task.train_config), kept per seed when present.
RECORDED = ("branch_curve", "branch_steps", "rows")


def _resolve(text: str, d: Path) -> str:
    return text.replace("{dir}", str(d)).replace("{root}", str(ROOT))


def names() -> list[str]:
    """Every table of the suite, in a fixed order (the first recorded table first)."""
    found = sorted(p.parent.name for p in TABLES_DIR.glob("*/spec.yaml"))
    return sorted(found, key=lambda n: (not load_spec(n).legacy, n))


def load_spec(name: str) -> Spec:
    import yaml

    d = TABLES_DIR / name
    raw = yaml.safe_load((d / "spec.yaml").read_text())
    return Spec(name=name, dir=d, description=raw.get("description", ""),
                overrides=tuple(_resolve(o, d) for o in raw["overrides"]),
                space_file=Path(_resolve(raw["space"], d)), seeds=tuple(raw.get("seeds", [0])),
                top_n=int((raw.get("top") or {}).get("n", 0)),
                top_seeds=tuple((raw.get("top") or {}).get("seeds", ())),
                table_file=Path(_resolve(raw["table"], d)) if raw.get("table") else None,
                freeze=raw.get("freeze") or {}, env={k: _resolve(str(v), d) for k, v in (raw.get("env") or {}).items()},
                order=raw.get("order") or {}, legacy=bool(raw.get("legacy", False)))


def spec_config(spec: Spec, seed: int = 0, extra: tuple[str, ...] | list[str] = ()) -> Any:
    """The table's `SweepConfig`, composed by Hydra as `python -m sweep <overrides>` would."""
    from sweep.config import load_config

    for k, v in spec.env.items():
        os.environ.setdefault(k, v)
    return load_config([*spec.overrides, f"search_space={spec.space_file}", f"seed={seed}",
                        "output_dir=/tmp/lora_sweep_bench", f"study_name=tbl_{spec.name}_{seed}", *extra])


def relative_overrides(spec: Spec) -> list[str]:
    """The overrides as stored in a table (paths relative to the repository)."""
    return [o.replace(f"{ROOT}/", "") for o in [*spec.overrides, f"search_space={spec.space_file}"]]


def fingerprint(spec: Spec) -> str:
    """sha256 over the spec, the space and every frozen file in the table's folder."""
    import hashlib

    h = hashlib.sha256()
    files = [spec.dir / "spec.yaml", spec.space_file, *sorted((spec.dir / "model").glob("*")),
             *sorted(spec.dir.glob("*.json*"))]
    for f in files:
        if f.is_file() and f.name not in ("table.json", "journal.jsonl"):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def freeze(spec: Spec, force: bool = False) -> None:
    """Build the spec's tiny model into `{dir}/model` and copy its data files, once."""
    from sweep import models
    from sweep.config import TinyArch

    fz = spec.freeze
    if not fz:
        return
    mdir = spec.dir / "model"
    if fz.get("tiny") and (force or not (mdir / "config.json").is_file()):
        arch = TinyArch(**fz["tiny"])
        tok = models.build_tiny_tokenizer(arch, fz["chat_template"], models._corpus())
        net = models.build_tiny_model(arch, tok)
        shutil.rmtree(mdir, ignore_errors=True)
        net.save_pretrained(mdir)
        tok.save_pretrained(mdir)
        print(f"froze a tiny {arch.architecture} in {mdir}", flush=True)
    for src, dst in (fz.get("copy") or {}).items():
        target = spec.dir / dst
        if force or not target.is_file():
            shutil.copyfile(ROOT / src, target)


# --------------------------------------------------------------------------- build


def _configs(spec: Spec) -> tuple[list[str], list[dict[str, Any]]]:
    cfg = spec_config(spec)
    space = task.task_space(cfg)
    names_ = [p.name for p in space.params]
    configs = task.all_configs(space)

    return names_, sorted(configs, key=lambda v: _priority(spec, v))  # stable: grid order within a priority


def _priority(spec: Spec, values: dict[str, Any]) -> tuple[int, ...]:
    """`order:` values first, in the order given."""
    return tuple(spec.order[n].index(values[n]) if values[n] in spec.order[n] else len(spec.order[n])
                 for n in spec.order)


def top_keys(spec: Spec, runs: dict[tuple[str, int], dict[str, Any]], keys: list[str]) -> list[str] | None:
    """The spec's top-n configurations by mean final loss over `spec.seeds`; None until known."""
    finals = {}
    for k in keys:
        rows = [runs.get((k, s)) for s in spec.seeds]
        if any(r is None for r in rows):
            return None
        if all(r["status"] == "ok" and r["curve"] for r in rows):
            finals[k] = sum(r["curve"][-1][1] for r in rows) / len(rows)
    return sorted(finals, key=finals.__getitem__)[: spec.top_n]


def work_items(spec: Spec, runs: dict[tuple[str, int], dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Phase 1: every configuration x `spec.seeds`; phase 2 (once phase 1 is complete): the top-n
    configurations x `spec.top_seeds`."""
    names_, configs = _configs(spec)
    # `order:` priority first, then seed: an interrupted build leaves the first-priority
    # configurations complete with every seed (configs are sorted by that priority)
    prio = [_priority(spec, v) for v in configs]
    items = [(s, v) for p in sorted(set(prio)) for s in spec.seeds
             for v, pv in zip(configs, prio, strict=True) if pv == p]
    keys = [task.config_key(v, names_) for v in configs]
    top = top_keys(spec, runs, keys)
    if top:
        by_key = dict(zip(keys, configs, strict=True))
        items += [(s, by_key[k]) for s in spec.top_seeds for k in top]
    return items


def run_worker(spec: Spec, index: int, of: int, reverse: bool = False) -> None:
    """Train this worker's share of the missing runs, appending each to the spec's journal.

    The journal is re-read before each run, so a worker started later (`--reverse`: from the end
    of the list, e.g. a second worker joining a running one-worker build) skips what is done."""
    import torch

    torch.set_num_threads(1)
    done = reference.read_journal(spec.journal)
    names_, _ = _configs(spec)
    mine = [it for i, it in enumerate(work_items(spec, done)) if i % of == index]
    if reverse:
        mine.reverse()
    cfgs: dict[int, Any] = {}
    space = None
    for n, (seed, values) in enumerate(mine):
        key = task.config_key(values, names_)
        if (key, seed) in done or (key, seed) in reference.read_journal(spec.journal):
            continue
        if seed not in cfgs:
            cfgs[seed] = spec_config(spec, seed)
            space = task.task_space(cfgs[seed])
        reference.record_run(spec.journal, cfgs[seed], space, values, seed, key,
                             f"[{spec.name} worker {index}] {n + 1}/{len(mine)}")


def build(spec: Spec, workers: int) -> dict[str, Any]:
    """Workers (one torch thread each) until the journal is complete, in two phases; resumable."""
    freeze(spec)
    env = {**os.environ, **spec.env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    table: dict[str, Any] = {}
    for _phase in (1, 2):  # phase 2's extra seeds go to the top configurations of phase 1's runs
        procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.tables", "worker", spec.name, "--index",
                                   str(i), "--of", str(workers)], env=env) for i in range(workers)]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"a worker failed (exit codes {codes}); rerun to resume")
        table = aggregate(spec)
    return table


def aggregate(spec: Spec, where: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Journal -> table.json: per-seed curves, each configuration's mean curve, metadata.

    Configurations have different numbers of seeds (the top ones more). A configuration's mean
    curve and its final (the oracle's figure) are over the COMMON seeds, those every trained
    configuration has: a seed fixes the data order and the adapter's init, and its effect is
    largely shared by all configurations (smollm2_chat: seed 1 is worse than seed 0 by 0.08-0.17
    for each of its top 4), so a mean over more seeds for the top ones only would rank them
    against the others unfairly. The final over all of a configuration's seeds is kept as
    `final_all_seeds`; the extra seeds measure noise (`run.seed_noise`) and give replays their
    single-seed curves. A configuration not trained yet is absent (partial table).

    `where` (`--where lr_scheduler=wsd,cosine`): only configurations whose values are among
    those listed, e.g. the schedules a build has finished for every seed while the next one is
    still running (its first seeds would otherwise cut the common seeds); recorded in `built`.
    """
    if spec.legacy:
        raise SystemExit(f"{spec.name} is built by `python -m benchmarks.reference` (its own journal)")
    names_, configs_in_order = _configs(spec)
    unknown = [k for k in (where or {}) if k not in names_]
    if unknown:
        raise SystemExit(f"--where {unknown[0]}: not a searched setting of {spec.name}; use one of {', '.join(names_)}")
    runs = reference.read_journal(spec.journal)
    cfg = spec_config(spec)
    space = task.task_space(cfg)
    trained: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for values in task.all_configs(space):
        if where and any(str(values.get(k)) not in allowed for k, allowed in where.items()):
            continue
        key = task.config_key(values, names_)
        per_seed = {str(s): {k: r.get(k) for k in ("curve", "status", "end_step", "train_time_s", "eval_time_s",
                                                   "wall_s", *(x for x in RECORDED if x in r))}
                    for (k2, s), r in sorted(runs.items(), key=lambda x: x[0][1]) if k2 == key}
        if per_seed:
            trained[key] = (values, per_seed)
    if where and not trained:
        raise SystemExit(f"--where {where}: no trained configuration of {spec.name} matches (values are written "
                         "as the journal has them, e.g. learning_rate=0.0003); table.json is unchanged")
    common = sorted(set.intersection(*(set(p) for _, p in trained.values()))) if trained else []
    configs: dict[str, Any] = {}
    for key, (values, per_seed) in trained.items():
        entry: dict[str, Any] = {"values": values, "seeds": per_seed, "final": None}
        if all(r["status"] == "ok" for r in per_seed.values()):
            mean = reference.mean_curve([per_seed[s]["curve"] for s in common])
            entry["mean_curve"] = [[s, round(v, 6)] for s, v in mean]
            entry["final"] = entry["mean_curve"][-1][1]
            entry["final_all_seeds"] = round(reference.mean_curve([r["curve"] for r in per_seed.values()])[-1][1], 6)
        configs[key] = entry
    old = json.loads(spec.table_path.read_text()) if spec.table_path.is_file() else {}
    walls = [r["wall_s"] for c in configs.values() for r in c["seeds"].values() if r.get("wall_s")]
    fixed = space.fixed if hasattr(space, "fixed") else {}
    table = {
        "format": 1,
        "name": spec.name,
        "description": spec.description,
        "task": {"overrides": relative_overrides(spec), "space": space.to_dict(), "param_names": names_,
                 "max_steps": int(fixed["max_steps"]), "eval_every": int(cfg.train.eval_every),
                 "micro_batch_size": int(cfg.train.micro_batch_size), "model": cfg.model.name,
                 "data_format": cfg.data.format, "max_eval_examples": cfg.data.max_eval_examples,
                 "dtype": cfg.model.dtype},
        "task_fingerprint": fingerprint(spec),
        "built": {"date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                  "versions": reference.versions(), "machine": reference.machine(),
                  "seeds": list(spec.seeds), "top": {"n": spec.top_n, "seeds": list(spec.top_seeds)},
                  "grid_size": len(configs_in_order), "trained_configs": len(configs),
                  "runs": sum(len(c["seeds"]) for c in configs.values()), "where": where or None,
                  "wall_s_total": round(sum(walls), 1),
                  "wall_s_median": round(sorted(walls)[len(walls) // 2], 2) if walls else None,
                  "note": "built on a shared 2-core CPU machine; curves are deterministic, times are noisy"},
        "initial_loss": old.get("initial_loss") or task.initial_eval_loss(cfg, space),
        "determinism": old.get("determinism"),
        "configs": configs,
    }
    spec.table_path.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    print(f"wrote {spec.table_path}: {len(configs)}/{len(configs_in_order)} configurations, "
          f"{table['built']['runs']} runs",
          flush=True)
    return table


def estimate(spec: Spec) -> dict[str, Any]:
    """Train the costliest configuration (largest batch and rank) once: seconds, and the build's
    projected serial CPU time (scaled by each configuration's samples)."""
    freeze(spec)
    cfg = spec_config(spec, 0)
    space = task.task_space(cfg)
    names_, configs = _configs(spec)
    costliest = max(configs, key=lambda v: (v.get("effective_batch_size", 1), v.get("lora_r", 0)))
    out = task.train_config(cfg, space, costliest)
    per_sample = out["wall_s"] / costliest.get("effective_batch_size", 1)
    samples = sum(v.get("effective_batch_size", 1) for v in configs)
    n_runs = len(configs) * len(spec.seeds) + spec.top_n * len(spec.top_seeds)
    serial = per_sample * samples * (n_runs / len(configs))
    res = {"config": task.config_key(costliest, names_), "wall_s": out["wall_s"], "status": out["status"],
           "runs": n_runs, "projected_serial_s": round(serial), "projected_2_workers_s": round(serial / 2)}
    print(json.dumps(res), flush=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.tables", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    for name in ("build", "worker", "aggregate", "estimate", "freeze"):
        p = sub.add_parser(name)
        p.add_argument("name")
        if name in ("build", "worker"):
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--index", type=int, default=0)
            p.add_argument("--of", type=int, default=1)
            p.add_argument("--resume", action="store_true", help="(always: a build continues its journal)")
            p.add_argument("--reverse", action="store_true", help="worker: take the list from its end")
        if name == "aggregate":
            p.add_argument("--where", action="append", default=[], metavar="NAME=V1,V2",
                           help="only configurations with these values (repeatable)")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for n in names():
            s = load_spec(n)
            print(f"{n}: {s.description} -> {s.table_path.relative_to(ROOT)}")
        return
    spec = load_spec(args.name)
    if args.cmd == "build":
        build(spec, args.workers)
    elif args.cmd == "worker":
        run_worker(spec, args.index, args.of, args.reverse)
    elif args.cmd == "aggregate":
        where = {}
        for item in args.where:
            name, _, values = item.partition("=")
            if not values:
                raise SystemExit(f"--where {item!r}: write NAME=V1,V2 (e.g. lr_scheduler=wsd,cosine)")
            where[name] = values.split(",")
        aggregate(spec, where)
    elif args.cmd == "estimate":
        estimate(spec)
    else:
        freeze(spec, force=True)


if __name__ == "__main__":
    main()
