"""The memory estimator and placement: parameter counts against transformers and PEFT,
monotonicity, the micro-batch choice and the GPU fraction (no GPU needed)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from sweep.config import load_config
from sweep.memory import (
    ALL_LINEAR,
    LiveTensorPeak,
    ModelDims,
    Planner,
    TrainShape,
    choose_micro_batch,
    estimate,
    gpu_fraction,
    lora_param_count,
)
from sweep.search_space import TrialParams

# Llama-3.2-1B and Llama-3.1-8B as published (config.json values), for counts and sizes.
LLAMA_1B = ModelDims(hidden_size=2048, intermediate_size=8192, num_layers=16, num_heads=32, num_kv_heads=8,
                     vocab_size=128256, head_dim=64, tie_word_embeddings=True)
LLAMA_8B = ModelDims(hidden_size=4096, intermediate_size=14336, num_layers=32, num_heads=32, num_kv_heads=8,
                     vocab_size=128256)
GIB = 1024.0


def test_parameter_counts_match_published_llama_sizes():
    assert LLAMA_1B.n_params == 1_235_814_400
    assert LLAMA_8B.n_params == 8_030_261_248


@pytest.mark.parametrize("arch", ["llama", "qwen2", "mistral"])
def test_dims_from_hf_config_count_what_transformers_builds(arch, tmp_path):
    import torch
    import transformers

    cls = {"llama": "Llama", "qwen2": "Qwen2", "mistral": "Mistral"}[arch]
    config = getattr(transformers, f"{cls}Config")(
        vocab_size=300, hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=arch == "qwen2")
    with torch.device("meta"):
        model = getattr(transformers, f"{cls}ForCausalLM")(config)
    config.save_pretrained(tmp_path)
    dims = ModelDims.from_pretrained(str(tmp_path))  # config.json only, no weights
    assert dims == ModelDims.from_hf_config(config)
    assert dims.n_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("use_dora", [False, True])
def test_lora_count_matches_peft(use_dora):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=8, target_modules=list(ALL_LINEAR),
                                                                use_dora=use_dora))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert lora_param_count(ModelDims.from_hf_config(config), 8, ALL_LINEAR, use_dora) == trainable


BASE = TrainShape(micro_batch_size=2, seq_len=1024, lora_r=16)


@pytest.mark.parametrize(("field", "bigger"), [
    ("micro_batch_size", 4), ("seq_len", 2048), ("lora_r", 64), ("target_modules", ALL_LINEAR + ("lm_head",)),
    ("dtype", "float32"), ("optimizer", "adamw_torch"), ("lora_dropout", 0.1), ("use_dora", True),
])
def test_estimate_grows_with_every_knob(field, bigger):
    small = dataclasses.replace(BASE, optimizer="sgd") if field == "optimizer" else BASE
    assert estimate(LLAMA_1B, dataclasses.replace(small, **{field: bigger})).peak_mb > \
        estimate(LLAMA_1B, small).peak_mb


def test_estimate_is_monotone_in_micro_batch_and_sequence():
    peaks = [estimate(LLAMA_1B, dataclasses.replace(BASE, micro_batch_size=m, seq_len=s)).peak_mb
             for m in (1, 2, 4, 8) for s in (256, 512)]
    assert peaks == sorted(peaks)
    deeper = dataclasses.replace(LLAMA_1B, num_layers=32)
    assert estimate(deeper, BASE).peak_mb > estimate(LLAMA_1B, BASE).peak_mb


def test_checkpointing_and_quantization_save_memory_where_expected():
    plain = estimate(LLAMA_8B, BASE)
    ckpt = estimate(LLAMA_8B, dataclasses.replace(BASE, gradient_checkpointing=True))
    assert ckpt.activations_mb < plain.activations_mb / 4
    assert (ckpt.weights_mb, ckpt.logits_mb) == (plain.weights_mb, plain.logits_mb)
    q4 = estimate(LLAMA_8B, dataclasses.replace(BASE, quantization="4bit"))
    q8 = estimate(LLAMA_8B, dataclasses.replace(BASE, quantization="8bit"))
    assert q4.weights_mb < q8.weights_mb < plain.weights_mb
    # 8B in bf16 is ~15 GiB of weights; nf4 layers are ~3.4 GiB, but PEFT's
    # prepare_model_for_kbit_training upcasts embeddings and lm_head to fp32 (+3.9 GiB)
    assert plain.weights_mb / GIB == pytest.approx(14.96, rel=0.01)
    assert 6.5 < q4.weights_mb / GIB < 8


def test_estimate_rejects_nonsense():
    with pytest.raises(ValueError, match="micro_batch_size"):
        estimate(LLAMA_1B, dataclasses.replace(BASE, micro_batch_size=0))
    with pytest.raises(ValueError, match="dtype"):
        estimate(LLAMA_1B, dataclasses.replace(BASE, dtype="int3"))
    with pytest.raises(ValueError, match="hidden_size"):
        ModelDims(hidden_size=0, intermediate_size=1, num_layers=1, num_heads=1, num_kv_heads=1, vocab_size=1)


def test_choose_micro_batch_takes_the_largest_that_fits():
    shape = dataclasses.replace(BASE, micro_batch_size=8, seq_len=2048)
    need = {m: estimate(LLAMA_1B, dataclasses.replace(shape, micro_batch_size=m)).gpu_mb() for m in range(1, 9)}
    assert choose_micro_batch(LLAMA_1B, shape, need[8] + 1) == 8
    assert choose_micro_batch(LLAMA_1B, shape, need[5] + 1) == 5
    assert choose_micro_batch(LLAMA_1B, shape, need[5] + 1, effective_batch_size=16) == 4  # divisors only
    assert choose_micro_batch(LLAMA_1B, shape, need[5] + 1, effective_batch_size=6) == 3
    assert choose_micro_batch(LLAMA_1B, shape, need[1] - 1) is None
    # never above the micro batch asked for, however big the GPU
    assert choose_micro_batch(LLAMA_1B, dataclasses.replace(shape, micro_batch_size=2), 1e9) == 2


def test_gpu_fraction_rounds_up_to_steps_and_caps_at_one():
    assert gpu_fraction(1000, 80_000) == 0.05
    assert gpu_fraction(4000, 80_000) == 0.05  # exactly one step: not rounded to 0.1
    assert gpu_fraction(4001, 80_000) == pytest.approx(0.10)
    assert gpu_fraction(39_000, 80_000) == pytest.approx(0.50)
    assert gpu_fraction(500_000, 80_000) == 1.0
    assert gpu_fraction(0, 80_000) == 0.05
    with pytest.raises(ValueError, match="gpu_memory_mb"):
        gpu_fraction(1, 0)


def _cfg(tmp_path, *overrides):
    return load_config(["model=tiny_llama", f"output_dir={tmp_path}", "data.max_seq_len=2048",
                        "train.micro_batch_size=8", *overrides])


def test_planner_without_gpu_estimates_but_caps_nothing(tmp_path):
    planner = Planner(_cfg(tmp_path), gpu_memory_mb=None)  # reads the tiny model's config.json
    params = TrialParams(effective_batch_size=8, lora_r=8)
    plan = planner.plan(params)
    assert plan.micro_batch_cap is None and plan.gpus == 0.0
    assert plan.estimated_peak_mb and plan.estimated_peak_mb > 0
    assert planner(params) is None  # the SweepContext.memory_cap contract


def test_planner_on_a_gpu_caps_micro_batch_and_packs_small_trials(tmp_path):
    params = TrialParams(effective_batch_size=16, lora_r=16)
    big = Planner(_cfg(tmp_path), gpu_memory_mb=80 * GIB, dims=LLAMA_8B).plan(params)
    assert big.micro_batch_cap is not None and big.micro_batch_cap < 8 and 16 % big.micro_batch_cap == 0
    assert big.fits and 0.5 <= big.gpus <= 1.0
    small = Planner(_cfg(tmp_path, "data.max_seq_len=256"), gpu_memory_mb=80 * GIB).plan(params)  # tiny model
    assert small.micro_batch_cap == 8 and small.gpus == 0.05  # 20 such trials share one GPU
    explicit = Planner(_cfg(tmp_path, "executor.gpus_per_trial=0.5"), gpu_memory_mb=80 * GIB,
                       dims=LLAMA_8B).plan(params)
    assert explicit.gpus == 0.5 and explicit.micro_batch_cap <= big.micro_batch_cap
    hopeless = Planner(_cfg(tmp_path), gpu_memory_mb=8 * GIB, dims=LLAMA_8B).plan(params)
    assert not hopeless.fits and hopeless.micro_batch_cap == 1 and hopeless.gpus == 1.0


def test_planner_reads_gpu_memory_from_config(tmp_path):
    from sweep.models import cpu_bf16_native

    planner = Planner(_cfg(tmp_path, "executor.gpu_memory_gb=24", "model.dtype=auto"), dims=LLAMA_1B)
    assert planner.gpu_memory_mb == 24 * GIB
    assert planner.shape(TrialParams(), 1).dtype == "bfloat16"
    on_cpu = Planner(_cfg(tmp_path, "model.dtype=auto"), gpu_memory_mb=None, dims=LLAMA_1B)
    assert on_cpu.shape(TrialParams(), 1).dtype == ("bfloat16" if cpu_bf16_native() else "float32")
    assert Planner(_cfg(tmp_path), gpu_memory_mb=None, dims=LLAMA_1B).shape(TrialParams(), 1).dtype == "float32"


def test_planner_sizes_by_the_longest_example_not_max_seq_len(tmp_path):
    cfg = _cfg(tmp_path, "data.max_seq_len=256")
    assert Planner(cfg, gpu_memory_mb=None, dims=LLAMA_1B).shape(TrialParams(), 4).seq_len == 256
    assert Planner(cfg, gpu_memory_mb=None, dims=LLAMA_1B, seq_len=73).shape(TrialParams(), 4).seq_len == 73
    assert Planner(cfg, gpu_memory_mb=None, dims=LLAMA_1B, seq_len=999).shape(TrialParams(), 4).seq_len == 256


def test_preflight_returns_the_longest_encoded_example(tmp_path):
    from transformers import AutoTokenizer

    from sweep import data, engine, models, search_space, templates

    cfg = _cfg(tmp_path, "search_space=quick")
    longest = engine.preflight(cfg, search_space.load_for_config(cfg))
    tok = AutoTokenizer.from_pretrained(models.resolve(cfg.model))
    tpl = templates.apply_template(tok, cfg.data.chat_template)
    train, evals = data.encode_splits(data.Encoder(tok, cfg.data, tpl.end_of_turn), "sft",
                                      *data.load_splits(cfg.data, cfg.seed))
    assert longest == max(len(e["input_ids"]) for e in train + evals) < cfg.data.max_seq_len


@pytest.mark.parametrize("checkpointing", [False, True])
def test_estimate_tracks_a_measured_cpu_step(checkpointing):
    """fp32 on CPU, where the live-tensor count is exact: weights excluded (loaded before),
    one real training step through sweep.training.Trainer must peak near the estimate."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from sweep.training import NullReporter, Trainer, TrainSpec

    torch.set_num_threads(1)
    config = LlamaConfig(vocab_size=2048, hidden_size=128, intermediate_size=352, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=8, target_modules=list(ALL_LINEAR)))
    micro, seq = 4, 128
    rows = [{"input_ids": list(range(3 + k, 3 + k + seq)), "labels": list(range(3 + k, 3 + k + seq))}
            for k in range(micro)]
    spec = TrainSpec(learning_rate=1e-4, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=micro,
                     micro_batch_size=micro, total_steps=1, eval_every=10, seed=0)
    trainer = Trainer(model, rows, rows[:1], spec, 0, NullReporter(), torch.device("cpu"))
    with LiveTensorPeak() as live:
        trainer.fit()
    est = estimate(ModelDims.from_hf_config(config),
                   TrainShape(micro, seq, 8, dtype="float32", gradient_checkpointing=checkpointing))
    ratio = (est.peak_mb - est.weights_mb) / (live.peak / 2**20)
    assert 0.8 < ratio < 1.35, (ratio, est.as_dict(), live.peak / 2**20)


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="Linux /proc peak-RSS reset")
def test_each_trial_measures_its_own_cpu_peak():
    """Inline trials share a process: a trial's peak must not be an earlier trial's. Measured in a
    fresh process: in the suite's process, earlier tests leave freed heap pages that malloc reuses
    for the 256 MiB block, so deleting it would not lower the resident set in the first place."""
    import subprocess
    import sys

    code = """
import torch
from sweep.memory import peak_memory_mb, reset_peak_memory
cpu = torch.device("cpu")
reset_peak_memory(cpu)
big = torch.ones(256 * 2**20 // 4)  # an earlier trial's 256 MiB
big.add_(1)
after_big = peak_memory_mb(cpu)
del big
reset_peak_memory(cpu)
print(after_big, peak_memory_mb(cpu))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    after_big, after_reset = map(float, out.stdout.split())
    assert after_reset < after_big - 200


def test_a_hub_preset_is_placed_by_its_published_shape_without_the_hub(tmp_path):
    """Offline, a hub preset's config.json is not here: the trial's placement uses the preset's
    published shape (the one `python -m sweep.plan` sizes with), not no estimate at all."""
    from sweep.config import load_config
    from sweep.memory import PUBLISHED_DIMS, Planner

    cfg = load_config(["model=llama", f"output_dir={tmp_path}"])
    planner = Planner(cfg, gpu_memory_mb=24 * 1024)
    assert planner.dims == PUBLISHED_DIMS["meta-llama/Llama-3.2-1B-Instruct"]
    assert planner.plan(TrialParams(effective_batch_size=16)).estimated_peak_mb > 2000
