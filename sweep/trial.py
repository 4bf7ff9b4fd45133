"""One trial: a plain function of (config, params, reporter) that runs in any process.

`run_trial` loads the model through the chosen backend, attaches LoRA with the sampled
settings, encodes the data with the sampled chat template, trains (with OOM fallback), saves
the adapter into the trial's work folder and returns what the study records. Pruning and
failures propagate as exceptions; the executor turns them into trial states.
"""

from __future__ import annotations

import math
import os
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweep import backends, data, models, questions, templates
from sweep.backends.peft import LoraSettings
from sweep.config import SweepConfig
from sweep.memory import largest_divisor_at_most, reset_peak_memory
from sweep.scoring import ATTR_PREFIX
from sweep.search_space import TrialParams
from sweep.training import Trainer, TrainSpec, mixed_precision


def lora_settings(cfg: SweepConfig, params: TrialParams) -> LoraSettings:
    return LoraSettings(r=params.lora_r, alpha=params.alpha, dropout=params.lora_dropout,
                        target_modules=tuple(cfg.model.target_modules[params.target_modules]),
                        use_rslora=params.use_rslora, use_dora=params.use_dora)


def start_micro_batch(cfg: SweepConfig, params: TrialParams, memory_cap: int | None = None) -> int:
    """The micro batch a trial starts with: a divisor of the effective batch, within caps."""
    cap = cfg.train.micro_batch_size if memory_cap is None else min(cfg.train.micro_batch_size, memory_cap)
    return largest_divisor_at_most(params.effective_batch_size, max(cap, 1))


