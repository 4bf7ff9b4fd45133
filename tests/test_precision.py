"""What a GPU machine gets, checked on a CPU with the device queries mocked: bfloat16 where the
GPU has it; float16 (T4, V100) only with autocast and a gradient scaler; float16 on a CPU refused
before any work. The fp16 code path itself runs here on CPU autocast."""

from __future__ import annotations

import pytest
import torch

from sweep.backends.peft import torch_dtype
from sweep.config import load_config
from sweep.errors import ConfigError
from sweep.objectives import IGNORE
from sweep.search_space import TrialParams
from sweep.training import NullReporter, Trainer, TrainSpec, mixed_precision


@pytest.mark.parametrize("bf16, want", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_dtype_on_a_gpu_is_bfloat16_where_it_exists(monkeypatch, bf16, want):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert torch_dtype("auto", torch.device("cuda")) == want
    assert torch_dtype("float32", torch.device("cuda")) == torch.float32


def test_only_float16_weights_on_a_gpu_train_with_autocast_and_a_scaler():
    assert mixed_precision(torch.device("cuda"), torch.float16) is True
    assert mixed_precision(torch.device("cuda"), torch.bfloat16) is False
    assert mixed_precision(torch.device("cuda"), torch.float32) is False
    assert mixed_precision(torch.device("cpu"), torch.float16) is False  # refused instead (below)


def test_float16_on_a_machine_without_cuda_is_refused_before_any_work(tmp_path, monkeypatch):
    from sweep import engine, search_space

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = load_config(["model.dtype=float16", f"output_dir={tmp_path}", "executor=inline"])
    with pytest.raises(ConfigError, match="model.dtype='float16'.*CUDA GPU"):
        engine.preflight(cfg, search_space.load_for_config(cfg))
    assert not (tmp_path / cfg.study_name).exists()


def _rows(n):
    return [{"input_ids": [(7 * k + 3 * i) % 200 + 1 for i in range(10)],
             "labels": [IGNORE] * 5 + [(7 * k + 3 * i) % 200 + 1 for i in range(5, 10)]} for k in range(n)]


def test_the_fp16_path_scales_the_loss_and_unscales_before_clipping():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(LlamaForCausalLM(LlamaConfig(vocab_size=256, hidden_size=32, intermediate_size=64,
                                                        num_hidden_layers=1, num_attention_heads=4,
                                                        num_key_value_heads=2)),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                      init_lora_weights=False))
    spec = TrainSpec(learning_rate=1e-3, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                     optimizer="adamw_torch", max_grad_norm=0.5, effective_batch_size=4, micro_batch_size=2,
                     total_steps=4, eval_every=2, seed=0, fp16_mixed_precision=True)
    trainer = Trainer(model, _rows(8), _rows(4), spec, 0, NullReporter(), torch.device("cpu"))
    assert trainer.scaler.is_enabled()
    norms = []
    real_clip = torch.nn.utils.clip_grad_norm_

    def clip(params, max_norm):  # what clipping sees: the unscaled gradients
        params = list(params)
        norms.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))))
        return real_clip(params, max_norm)

    torch.nn.utils.clip_grad_norm_ = clip
    try:
        result = trainer.fit()
    finally:
        torch.nn.utils.clip_grad_norm_ = real_clip
    assert len(result.eval_history) == 2 and all(v == v for _, v in result.eval_history)
    # clipping saw true gradients (the loss was scaled by 65536 for backward, then unscaled)
    assert len(norms) == 4 and all(0 < n < 1e3 for n in norms)
    assert trainer.scaler.state_dict()["scale"] > 0  # the scaler ran (a disabled one has no state)
    off = Trainer(model, _rows(8), _rows(4), TrainSpec(**{**spec.__dict__, "fp16_mixed_precision": False}),
                  0, NullReporter(), torch.device("cpu"))
    assert not off.scaler.is_enabled() and off.scaler.state_dict() == {}


def test_a_trial_decides_fp16_from_the_configured_compute_dtype(tmp_path, monkeypatch):
    """QLoRA's weights are 4-bit, so the loaded weights cannot say whether the compute is
    float16: the trial reads `model.dtype` (auto = float16 on a GPU without bfloat16)."""
    from sweep import backends, trial

    seen = {}

    class Stop(Exception):
        pass

    def trainer(model, train, eval_, spec, pad, reporter, device):
        seen["fp16"] = spec.fp16_mixed_precision
        raise Stop

    monkeypatch.setattr(trial, "Trainer", trainer)
    monkeypatch.setattr(backends.peft, "torch_dtype", lambda name, device: torch.float16)  # a T4's auto
    cfg = load_config(["model=tiny_llama", f"output_dir={tmp_path}"])
    params = TrialParams(max_steps=2, effective_batch_size=4, lora_r=4)
    with pytest.raises(Stop):
        trial.run_trial(cfg, params, NullReporter())
    assert seen["fp16"] is False  # on this CPU: no autocast whatever the dtype says
    monkeypatch.setattr(trial, "mixed_precision", lambda device, dtype: dtype == torch.float16)
    with pytest.raises(Stop):
        trial.run_trial(cfg, params, NullReporter())
    assert seen["fp16"] is True  # the configured compute dtype decided, not the float32 weights loaded here


def test_a_trial_refuses_float16_without_cuda_before_loading(tmp_path, monkeypatch):
    from sweep import trial

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(trial.models, "resolve", lambda *a: pytest.fail("loaded a model"))
    cfg = load_config(["model=tiny_llama", "model.dtype=float16", f"output_dir={tmp_path}"])
    params = TrialParams(max_steps=2, effective_batch_size=4, lora_r=4)
    with pytest.raises(ConfigError, match="model.dtype='float16'"):
        trial.run_trial(cfg, params, NullReporter())
