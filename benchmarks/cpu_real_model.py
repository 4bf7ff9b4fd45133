"""CPU budget for the real default model (SmolLM2-135M-Instruct): what makes a trial fast here.

    python -m benchmarks.cpu_real_model            # ~10-15 min on an idle 2-core machine
    python -m benchmarks.cpu_real_model --steps 4  # shorter
    python -m benchmarks.cpu_real_model --bf16-steps 2  # bf16 short where the CPU emulates it
    python -m benchmarks.cpu_real_model --only hf,memory  # ours (float32, 1 thread) vs HF, memory
    python -m benchmarks.cpu_real_model --only logits     # answer-only LM head: before/after

Each measurement runs in its own process (clean thread settings and peak memory), through the
project's own trial code (`sweep.trial.run_trial`, the sample chat data, LoRA r=16 on all linear
layers, effective batch 8):

1. dtype x torch threads: float32 / bfloat16 weights, 1 / 2 threads, one trial at a time;
2. two trials at once, one thread each (what `executor=ray` with `executor.cpus_per_trial=1`
   does), against the same two trials one after the other with the faster single setting;
3. HF Trainer + PEFT on the same model, data, batch and dtype: tokens/s against ours;
4. the memory planner's estimate against the measured peak resident memory (libraries and all),
   and against one training step's live tensor bytes (`sweep.memory.LiveTensorPeak`).

Writes benchmarks/data/cpu_real_model.json and prints a table. Wall times depend on what else
the machine runs: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "data" / "cpu_real_model.json"
BASE = ["model=smollm2", "data.max_eval_examples=16", "eval.behaviour=false"]


class _Quiet:
    """A reporter that never prunes and keeps the attributes."""

    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {}

    def report(self, step: int, value: float) -> None:
        pass

    def should_prune(self) -> bool:
        return False

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self.attrs.update(attrs)

    def progress(self, info: dict[str, Any]) -> None:
        pass


def _params(steps: int):
    from sweep.search_space import TrialParams

    return TrialParams(learning_rate=1e-3, lora_r=16, lora_alpha_ratio=2.0, effective_batch_size=8,
                       max_steps=steps, warmup_ratio=0.0, target_modules="all_linear")


def one_ours(dtype: str, threads: int, steps: int, micro: int, answers_only: bool = True) -> dict[str, Any]:
    from sweep import training
    from sweep.config import load_config
    from sweep.trial import run_trial

    if not answers_only:  # the trainer as it was: the LM head over every position
        training.supports_logits_to_keep = lambda model: False

    cfg = load_config([*BASE, f"model.dtype={dtype}", f"train.num_threads={threads}",
                       f"train.micro_batch_size={micro}", f"train.eval_every={steps}"])
    t = time.perf_counter()
    r = run_trial(cfg, _params(steps), _Quiet())
    return {"wall_s": round(time.perf_counter() - t, 2), "train_time_s": r["train_time_s"],
            "s_per_step": round(r["train_time_s"] / steps, 3), "tokens_per_s": r["tokens_per_s"],
            "eval_time_s": r["eval_time_s"], "peak_memory_mb": r["peak_memory_mb"], "eval_loss": r["value"]}


def one_hf(dtype: str, threads: int, steps: int, micro: int) -> dict[str, Any]:
    """HF Trainer + PEFT with the same model, LoRA, data order, batch and optimizer settings."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from sweep import backends, data, models, templates
    from sweep.batches import collate
    from sweep.config import load_config
    from sweep.trial import lora_settings

    torch.set_num_threads(threads)
    cfg = load_config([*BASE, f"model.dtype={dtype}"])
    params = _params(steps)
    model, tok = backends.get("peft").load(models.resolve(cfg.model), cfg.model, lora_settings(cfg, params),
                                           False, cfg.data.max_seq_len)
    tpl = templates.apply_template(tok, cfg.data.chat_template)
    train_rows, _ = data.load_splits(cfg.data, cfg.seed)
    train_ds = data.encode_rows(data.Encoder(tok, cfg.data, tpl.end_of_turn), train_rows, "data.path")
    n_tokens = sum(len(e["input_ids"]) for e in train_ds[: steps * 8])

    class Timer(TrainerCallback):
        started = 0.0
        elapsed = 0.0

        def on_step_begin(self, args, state, control, **kw):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.elapsed += time.perf_counter() - self.started

    timer = Timer()
    args = TrainingArguments(output_dir="/tmp/hf_bench", per_device_train_batch_size=micro,
                             gradient_accumulation_steps=8 // micro, max_steps=steps, learning_rate=1e-3,
                             lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.01,
                             max_grad_norm=1.0, use_cpu=True, report_to="none", save_strategy="no",
                             logging_steps=10**6, dataloader_num_workers=0, seed=cfg.seed,
                             remove_unused_columns=False, disable_tqdm=True)

    def collator(batch):
        return collate(batch, tok.pad_token_id)

    Trainer(model=model, args=args, train_dataset=train_ds, data_collator=collator,
            callbacks=[timer]).train()
    return {"train_time_s": round(timer.elapsed, 2), "s_per_step": round(timer.elapsed / steps, 3),
            "tokens_per_s": round(n_tokens / timer.elapsed, 1) if timer.elapsed else 0.0,
            "note": "tokens counted as ours: every input token of the examples trained on (shuffled order)"}


