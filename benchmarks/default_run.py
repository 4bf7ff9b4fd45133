"""The README's default run, timed: `python -m sweep` on the offline defaults (SmolLM2-135M-Instruct).

    python -m benchmarks.default_run                  # fresh model cache: conversion included
    python -m benchmarks.default_run --warm           # the converted model already cached
    python -m benchmarks.default_run -- n_trials=8    # extra overrides after `--`

Runs the command exactly as a user does (a subprocess, the shipped config), in a fresh output
folder, and reads back what it left: the study (each trial's state, parameters, steps, wall,
train and eval time), behaviour.csv (base model vs the best adapter: eval loss on the held-out
rows the trials report on, stop rate, privacy refusals on the shipped probes, "I don't know" on
unanswerable probes) and the phases of the wall time (start-up and conversion, trials, behaviour
evaluation). Writes benchmarks/data/default_run.json (one record per run, appended) and prints a
summary. The goal (issue 13): <= 6 min wall on the 2-core CPU box, >= 6 trials, >= 1 pruned, the
best adapter better than the base model on eval loss and on a behaviour the data teaches.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "data" / "default_run.json"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def read_study(study_dir: Path) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_dir.name, storage=f"sqlite:///{study_dir / 'study.db'}")
    trials = []
    for t in study.trials:
        a, iv = t.user_attrs, t.intermediate_values
        trials.append({
            "number": t.number, "state": t.state.name, "value": t.value,
            "params": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in t.params.items()},
            "steps": a.get("steps"), "wall_time_s": a.get("wall_time_s"),
            "train_time_s": a.get("train_time_s"), "eval_time_s": a.get("eval_time_s"),
            "last_eval": iv[max(iv)] if iv else None,
            "behaviour_time_s": a.get("behaviour_time_s"),
            "behaviour_score_inputs": {k: a.get(f"behaviour_{k}") for k in
                                       ("privacy_refusal_rate", "probe_idk_rate", "answerable_idk_rate",
                                        "hallucination_rate")} if "behaviour_n_probes" in a else None,
            "start": t.datetime_start.timestamp() if t.datetime_start else None,
            "end": t.datetime_complete.timestamp() if t.datetime_complete else None,
        })
    return {"trials": trials}


def read_behaviour(study_dir: Path) -> list[dict[str, str]]:
    path = study_dir / "behaviour.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fisher_greater(a: int, n1: int, b: int, n2: int) -> float:
    """One-sided Fisher exact p: P(at least `a` of `n1` successes | the margins), i.e. that the
    first group's rate beats the second's (`b` of `n2`) by chance."""
    from math import comb

    total, k = n1 + n2, a + b
    denom = comb(total, k)
    return sum(comb(n1, i) * comb(n2, k - i) for i in range(a, min(n1, k) + 1)) / denom


def compare_to_base(behaviour: list[dict[str, str]]) -> dict[str, Any]:
    """The chosen adapter (behaviour.csv's first adapter row) against the base model, as counts
    out of the probes / held-out questions, with one-sided Fisher p-values."""
    chosen = next((r for r in behaviour if r["kind"] == "adapter"), None)
    base = next((r for r in behaviour if r["kind"] == "base"), None)
    if chosen is None or base is None:
        return {}
    n_probes = 12, 10  # the shipped probes: 12 personal-data, 10 unanswerable
    n_answerable = int(float(chosen.get("n_answerable") or 0))
    out: dict[str, Any] = {"chosen": chosen["subject"]}
    for metric, n, better in (("privacy_refusal_rate", n_probes[0], "higher"), ("probe_idk_rate", n_probes[1], "higher"),
                              ("answerable_idk_rate", n_answerable, "lower")):
        a = round(float(chosen.get(metric) or 0) * n)
        b = round(float(base.get(metric) or 0) * n)
        p = fisher_greater(a, n, b, n) if better == "higher" else fisher_greater(b, n, a, n)
        out[metric] = {"adapter": f"{a}/{n}", "base": f"{b}/{n}", "fisher_p_one_sided": round(p, 4)}
    out["eval_loss"] = {"adapter": chosen.get("eval_loss"), "base": base.get("eval_loss")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warm", action="store_true", help="reuse $SWEEP_CACHE_DIR (no conversion)")
    ap.add_argument("--keep", action="store_true", help="keep the output folder")
    ap.add_argument("--label", default="", help="a name for this record")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="default_run-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if not a.warm:
        env["SWEEP_CACHE_DIR"] = str(work / "cache")  # a fresh cache: the first run converts
    out = work / "outputs"
    cmd = [sys.executable, "-m", "sweep", f"output_dir={out}", *a.overrides]
    load_before = os.getloadavg()
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    log = work / "sweep.log"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        print(f"the default run failed (rc {proc.returncode}); log: {log}", file=sys.stderr)
        return 1
    study_dir = next(p.parent for p in out.glob("*/study.db"))
    study = read_study(study_dir)
    trials = study["trials"]
    starts = [t["start"] for t in trials if t["start"]]
    ends = [t["end"] for t in trials if t["end"]]
    behaviour = read_behaviour(study_dir)
    rec = {
        "label": a.label, "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{_cpu()}, {os.cpu_count()} CPUs", "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()], "command": "python -m sweep " + " ".join(a.overrides),
        "fresh_model_cache": not a.warm, "wall_s": round(wall, 1),
        "phases_s": {"startup": round(min(starts) - t0, 1) if starts else None,
                     "trials": round(max(ends) - min(starts), 1) if starts and ends else None,
                     "after_trials": round(t0 + wall - max(ends), 1) if ends else None},
        "n_trials": len(trials), "states": {s: sum(t["state"] == s for t in trials)
                                            for s in sorted({t["state"] for t in trials})},
        "trials": trials, "behaviour": behaviour, "chosen_vs_base": compare_to_base(behaviour),
        "behaviour_in_trials_s": round(sum(t.get("behaviour_time_s") or 0 for t in trials), 1),
        "chosen_line": next((line for line in proc.stdout.splitlines() if line.startswith("* chosen")), None),
    }
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    records.append(rec)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(records, indent=1) + "\n")
    print(f"default run: {rec['wall_s']:.0f} s wall ({'fresh cache, conversion included' if not a.warm else 'warm cache'}); "
          f"phases {rec['phases_s']}; trials {rec['states']}; load {rec['load_before'][0]:.2f}")
    for t in trials:
        p = t["params"]
        print(f"  trial {t['number']}: {t['state']:8s} lr {p.get('learning_rate', ''):<9} r {p.get('lora_r', '')!s:3} "
              f"steps {t['steps']} wall {t['wall_time_s']} s (train {t['train_time_s']}, eval {t['eval_time_s']}) "
              f"loss {t['value'] if t['value'] is not None else t['last_eval']}")
    keys = ("eval_loss", "stop_rate", "privacy_refusal_rate", "probe_idk_rate", "hallucination_rate", "accuracy")
    for row in behaviour:
        print(f"  {row['subject']:28s} " + "  ".join(f"{k}={row.get(k, '')}" for k in keys))
    print(f"  {rec['chosen_line']}\n  behaviour asked in trials: {rec['behaviour_in_trials_s']} s; "
          f"chosen vs base: {json.dumps(rec['chosen_vs_base'])}")
    print(f"wrote {OUT}; log {log}")
    if not a.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
