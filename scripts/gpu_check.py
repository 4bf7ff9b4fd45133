#!/usr/bin/env python
"""GPU check for the sweep engine: real OOM fallback, memory estimate vs measured, Ray packing.

Run on a CUDA machine (no internet needed: the model is a random-init Llama built from a
transformers config, fed random token ids, so no hub and no tokenizer):

    python scripts/gpu_check.py            # full check, a few minutes on an H100
    python scripts/gpu_check.py --quick    # smaller model and fewer combinations
    python scripts/gpu_check.py --json out.json

Sections (each runs on its own; one that fails is reported and the next still runs):
1. oom       a micro batch far too big for the GPU raises a real CUDA OOM inside
             `sweep.training.Trainer`; the trainer halves the micro batch (same effective batch,
             same step count) until it fits.
2. estimate  `sweep.memory.estimate` against `torch.cuda.max_memory_allocated` for a few
             (micro batch, sequence length, gradient checkpointing) combinations.
3. ray       several small trials of a real sweep (`executor=ray`, tiny_llama) packed on one
             GPU with fractional GPU requests; reports whether they overlapped in time.

Without CUDA it prints "no CUDA" and exits 0. `--cpu-smoke` runs every section's code on the CPU
at toy sizes (the numbers mean nothing; tests/test_backends.py runs it, so the script cannot rot
before a GPU is lent); the exit status is 1 when a section raised.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

# --cpu-smoke runs every code path on CPU with toy sizes (numbers meaningless); the real check
# is CUDA. Everything device-specific goes through these few helpers.
DEVICE = "cuda"


def on_cuda() -> bool:
    return DEVICE == "cuda"


def mem_reset() -> None:
    import torch

    if on_cuda():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def mem_peak_mb() -> tuple[float, float]:
    """(max allocated, max reserved) in MiB since the last reset; process RSS on CPU."""
    import torch

    if on_cuda():
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20, torch.cuda.max_memory_reserved() / 2**20
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rss, rss


def device_memory_bytes() -> int:
    import torch

    return torch.cuda.get_device_properties(0).total_memory if on_cuda() else 8 * 2**30


def llama_config(quick: bool):
    """~110M (quick) or ~210M parameters, Llama architecture, 32k vocabulary."""
    from transformers import LlamaConfig

    hidden, layers = (768, 8) if quick else (1024, 12)
    if not on_cuda():
        hidden, layers = 128, 2
    return LlamaConfig(vocab_size=32000 if on_cuda() else 512, hidden_size=hidden, intermediate_size=int(hidden * 2.75),
                       num_hidden_layers=layers, num_attention_heads=hidden // 64,
                       num_key_value_heads=min(4, hidden // 64),
                       max_position_embeddings=4096, tie_word_embeddings=False)


def build_model(config, gradient_checkpointing: bool, r: int = 16):
    """Random-init Llama in bf16 on the GPU with LoRA on all linear layers (as the peft backend does)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    # Built in fp32 then cast: works with transformers 4 and 5 (their dtype keywords differ).
    with torch.device(DEVICE):
        model = LlamaForCausalLM(config)
    if on_cuda():
        model = model.to(torch.bfloat16)
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    from sweep.memory import ALL_LINEAR

    return get_peft_model(model, LoraConfig(r=r, lora_alpha=r, target_modules=list(ALL_LINEAR), lora_dropout=0.0))