def one_estimate(dtype: str, micro: int) -> dict[str, Any]:
    """The plan at data.max_seq_len (before) and at the data's longest example (what the engine
    now passes), next to the process's resident memory before training (libraries, tokenizer)."""
    import resource

    from sweep import engine, memory, search_space
    from sweep.config import load_config

    cfg = load_config([*BASE, f"model.dtype={dtype}", f"train.micro_batch_size={micro}",
                       "search_space=cpu_demo"])
    longest = engine.preflight(cfg, search_space.load_for_config(cfg))
    old = memory.Planner(cfg, gpu_memory_mb=None)
    new = memory.Planner(cfg, gpu_memory_mb=None, seq_len=longest)
    p = _params(1)
    return {"estimate_mb_at_max_seq_len": round(memory.estimate(old.dims, old.shape(p, micro)).peak_mb, 1),
            "estimate_mb": round(memory.estimate(new.dims, new.shape(p, micro)).peak_mb, 1),
            "longest_example_tokens": longest, "max_seq_len": cfg.data.max_seq_len,
            "rss_before_training_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def one_live(dtype: str, micro: int) -> dict[str, Any]:
    """One training step at the planner's shape (the `micro` longest examples), its live tensor
    bytes counted by `sweep.memory.LiveTensorPeak` (weights loaded before, as on a GPU where the
    estimate's other parts sit on top of them), against the estimate without its weights."""
    import torch

    from sweep import backends, data, memory, models, templates
    from sweep.config import load_config
    from sweep.training import NullReporter, Trainer, TrainSpec
    from sweep.trial import lora_settings

    torch.set_num_threads(2)
    cfg = load_config([*BASE, f"model.dtype={dtype}", f"train.micro_batch_size={micro}"])
    params = _params(1)
    model, tok = backends.get("peft").load(models.resolve(cfg.model), cfg.model, lora_settings(cfg, params),
                                           False, cfg.data.max_seq_len)
    tpl = templates.apply_template(tok, cfg.data.chat_template)
    train_rows, _ = data.load_splits(cfg.data, cfg.seed)
    rows = data.encode_rows(data.Encoder(tok, cfg.data, tpl.end_of_turn), train_rows, "data.path")
    rows = sorted(rows, key=lambda e: len(e["input_ids"]))[-micro:]
    spec = TrainSpec(learning_rate=1e-3, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=micro,
                     micro_batch_size=micro, total_steps=1, eval_every=10, seed=0)
    trainer = Trainer(model, rows, rows[:1], spec, tok.pad_token_id, NullReporter(), torch.device("cpu"))
    with memory.LiveTensorPeak() as live:
        trainer.fit()
    planner = memory.Planner(cfg, gpu_memory_mb=None, seq_len=max(len(e["input_ids"]) for e in rows))
    est = memory.estimate(planner.dims, planner.shape(params, micro))
    return {"live_peak_mb": round(live.peak / 2**20, 1), "estimate_without_weights_mb":
            round(est.peak_mb - est.weights_mb, 1), "estimate_parts_mb": est.as_dict(),
            "seq_len": max(len(e["input_ids"]) for e in rows)}


def _child(kind: str, **kw: Any) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "benchmarks.cpu_real_model", "--child", kind, json.dumps(kw)],
                       capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    if p.returncode != 0:
        raise RuntimeError(f"{kind} {kw} failed:\n{p.stderr[-2000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(time.perf_counter() - t, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--micro", type=int, default=8)
    ap.add_argument("--bf16-steps", type=int, default=None,
                    help="steps for the bfloat16 runs (default --steps; emulated bf16 is ~6x slower on AVX2-only CPUs)")
    ap.add_argument("--only", default="dtype,parallel,hf,memory",
                    help="comma-separated parts: dtype (dtype x threads), parallel, hf, memory, "
                         "logits (answer-only LM head on/off)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--repeats", type=int, default=1, help="HF Trainer runs, alternating with ours")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    parts = set(a.only.split(","))
    if a.child:
        kind, kw = a.child[0], json.loads(a.child[1])
        fn = {"ours": one_ours, "hf": one_hf, "estimate": one_estimate, "live": one_live}[kind]
        print(json.dumps(fn(**kw)))
        return 0
    from sweep import models
    from sweep.config import load_config

    models.resolve(load_config(BASE).model)  # convert once, outside the timings
    rec: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs", "load_before": os.getloadavg(),
                           "parts": sorted(parts), "steps": a.steps, "bf16_steps": a.bf16_steps or a.steps,
                           "micro_batch": a.micro, "effective_batch": 8, "runs": {}}
    grid = [(d, t) for d in ("float32", "bfloat16") for t in (1, 2)] if "dtype" in parts else [("float32", 1)]
    for dtype, threads in grid:
        steps = a.bf16_steps if dtype == "bfloat16" and a.bf16_steps else a.steps
        r = _child("ours", dtype=dtype, threads=threads, steps=steps, micro=a.micro)
        rec["runs"][f"ours {dtype} {threads}t"] = r
        print(f"ours {dtype:8s} {threads} thread(s): {r['s_per_step']:.2f} s/step, {r['tokens_per_s']:.0f} tok/s, "
              f"eval {r['eval_time_s']:.1f} s, peak {r['peak_memory_mb']:.0f} MB, wall {r['process_wall_s']:.1f} s",
              flush=True)
    done = {k.split()[1] for k in rec["runs"]}
    best_dtype = min(done, key=lambda d: min(r["s_per_step"] for k, r in rec["runs"].items() if k.split()[1] == d))
    if "parallel" in parts:
        _parallel(rec, best_dtype, a)
    if "hf" in parts:
        _hf(rec, best_dtype, a)
    if "logits" in parts:
        _logits(rec, a)
    if "memory" in parts:
        _memory(rec, a, [d for d in ("float32", "bfloat16") if d in done])
    rec["load_after"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rec, indent=1) + "\n")
    print(f"wrote {a.out}")
    return 0


