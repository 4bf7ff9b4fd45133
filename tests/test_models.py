"""Tiny real-architecture presets and the hub presets' failure mode."""

from __future__ import annotations

import pytest
import torch

from sweep import models
from sweep.config import load_config
from sweep.errors import ConfigError


def _load(name):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = load_config([f"model={name}"])
    path = models.resolve(cfg.model)
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_three_tiny_presets_are_real_and_different():
    outs, kinds = [], []
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11] * 6])
    for name in ("tiny_llama", "tiny_qwen", "tiny_mistral"):
        model, tok = _load(name)
        kinds.append(type(model).__name__)
        assert tok.chat_template and tok.eos_token
        with torch.no_grad():
            outs.append(model(ids).logits)
    assert kinds == ["LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not torch.allclose(outs[i], outs[j])


def test_tiny_mistral_uses_its_sliding_window():
    model, _ = _load("tiny_mistral")
    assert model.config.sliding_window == 32
    # beyond the window, logits differ from the same weights without a window
    from transformers import MistralForCausalLM

    cfg = model.config.to_dict()
    cfg["sliding_window"] = None
    from transformers import MistralConfig

    twin = MistralForCausalLM(MistralConfig(**cfg))
    twin.load_state_dict(model.state_dict())
    ids = torch.arange(3, 83).unsqueeze(0)
    with torch.no_grad():
        assert not torch.allclose(model(ids).logits[:, -1], twin(ids).logits[:, -1], atol=1e-5)


def test_tiny_build_is_deterministic(tmp_path, monkeypatch):
    cfg = load_config([])
    first = models.resolve(cfg.model)
    monkeypatch.setenv("SWEEP_CACHE_DIR", str(tmp_path))
    second = models.resolve(cfg.model)
    assert first != second
    from safetensors.torch import load_file

    a = load_file(f"{first}/model.safetensors")
    b = load_file(f"{second}/model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_real_preset_not_cached_fails_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    cfg = load_config(["model=llama"])
    assert cfg.model.hub_id == "meta-llama/Llama-3.2-1B-Instruct"
    with pytest.raises(ConfigError) as err:
        models.resolve(cfg.model)
    msg = err.value.message()
    assert "meta-llama/Llama-3.2-1B-Instruct" in msg and "model.path" in msg and "\n" not in msg


def test_unreachable_hub_fails_at_once_without_retries(monkeypatch, tmp_path, capfd):
    import socket

    import huggingface_hub.constants as c

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with socket.socket() as s:  # a loopback port nobody listens on: no network is touched
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ConfigError) as err:
        models.resolve(load_config(["model=qwen"]).model)
    msg = err.value.message()
    assert "hub is unreachable" in msg and f"127.0.0.1:{port}" in msg and "model=tiny_qwen" in msg
    assert "Retrying" not in capfd.readouterr().err


def test_real_presets_name_targets_and_templates():
    for name, template in (("llama", "llama3"), ("qwen", "qwen_25"), ("mistral", "mistral_v2v3")):
        m = load_config([f"model={name}"]).model
        assert m.chat_template == template and "q_proj" in m.target_modules["all_linear"]
