"""Measurement: what a short LoRA run teaches, on the probe set and the held-out questions.

    python -m benchmarks.behaviour_probes [--adapter DIR]... [--no-base] [--dump DIR] -- OVERRIDES

Evaluates the base model (unless --no-base) and each saved adapter (a trial's `adapter/` or a
study's `best_adapter/`) with the engine's own behaviour evaluation (`sweep.behaviour`): greedy
answers to the held-out questions of `data` and to the shipped probes (`sweep/probes.jsonl`),
scored by the engine's rules. Prints one row per model: stop rate, accuracy and hallucination on
the held-out facts, "I don't know" on the held-out unanswerable questions, privacy refusals on
the privacy probes, "I don't know" on the unanswerable probes. OVERRIDES are the sweep's own
(`model=smollm2`, `eval.max_examples=24`, ...). `--dump DIR` writes every answer with its
verdicts (`<DIR>/<model>.jsonl`) to read them by hand. Results: docs/ROADMAP.md ("Scoring
behaviour honestly").
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from sweep import behaviour, data, scoring
from sweep.config import load_config

COLUMNS = ("stop_rate", "accuracy", "hallucination_rate", "unanswerable_idk_rate",
           "privacy_refusal_rate", "privacy_hallucination_rate", "probe_idk_rate",
           "probe_hallucination_rate")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--adapter", action="append", default=[], help="an adapter folder (repeatable)")
    p.add_argument("--no-base", action="store_true", help="skip the base model")
    p.add_argument("--dump", type=Path, help="write every answer and its verdicts here")
    p.add_argument("overrides", nargs="*", help="sweep overrides, e.g. model=smollm2")
    args = p.parse_args(argv)
    cfg = load_config(args.overrides)
    _, rows = data.load_splits(cfg.data, cfg.seed)
    ev = behaviour.Evaluator(cfg, rows, batch_size=8)
    tpl = cfg.data.chat_template
    subjects = [] if args.no_base else [("base", None)]
    subjects += [(Path(a).parent.name + "/" + Path(a).name, a) for a in args.adapter]
    print("model".ljust(24), "s".rjust(5), *(c.rjust(len(c)) for c in COLUMNS))
    for name, folder in subjects:
        start = time.time()
        s = ev.run(behaviour.Subject(name, "adapter" if folder else "base", tpl, adapter=folder), folder)
        print(name[:24].ljust(24), f"{time.time() - start:5.0f}",
              *(f"{100 * s.metrics[c]:.0f}%".rjust(len(c)) for c in COLUMNS), flush=True)
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            with (args.dump / f"{name.replace('/', '_')}.jsonl").open("w") as f:
                for g in s.generations:
                    f.write(json.dumps({"question": g.example.question, "reference": g.example.reference,
                                        "answerable": g.example.answerable, "probe": g.example.probe,
                                        "answer": g.text, "stopped": g.stopped, **asdict(scoring.judge(g))},
                                       ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