def random_rows(n: int, seq: int, vocab: int, seed: int = 0) -> list[dict[str, list[int]]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        ids = [rng.randrange(3, vocab) for _ in range(seq)]
        rows.append({"input_ids": ids, "labels": list(ids)})
    return rows


def make_trainer(model, rows, micro: int, effective: int, steps: int):
    import torch

    from sweep.training import NullReporter, Trainer, TrainSpec

    spec = TrainSpec(learning_rate=1e-4, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=effective,
                     micro_batch_size=micro, total_steps=steps, eval_every=10**6, seed=0,
                     divergence_factor=1e9)
    return Trainer(model, rows, rows[:2], spec, 0, NullReporter(), torch.device(DEVICE))


def free() -> None:
    """Return cached blocks after the caller dropped its references (`del model`)."""
    import gc

    import torch

    gc.collect()
    if on_cuda():
        torch.cuda.empty_cache()


# --------------------------------------------------------------------------- sections


def section_oom(quick: bool) -> dict[str, Any]:
    from sweep.fault_injection import FAULT_OOM_ENV

    config = llama_config(quick)
    seq = 512 if on_cuda() else 32
    if on_cuda():
        os.environ.pop(FAULT_OOM_ENV, None)  # a real OOM, not the injected one
        # A micro batch whose logits alone need ~4x the GPU: out of memory on any card.
        micro = 1
        while micro * seq * config.vocab_size * 16 < 4 * device_memory_bytes():
            micro *= 2
    else:
        micro = 16
        os.environ[FAULT_OOM_ENV] = "4"  # smoke test: no real OOM on CPU, inject it
    model = build_model(config, gradient_checkpointing=False)
    rows = random_rows(micro, seq, config.vocab_size)
    trainer = make_trainer(model, rows, micro=micro, effective=micro, steps=1 if quick else 2)
    t0 = time.perf_counter()
    result = trainer.fit()
    out = {
        "asked_micro_batch": micro,
        "ran_micro_batch": result.micro_batch_size,
        "gradient_accumulation_steps": result.gradient_accumulation_steps,
        "effective_batch_size": micro,
        "steps": result.steps,
        "fallbacks": result.fallbacks,
        "peak_memory_gb": round(result.peak_memory_mb / 1024, 2),
        "seconds": round(time.perf_counter() - t0, 1),
        "real_oom": on_cuda(),
        "ok": bool(result.fallbacks) and result.micro_batch_size * result.gradient_accumulation_steps == micro,
    }
    os.environ.pop(FAULT_OOM_ENV, None)
    del model, trainer, rows
    free()
    return out


def section_estimate(quick: bool) -> dict[str, Any]:
    from sweep.memory import ModelDims, TrainShape, estimate

    config = llama_config(quick)
    dims = ModelDims.from_hf_config(config)
    combos = [(1, 512, False), (4, 1024, False), (4, 1024, True)] if quick else \
        [(1, 512, False), (4, 512, False), (8, 1024, False), (8, 1024, True), (16, 2048, True), (4, 4096, True)]
    if not on_cuda():
        combos = [(2, 32, False), (2, 32, True)]
    rows_out = []
    for gc_on in (False, True):
        todo = [c for c in combos if c[2] == gc_on]
        if not todo:
            continue
        model = build_model(config, gradient_checkpointing=gc_on)
        for micro, seq, _ in todo:
            row: dict[str, Any] = {"micro_batch": micro, "seq_len": seq, "grad_ckpt": gc_on}
            try:
                rows = random_rows(micro, seq, config.vocab_size, seed=micro * seq)
                trainer = make_trainer(model, rows, micro=micro, effective=micro, steps=2)
                mem_reset()
                result = trainer.fit()
                measured, reserved = mem_peak_mb()
                est = estimate(dims, TrainShape(micro_batch_size=micro, seq_len=seq, lora_r=16,
                                                dtype="bfloat16" if on_cuda() else "float32",
                                                gradient_checkpointing=gc_on))
                row.update({"estimated_mb": round(est.peak_mb), "measured_mb": round(measured),
                            "ratio": round(est.peak_mb / measured, 2), "reserved_mb": round(reserved),
                            "estimated_gpu_mb": round(est.gpu_mb()), "fallbacks": len(result.fallbacks),
                            "parts": est.as_dict()})
                del trainer, rows
                free()
            except Exception as exc:  # noqa: BLE001 - report and go on to the next combination
                row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            rows_out.append(row)
        del model
        free()
    ratios = [r["ratio"] for r in rows_out if "ratio" in r]
    return {"model_params": dims.n_params, "combos": rows_out,
            "ratio_min": min(ratios, default=None), "ratio_max": max(ratios, default=None),
            "ok": bool(ratios) and 0.7 <= min(ratios) and max(ratios) <= 1.6}


def section_ray(quick: bool) -> dict[str, Any]:
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"skipped": "ray is not installed on this machine"}
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from sweep import engine
    from sweep.config import load_config

    out_dir = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    n = 4 if quick else 6
    extra = [] if on_cuda() else ["executor.gpu_memory_gb=80", "+fixed.max_steps=4", "executor.num_cpus=2"]
    cfg = load_config([
        "model=tiny_llama", "search_space=quick", f"n_trials={n}", "study_name=pack", f"output_dir={out_dir}",
        "executor=ray", "backend=peft", "eval.behaviour=false", "pruner=none", "sampler=random",
        f"executor.num_cpus={min(os.cpu_count() or 2, n + 2)}", *extra])
    t0 = time.perf_counter()
    summary = engine.run(cfg)
    wall = time.perf_counter() - t0
    trials = summary.study.trials
    spans = sorted((t.datetime_start.timestamp(), t.datetime_complete.timestamp()) for t in trials
                   if t.datetime_start and t.datetime_complete)
    most = max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)
    return {
        "trials": [{"number": t.number, "state": t.state.name, "ray_gpus": t.user_attrs.get("ray_gpus"),
                    "estimated_peak_mb": t.user_attrs.get("estimated_peak_mb"),
                    "measured_peak_mb": t.user_attrs.get("peak_memory_mb"),
                    "micro_batch_size": t.user_attrs.get("micro_batch_size"),
                    "wall_time_s": t.user_attrs.get("wall_time_s"), "pid": t.user_attrs.get("pid")}
                   for t in trials],
        "max_trials_at_once_on_one_gpu": most,
        "sweep_seconds": round(wall, 1),
        "ok": all(t.state.name == "COMPLETE" for t in trials) and most >= 2
        and (not on_cuda() or all(0 < (t.user_attrs.get("ray_gpus") or 0) < 1 for t in trials)),
    }