def _parallel(rec: dict[str, Any], best_dtype: str, a: argparse.Namespace) -> None:
    # two trials at once, one thread each, against one after the other with 2 threads
    import concurrent.futures as cf

    t = time.perf_counter()
    with cf.ThreadPoolExecutor(2) as pool:
        pair = list(pool.map(lambda _: _child("ours", dtype=best_dtype, threads=1, steps=a.steps, micro=a.micro),
                             range(2)))
    parallel = time.perf_counter() - t
    t = time.perf_counter()
    serial_runs = [_child("ours", dtype=best_dtype, threads=2, steps=a.steps, micro=a.micro) for _ in range(2)]
    serial = time.perf_counter() - t
    rec["parallel"] = {"dtype": best_dtype, "two_at_once_1t_wall_s": round(parallel, 1),
                       "one_after_other_2t_wall_s": round(serial, 1),
                       "two_at_once_s_per_step": [r["s_per_step"] for r in pair],
                       "one_after_other_s_per_step": [r["s_per_step"] for r in serial_runs]}
    print(f"two trials ({best_dtype}): at once with 1 thread each {parallel:.1f} s wall; "
          f"one after the other with 2 threads {serial:.1f} s", flush=True)


def _logits(rec: dict[str, Any], a: argparse.Namespace) -> None:
    """Before/after the answer-only LM head, interleaved (on, off, on, off) so that load drifts
    hit both alike: float32, 1 thread."""
    runs: dict[str, list[float]] = {"answers_only": [], "every_position": []}
    for only in (True, False, True, False):
        r = _child("ours", dtype="float32", threads=1, steps=a.steps, micro=a.micro, answers_only=only)
        runs["answers_only" if only else "every_position"].append(r["s_per_step"])
    best = {k: min(v) for k, v in runs.items()}
    rec["answer_logits"] = {"s_per_step": runs, "speedup_best_of_2": round(best["every_position"] / best["answers_only"], 3)}
    print(f"LM head on answer positions only: {best['answers_only']:.2f} s/step vs every position "
          f"{best['every_position']:.2f} (best of 2 each, interleaved): "
          f"{rec['answer_logits']['speedup_best_of_2']:.2f}x", flush=True)


