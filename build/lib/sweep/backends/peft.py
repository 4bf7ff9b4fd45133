"""The reference backend: transformers `from_pretrained` + PEFT `get_peft_model`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from sweep.models import auto_dtype


@dataclass(frozen=True)
class LoraSettings:
    """What both backends need to attach LoRA (derived from TrialParams by trial.py)."""

    r: int
    alpha: float
    dropout: float
    target_modules: tuple[str, ...]
    use_rslora: bool = False
    use_dora: bool = False


def torch_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        cuda = device.type == "cuda"
        return getattr(torch, auto_dtype(cuda, cuda and torch.cuda.is_bf16_supported()))
    return getattr(torch, name)


def from_pretrained_kwargs(model_cfg: Any, device: torch.device) -> dict[str, Any]:
    """`AutoModelForCausalLM.from_pretrained` arguments for a preset (dtype, revision, QLoRA 4-bit)."""
    kwargs: dict[str, Any] = {"dtype": torch_dtype(model_cfg.dtype, device),
                              "trust_remote_code": model_cfg.trust_remote_code}
    if model_cfg.revision:
        kwargs["revision"] = model_cfg.revision
    if model_cfg.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"])
    return kwargs


def peft_config(lora: LoraSettings):
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.CAUSAL_LM, r=lora.r, lora_alpha=lora.alpha,
                      lora_dropout=lora.dropout, target_modules=list(lora.target_modules),
                      use_rslora=lora.use_rslora, use_dora=lora.use_dora, bias="none")


class PeftBackend:
    name = "peft"

    def load(self, location: str, model_cfg: Any, lora: LoraSettings, gradient_checkpointing: bool,
             max_seq_len: int) -> tuple[Any, Any]:
        from peft import get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        kwargs = from_pretrained_kwargs(model_cfg, device)
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=model_cfg.trust_remote_code,
                                                  revision=model_cfg.revision)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
        if model_cfg.load_in_4bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
        elif gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        model.config.use_cache = False
        model = get_peft_model(model, peft_config(lora))
        if not model_cfg.load_in_4bit:
            model.to(device)
        return model, tokenizer