def derived(cfg: SweepConfig, params: TrialParams, micro: int) -> dict[str, Any]:
    """Values derived from the sample that the study records next to the params."""
    return {
        "lora_alpha_value": params.alpha,
        "alpha_over_r": params.alpha / params.lora_r,
        "effective_batch_size": params.effective_batch_size,
        "micro_batch_size": micro,
        "gradient_accumulation_steps": params.effective_batch_size // micro,
        "chat_template": params.chat_template or cfg.data.chat_template,
        "model": cfg.model.name,
    }


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_trial(cfg: SweepConfig, params: TrialParams, reporter: Any, workdir: Path | None = None,
              memory_cap: int | None = None,
              ask_behaviour: Callable[[float], bool] | None = None,
              train_seed: int | None = None) -> dict[str, Any]:
    """Train one configuration; returns the trial's attributes (value = final eval loss).

    `train_seed`: the seed of the data order and the adapter's init (default: the study's
    `seed`); the eval rows are always the study's (drawn with `seed`), so runs with other
    training seeds are scored on the same rows (sweep.finalists).

    `ask_behaviour(final eval loss)`: whether the trained adapter, still in memory, answers the
    behaviour questions now (sweep.questions); its metrics join the attributes as `behaviour_*`
    (so they are on the trial before Optuna is told it finished) and its answers go to
    `workdir/behaviour.jsonl`."""
    import torch

    started = time.perf_counter()
    threads = cfg.train.num_threads
    if threads is None and cfg.model.is_tiny and not torch.cuda.is_available():
        threads = 1  # toy matmuls: thread sync costs more than it gains (1.1 s vs 7.0 s a trial)
    if threads:
        torch.set_num_threads(threads)
    seed = cfg.seed if train_seed is None else train_seed
    seed_everything(seed)
    reset_peak_memory()  # this trial's peak, not an earlier trial's in the same process
    backend_name = backends.resolve_name(cfg.backend.name)
    backends.check_model_runs_here(cfg.model)  # a Ray worker may lack what the driver checked for
    micro = start_micro_batch(cfg, params, memory_cap)
    reporter.set_attrs({**derived(cfg, params, micro), "backend": backend_name, "pid": os.getpid(),
                        "node": socket.gethostname()})
    location = models.resolve(cfg.model)
    model, tokenizer = backends.get(backend_name).load(
        location, cfg.model, lora_settings(cfg, params), cfg.train.gradient_checkpointing, cfg.data.max_seq_len)
    template = templates.apply_template(tokenizer, params.chat_template or cfg.data.chat_template)
    train_rows, eval_rows = data.load_splits(cfg.data, cfg.seed)
    encoder = data.Encoder(tokenizer, cfg.data, template.end_of_turn)
    train_ds, eval_ds = data.encode_splits(encoder, cfg.objective, train_rows, eval_rows)
    trainable, total = models.count_parameters(model)
    steps = params.total_steps(len(train_ds))
    reporter.set_attrs({"trainable_params": trainable, "total_params": total, "total_steps": steps})
    device = next(p for p in model.parameters() if p.requires_grad).device
    spec = TrainSpec(
        learning_rate=params.learning_rate, weight_decay=params.weight_decay,
        warmup_ratio=params.warmup_ratio, lr_scheduler=params.lr_scheduler, optimizer=params.optimizer,
        max_grad_norm=params.max_grad_norm, effective_batch_size=params.effective_batch_size,
        micro_batch_size=micro, total_steps=steps, eval_every=cfg.train.eval_every, seed=seed,
        objective=cfg.objective, orpo_lambda=params.orpo_lambda,
        divergence_factor=cfg.train.divergence_factor, eval_batch_size=cfg.train.eval_batch_size,
        answer_logits_only=backend_name != "unsloth",  # Unsloth patches the forward: leave it whole
        cooldown_steps=cfg.train.cooldown_steps, eval_prefix_at_branches=cfg.train.cooldown_eval_prefix,
        # from the configured compute dtype, not the loaded weights: a 4-bit (QLoRA) model's
        # weights are uint8, and its float16 compute still needs autocast and loss scaling
        fp16_mixed_precision=mixed_precision(device, backends.peft.torch_dtype(cfg.model.dtype, device)))
    trainer = Trainer(model, train_ds, eval_ds, spec, tokenizer.pad_token_id, reporter, device)
    try:
        result = trainer.fit()
    except Exception as exc:
        # what it ran until it was pruned or failed: the executor records it on the trial
        exc.trial_stats = {**trainer.stats(), "wall_time_s": round(time.perf_counter() - started, 3)}  # type: ignore[attr-defined]
        raise
    finally:
        # the micro batch actually used, also when the trial is pruned or fails
        reporter.set_attrs({"micro_batch_size": trainer.micro,
                            "gradient_accumulation_steps": params.effective_batch_size // trainer.micro})
    if workdir is not None:
        adapter = Path(workdir) / "adapter"
        model.save_pretrained(adapter)
        tokenizer.save_pretrained(adapter)  # with the chat template the trial trained on
    behaviour: dict[str, Any] = {}
    try:
        if ask_behaviour is not None and ask_behaviour(result.final_eval_loss):
            behaviour = ask_questions(cfg, model, tokenizer, template, workdir)
    except Exception as exc:  # noqa: BLE001 - the trial trained and saved its adapter: it is COMPLETE
        # not asked (e.g. generation ran out of memory, the storage hiccuped): `select` reads it as
        # a trial without behaviour, and the reason is on the trial
        behaviour = {"behaviour_error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    wall = time.perf_counter() - started
    return {
        "value": result.final_eval_loss,
        "best_eval_loss": result.best_eval_loss,
        "steps": result.steps,
        "tokens_per_s": round(result.tokens_per_s, 1),
        "train_time_s": round(result.train_time_s, 3),
        "eval_time_s": round(result.eval_time_s, 3),
        "wall_time_s": round(wall, 3),
        "peak_memory_mb": round(result.peak_memory_mb, 1),
        "micro_batch_size": result.micro_batch_size,
        "gradient_accumulation_steps": result.gradient_accumulation_steps,
        "oom_fallbacks": result.fallbacks,
        "eval_history": result.eval_history,
        "branch_steps": result.branch_steps,
        "prefix_history": result.prefix_history,
        **behaviour,
    }


def ask_questions(cfg: SweepConfig, model: Any, tokenizer: Any, template: Any, workdir: Path | None) -> dict[str, Any]:
    """The trained adapter's behaviour: `behaviour_<metric>` attrs and `behaviour_time_s`; the
    answers kept in the trial's folder (asked once: the study's outputs are built from them)."""
    t0 = time.perf_counter()
    gens, metrics = questions.ask(cfg, model, tokenizer, template, questions.behaviour_rows(cfg))
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        (Path(workdir) / questions.CACHE_FILE).write_text(
            "".join(questions.to_line(g) + "\n" for g in gens), encoding="utf-8")
    attrs: dict[str, Any] = {ATTR_PREFIX + k: (None if isinstance(v, float) and math.isnan(v) else v)
                             for k, v in metrics.items()}
    attrs["behaviour_time_s"] = round(time.perf_counter() - t0, 3)
    return attrs