def _hf(rec: dict[str, Any], best_dtype: str, a: argparse.Namespace) -> None:
    """HF Trainer + PEFT against ours, 1 thread each, alternating (HF, ours, HF, ...) `--repeats`
    times after the first `ours` run so that load drifts hit both; best of each."""
    ours_runs = [rec["runs"][f"ours {best_dtype} 1t"]]
    hf_runs = []
    for i in range(a.repeats):
        hf_runs.append(_child("hf", dtype=best_dtype, threads=1, steps=a.steps, micro=a.micro))
        if i + 1 < a.repeats:
            ours_runs.append(_child("ours", dtype=best_dtype, threads=1, steps=a.steps, micro=a.micro))
    hf = max(hf_runs, key=lambda r: r["tokens_per_s"])
    ours = max(ours_runs, key=lambda r: r["tokens_per_s"])
    rec["hf_trainer"] = {**hf, "dtype": best_dtype, "threads": 1,
                         "hf_tokens_per_s_runs": [r["tokens_per_s"] for r in hf_runs],
                         "ours_tokens_per_s_runs": [r["tokens_per_s"] for r in ours_runs],
                         "ours_over_hf_tokens_per_s": round(ours["tokens_per_s"] / hf["tokens_per_s"], 3)}
    print(f"HF Trainer + PEFT ({best_dtype}, 1 thread): {hf['tokens_per_s']:.0f} tok/s, ours "
          f"{ours['tokens_per_s']:.0f} (best of {len(hf_runs)} / {len(ours_runs)}, alternating); ours/HF = "
          f"{rec['hf_trainer']['ours_over_hf_tokens_per_s']:.2f}", flush=True)


def _memory(rec: dict[str, Any], a: argparse.Namespace, dtypes: list[str]) -> None:
    for dtype in dtypes:
        est = _child("estimate", dtype=dtype, micro=a.micro)
        live = _child("live", dtype=dtype, micro=a.micro) if dtype == "float32" else {}
        measured = rec["runs"][f"ours {dtype} 1t"]["peak_memory_mb"]
        rec[f"memory {dtype}"] = {**est, **live, "measured_peak_rss_mb": measured,
                                  "estimate_over_measured": round(est["estimate_mb"] / measured, 2),
                                  "before_over_measured": round(est["estimate_mb_at_max_seq_len"] / measured, 2)}
        print(f"memory {dtype}: estimate {est['estimate_mb']:.0f} MB at the longest example "
              f"({est['longest_example_tokens']} tokens; {est['estimate_mb_at_max_seq_len']:.0f} MB at "
              f"max_seq_len {est['max_seq_len']}), measured peak RSS {measured:.0f} MB "
              f"({est['estimate_mb'] / measured:.2f}x; before {est['estimate_mb_at_max_seq_len'] / measured:.2f}x)",
              flush=True)
        if live:
            print(f"memory {dtype}, one step's live tensors (weights excluded): estimate "
                  f"{live['estimate_without_weights_mb']:.0f} MB, measured {live['live_peak_mb']:.0f} MB "
                  f"({live['estimate_without_weights_mb'] / live['live_peak_mb']:.2f}x)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
