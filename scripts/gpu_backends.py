"""GPU check: one LoRA trial trained with backend=peft and backend=unsloth, side by side.

Builds a random-init Llama of about 200M parameters from a `LlamaConfig` (no hub, no internet)
with the project's tiny tokenizer, saves it to a temporary folder, then trains it once per
backend on the same synthetic data with the same seed and settings, through the project's own
`Backend.load` and shared `sweep.training.Trainer`. Prints tokens/s, peak GPU memory and the
train/eval loss curves side by side, and writes everything as JSON (`--out`, default
`$OUT/gpu_backends.json` when `$OUT` is set).

Each backend runs in its own child process: importing unsloth patches transformers, trl and
peft for the whole process, so a PEFT run after it would not be a clean reference.

    python scripts/gpu_backends.py                 # 16-bit LoRA, 60 steps
    python scripts/gpu_backends.py --qlora         # also 4-bit QLoRA (needs bitsandbytes)
    python scripts/gpu_backends.py --steps 20 --seq-len 1024 --gradient-checkpointing

Without CUDA it prints "no CUDA" and exits 0 (`--cpu-smoke` runs the script's own logic on CPU
instead, for working on this script: pass tiny sizes; the unsloth run then fails by design).
Every section is guarded: a failing backend is reported and the others still run; the exit
status is 1 if any section failed.
How to run it on the device tool (carrying the unsloth wheels): docs/unsloth.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # run from a plain checkout, no `pip install -e .` needed

BACKENDS = ("peft", "unsloth")
FAILED: list[str] = []


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def sync() -> None:
    import torch

    if on_gpu():
        torch.cuda.synchronize()  # GPU work is asynchronous: time it only once it has finished


def section(title: str, fn, *args, **kwargs) -> Any:
    """Run one part of the check; print and record a failure instead of stopping."""
    print(f"\n== {title}", flush=True)
    try:
        return fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the check reports every failure and goes on
        traceback.print_exc()
        FAILED.append(title)
        print(f"!! {title}: failed (above); continuing", flush=True)
        return None


# --------------------------------------------------------------------------- parent side


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    import torch

    gpu = on_gpu()
    info: dict[str, Any] = {"python": sys.version.split()[0], "torch": torch.__version__,
                            "cuda": torch.version.cuda,
                            "gpu": torch.cuda.get_device_name(0) if gpu else "none (CPU smoke run)",
                            "bf16": torch.cuda.is_bf16_supported() if gpu else None}
    for pkg in ("transformers", "peft", "accelerate", "trl", "datasets", "bitsandbytes", "xformers",
                "triton", "unsloth", "unsloth_zoo"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg] = None
    for key, value in info.items():
        print(f"  {key:13s} {value}")
    return info


def build_model(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A random-init Llama saved as a normal HF folder (weights in bf16) with the tiny tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from sweep.config import TinyArch
    from sweep.models import _corpus, build_tiny_tokenizer

    arch = TinyArch(architecture="llama", vocab_size=1024, max_position_embeddings=args.seq_len)
    tokenizer = build_tiny_tokenizer(arch, "llama3", _corpus())
    config = LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        max_position_embeddings=max(2048, args.seq_len), tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(args.seed)
    # initialising ~200M weights on the GPU takes a second, on the CPU most of a minute
    with torch.device("cuda" if on_gpu() else "cpu"):
        model = LlamaForCausalLM(config)
    model.to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    n_params = sum(p.numel() for p in model.parameters())
    del model
    if on_gpu():
        torch.cuda.empty_cache()
    print(f"  {n_params / 1e6:.1f}M parameters, vocab {args.vocab} (tokenizer {len(tokenizer)}), "
          f"hidden {args.hidden}, {args.layers} layers, saved to {folder}")
    return {"params": n_params, "folder": str(folder)}


def run_child(backend: str, variant: str, folder: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    out = work / f"{variant}-{backend}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", backend, "--variant", variant,
           "--model-dir", str(folder), "--child-out", str(out)] + passthrough(args)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    # cwd=work: Unsloth writes unsloth_compiled_cache/ into the working directory
    proc = subprocess.run(cmd, cwd=work, env=env, timeout=args.child_timeout)
    if not out.exists():
        raise RuntimeError(f"{backend}/{variant} child exited with status {proc.returncode} and no result")
    result = json.loads(out.read_text())
    if result.get("error"):
        raise RuntimeError(f"{backend}/{variant}: {result['error']}")
    return result


def passthrough(args: argparse.Namespace) -> list[str]:
    flags = ["--steps", args.steps, "--batch", args.batch, "--micro-batch", args.micro_batch,
             "--seq-len", args.seq_len, "--eval-every", args.eval_every, "--eval-rows", args.eval_rows,
             "--lr", args.lr, "--rank", args.rank, "--seed", args.seed, "--vocab", args.vocab]
    out = [str(x) for x in flags]
    return (out + (["--gradient-checkpointing"] if args.gradient_checkpointing else [])
            + (["--cpu-smoke"] if args.cpu_smoke else []))


def compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print the side-by-side table and loss curves; return the agreement numbers."""
    summary: dict[str, Any] = {}
    header = (f"  {'run':18s} {'load s':>7s} {'tok/s all':>10s} {'tok/s steady':>12s} "
              f"{'first step s':>12s} {'peak alloc MiB':>14s} {'after load MiB':>14s} "
              f"{'trainable':>10s} {'final eval':>10s}")
    print(header)
    for key, r in results.items():
        print(f"  {key:18s} {r['load_s']:7.1f} {r['tokens_per_s']:10.0f} {r['steady_tokens_per_s']:12.0f} "
              f"{r['first_step_s']:12.2f} {r['peak_allocated_mb']:14.0f} {r['after_load_mb']:14.0f} "
              f"{r['trainable_params']:10d} {r['final_eval_loss']:10.4f}")
    for variant in sorted({k.split('/')[0] for k in results}):
        pair = [results.get(f"{variant}/{b}") for b in BACKENDS]
        if None in pair:
            continue
        p, u = pair
        evals_p, evals_u = dict(map(tuple, p["eval_history"])), dict(map(tuple, u["eval_history"]))
        train_p, train_u = dict(map(tuple, p["train_loss_history"])), dict(map(tuple, u["train_loss_history"]))
        print(f"\n  {variant}: loss curves (peft | unsloth)")
        print(f"  {'step':>5s} {'train peft':>11s} {'train unsl':>11s} {'eval peft':>10s} {'eval unsl':>10s}")
        every = max(1, len(train_p) // 12)
        for step in sorted(train_p):
            if step % every and step not in evals_p:
                continue
            ep, eu = evals_p.get(step), evals_u.get(step)
            print(f"  {step:5d} {train_p[step]:11.4f} {train_u.get(step, float('nan')):11.4f} "
                  f"{'' if ep is None else f'{ep:10.4f}':>10s} {'' if eu is None else f'{eu:10.4f}':>10s}")
        common = sorted(set(evals_p) & set(evals_u))
        gap = max((abs(evals_p[s] - evals_u[s]) for s in common), default=float("nan"))
        speed = u["steady_tokens_per_s"] / p["steady_tokens_per_s"] if p["steady_tokens_per_s"] else float("nan")
        memory = u["peak_allocated_mb"] / p["peak_allocated_mb"] if p["peak_allocated_mb"] else float("nan")
        summary[variant] = {"max_abs_eval_gap": gap, "unsloth_speedup": speed, "unsloth_memory_ratio": memory}
        print(f"  {variant}: max |eval peft - eval unsloth| = {gap:.4f}; unsloth steady tokens/s x{speed:.2f}; "
              f"peak memory x{memory:.2f}")
    return summary


def parent(args: argparse.Namespace) -> int:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception as exc:  # noqa: BLE001 - a broken torch is also "nothing to compare here"
        print(f"no CUDA (torch failed to import: {exc})")
        return 0
    if not has_cuda and not args.cpu_smoke:
        print("no CUDA: this check compares the backends on a GPU; nothing to do here")
        return 0
    quiet(None)
    report: dict[str, Any] = {"args": vars(args)}
    report["environment"] = section("environment", environment)
    with tempfile.TemporaryDirectory(prefix="gpu_backends-") as tmp:
        work = Path(tmp)
        report["model"] = section("build a random-init Llama", build_model, work / "model", args)
        results: dict[str, dict[str, Any]] = {}
        if report["model"] is not None:
            variants = ["lora"] + (["qlora"] if args.qlora else [])
            for variant in variants:
                for backend in args.backends:
                    r = section(f"train {variant} with backend={backend}", run_child, backend, variant,
                                work / "model", work, args)
                    if r is not None:
                        results[f"{variant}/{backend}"] = r
        report["results"] = results
        report["comparison"] = section("side by side", compare, results) if results else None
    report["failed_sections"] = FAILED
    out = args.out or (Path(os.environ["OUT"]) / "gpu_backends.json" if os.environ.get("OUT") else None)
    if out is not None:
        section("write json", lambda: Path(out).write_text(json.dumps(report, indent=1, default=str)))
        print(f"  results: {out}")
    print(f"\n{'all sections passed' if not FAILED else 'FAILED: ' + ', '.join(FAILED)}")
    return 1 if FAILED else 0


# --------------------------------------------------------------------------- child side


def synthetic_rows(n: int, seq_len: int, vocab: int, seed: int) -> list[dict[str, list[int]]]:
    """A copy task: k random tokens, a separator, the same k tokens; loss on the copy only.

    Learnable (loss falls as the model learns to copy), identical for both backends, and every
    row is `seq_len` long, so there is no padding and tokens/s is exact.
    """
    import random

    from sweep.objectives import IGNORE

    rng = random.Random(seed)
    k = (seq_len - 1) // 2
    rows = []
    for _ in range(n):
        ids = [rng.randrange(16, vocab) for _ in range(k)]
        full = ids + [3] + ids
        full += [3] * (seq_len - len(full))
        labels = [IGNORE] * (k + 1) + full[k + 1:]
        rows.append({"input_ids": full, "labels": labels})
    return rows


def child(args: argparse.Namespace) -> int:
    """Train one backend/variant in this (fresh) process and write its numbers as JSON."""
    out = Path(args.child_out)
    result: dict[str, Any] = {"backend": args.child, "variant": args.variant}
    try:
        result.update(train_one(args))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which reports and goes on
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
    out.write_text(json.dumps(result, default=str))
    return 0


def train_one(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from sweep import backends
    from sweep.backends.peft import LoraSettings
    from sweep.config import ModelConfig
    from sweep.training import NullReporter, Trainer, TrainSpec
    from sweep.trial import seed_everything

    seed_everything(args.seed)
    model_cfg = ModelConfig(name="gpu_llama", family="llama", path=args.model_dir,
                            load_in_4bit=args.variant == "qlora", dtype="auto")
    lora = LoraSettings(r=args.rank, alpha=float(2 * args.rank), dropout=0.0,
                        target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                        "down_proj"))
    t0 = time.perf_counter()
    model, tokenizer = backends.get(args.child).load(args.model_dir, model_cfg, lora,
                                                     args.gradient_checkpointing, args.seq_len)
    sync()
    load_s = time.perf_counter() - t0
    gpu = on_gpu()
    after_load_mb = torch.cuda.memory_allocated() / 2**20 if gpu else 0.0
    if gpu:
        torch.cuda.reset_peak_memory_stats()  # the peak below is training's, the model included
    train = synthetic_rows(args.steps * args.batch, args.seq_len, args.vocab, args.seed)
    evals = synthetic_rows(args.eval_rows, args.seq_len, args.vocab, args.seed + 1)
    spec = TrainSpec(learning_rate=args.lr, weight_decay=0.0, warmup_ratio=0.1, lr_scheduler="cosine",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=args.batch,
                     micro_batch_size=args.micro_batch, total_steps=args.steps, eval_every=args.eval_every,
                     seed=args.seed)
    device = next(p for p in model.parameters() if p.requires_grad).device
    trainer = Trainer(model, train, evals, spec, tokenizer.pad_token_id, NullReporter(), device)

    steps: list[tuple[float, int]] = []  # (forward+backward seconds, tokens) per optimizer step
    accumulate = trainer._accumulate

    def timed(batch):
        start = time.perf_counter()
        loss, tokens = accumulate(batch)
        sync()
        steps.append((time.perf_counter() - start, tokens))
        return loss, tokens

    trainer._accumulate = timed  # per-step timing without touching the shared loop
    res = trainer.fit()
    warm = min(5, len(steps) // 4)
    steady_t = sum(t for t, _ in steps[warm:])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "load_s": load_s, "after_load_mb": after_load_mb,
        # on CPU (smoke runs) the Trainer's own figure: the process's peak RSS
        "peak_allocated_mb": torch.cuda.max_memory_allocated() / 2**20 if gpu else res.peak_memory_mb,
        "peak_reserved_mb": torch.cuda.max_memory_reserved() / 2**20 if gpu else 0.0,
        "tokens_per_s": res.tokens_per_s,
        "steady_tokens_per_s": sum(n for _, n in steps[warm:]) / steady_t if steady_t else 0.0,
        "first_step_s": steps[0][0] if steps else float("nan"),
        "train_time_s": res.train_time_s, "eval_time_s": res.eval_time_s,
        "final_eval_loss": res.final_eval_loss, "eval_history": res.eval_history,
        "train_loss_history": res.train_loss_history, "micro_batch_size": res.micro_batch_size,
        "oom_fallbacks": res.fallbacks, "trainable_params": trainable,
        "model_class": type(model).__name__, "dtype": str(next(model.parameters()).dtype),
    }


# --------------------------------------------------------------------------- entry point


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    p.add_argument("--batch", type=int, default=8, help="effective batch (sequences per step)")
    p.add_argument("--micro-batch", type=int, default=8, help="sequences per forward pass")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--eval-rows", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--rank", type=int, default=16, help="LoRA r (alpha = 2r, all linear layers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--qlora", action="store_true", help="also compare 4-bit loading (bitsandbytes)")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    # model shape: ~200M parameters by default (12 x 11.2M in layers + 2 x 32.8M embedding/head)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--intermediate", type=int, default=2816)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--child-timeout", type=int, default=300, help="seconds per backend run")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="run on CPU without CUDA (to test this script; pass tiny sizes)")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default $OUT/gpu_backends.json)")
    # internal: one backend in a fresh process
    p.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    p.add_argument("--variant", choices=("lora", "qlora"), default="lora", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def quiet(child: str | None) -> None:
    """Progress bars of weight loading/saving would bury the numbers this check prints."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if child == "unsloth":
        return  # unsloth is imported first in a trial process: keep transformers out until then
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        quiet(args.child)
        return child(args)
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