SECTIONS = {"oom": section_oom, "estimate": section_estimate, "ray": section_ray}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller model, fewer combinations")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="developers: run every code path on CPU at toy size (numbers meaningless)")
    args = parser.parse_args(argv)

    global DEVICE
    try:
        import torch
    except ImportError:
        print("no CUDA (torch is not installed)")
        return 0
    if args.cpu_smoke:
        DEVICE = "cpu"
        torch.set_num_threads(1)
        name, gib = "cpu (smoke test)", 0.0
    elif not torch.cuda.is_available():
        print("no CUDA")
        return 0
    else:
        props = torch.cuda.get_device_properties(0)
        name, gib = props.name, round(props.total_memory / 2**30, 1)
    report: dict[str, Any] = {"device": name, "gpu_memory_gb": gib, "torch": torch.__version__, "quick": args.quick}
    print(f"gpu_check on {name} ({gib} GiB), torch {torch.__version__}", flush=True)
    for name in args.only or list(SECTIONS):
        t0 = time.perf_counter()
        print(f"\n== {name}", flush=True)
        try:
            report[name] = SECTIONS[name](args.quick)
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
            report[name] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}", "traceback": traceback.format_exc()[-2000:]}
        report[name]["section_seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({k: v for k, v in report[name].items() if k != "traceback"}, indent=1, default=str),
              flush=True)
        if "traceback" in report[name]:
            print(report[name]["traceback"], file=sys.stderr)

    print("\n== summary")
    for name in args.only or list(SECTIONS):
        r = report.get(name, {})
        status = "SKIP" if "skipped" in r else "ERROR" if "error" in r else "ok" if r.get("ok") else "CHECK"
        detail = r.get("skipped") or r.get("error") or ""
        if name == "oom" and "ran_micro_batch" in r:
            detail = (f"micro {r['asked_micro_batch']} -> {r['ran_micro_batch']} x{r['gradient_accumulation_steps']} "
                      f"accumulation, {len(r['fallbacks'])} fallbacks, {r['steps']} steps")
        if name == "estimate" and r.get("ratio_min") is not None:
            detail = f"estimate/measured {r['ratio_min']}..{r['ratio_max']} over {len(r['combos'])} combos"
        if name == "ray" and "max_trials_at_once_on_one_gpu" in r:
            detail = f"{r['max_trials_at_once_on_one_gpu']} trials at once on one GPU, sweep {r['sweep_seconds']}s"
        print(f"  {name:9s} {status:6s} {detail}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    # a section that raised is a broken check (CI runs --cpu-smoke so it cannot rot unseen)
    return 1 if any("error" in report.get(name, {}) for name in args.only or list(SECTIONS)) else 0


if __name__ == "__main__":
    sys.exit(main())
