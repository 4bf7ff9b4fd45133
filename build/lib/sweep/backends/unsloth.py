"""The GPU backend: Unsloth's `FastLanguageModel` loads the model and attaches LoRA.

Same contract as `PeftBackend.load`: `(model, tokenizer)` with LoRA attached and only LoRA
weights trainable; the shared `sweep.training.Trainer` then trains it, so eval loss, pruning
reports and the OOM fallback are the same code for both backends.

Importing unsloth patches transformers, trl and peft for the whole process, so this module
never imports it at module level: `UnslothBackend.load` does, inside the trial's own process,
after setting `UNSLOTH_DISABLE_CPU_FALLBACK=1` (without it Unsloth silently trains on CPU when
no GPU is visible). The mapping from our settings to Unsloth's arguments is two pure functions,
`unsloth_load_kwargs` and `unsloth_peft_kwargs`, so it is tested on machines without a GPU.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from sweep.backends.peft import LoraSettings

__all__ = ["UnslothBackend", "unsloth_gradient_checkpointing", "unsloth_load_kwargs",
           "unsloth_peft_kwargs"]

INSTALL_HINT = "`pip install -e .[unsloth]` on the GPU machine (docs/unsloth.md), or use backend=peft"


def unsloth_gradient_checkpointing(enabled: bool) -> Literal["unsloth"] | Literal[False]:
    """Our on/off switch as Unsloth's value.

    "unsloth" is Unsloth's own checkpointing (recompute activations, offloaded to CPU RAM): the
    same memory-for-time trade as PEFT's `gradient_checkpointing_enable`, done Unsloth's way.
    """
    return "unsloth" if enabled else False


def unsloth_load_kwargs(location: str, model_cfg: Any, max_seq_len: int, *,
                        gradient_checkpointing: bool = False) -> dict[str, Any]:
    """Keyword arguments for `FastLanguageModel.from_pretrained`.

    Args:
        location: A local HF model folder or hub id (from `sweep.models.resolve`).
        model_cfg: The `ModelConfig` preset (dtype, load_in_4bit, revision, trust_remote_code).
        max_seq_len: The data's `max_seq_len`; Unsloth sizes its RoPE caches from it.
        gradient_checkpointing: Whether the trial trains with gradient checkpointing.

    Returns:
        The arguments, every one that differs from our PEFT backend's behaviour set explicitly.
    """
    import torch  # torch only, never unsloth: this function runs in the test process

    return {
        "model_name": location,
        "max_seq_length": int(max_seq_len),
        # None lets Unsloth choose bf16 where supported, else fp16: the rule of peft.torch_dtype("auto").
        "dtype": None if model_cfg.dtype == "auto" else getattr(torch, model_cfg.dtype),
        # Unsloth defaults to load_in_4bit=True; only QLoRA presets may load in 4 bit.
        "load_in_4bit": bool(model_cfg.load_in_4bit),
        "load_in_8bit": False,
        "full_finetuning": False,
        # Load exactly the weights named (PEFT does): no swap to Unsloth's pre-quantized hub mirror,
        # which would need the hub and could be a different checkpoint.
        "use_exact_model_name": True,
        # Same tokenizer and chat template as the PEFT backend, so both encode the data to the same
        # token ids and their eval losses compare; the pad token is fixed the way PEFT's is.
        "fix_tokenizer": False,
        "trust_remote_code": bool(model_cfg.trust_remote_code),
        "revision": model_cfg.revision,
        "use_gradient_checkpointing": unsloth_gradient_checkpointing(gradient_checkpointing),
    }


def unsloth_peft_kwargs(lora: LoraSettings, gradient_checkpointing: bool, seed: int) -> dict[str, Any]:
    """Keyword arguments for `FastLanguageModel.get_peft_model` (model passed separately).

    Mirrors `sweep.backends.peft.peft_config`: the same rank, alpha, dropout, target modules,
    rsLoRA and DoRA flags and `bias="none"`.

    Args:
        lora: The sampled LoRA settings (from `sweep.trial.lora_settings`).
        gradient_checkpointing: Whether the trial trains with gradient checkpointing.
        seed: Unsloth reseeds every RNG with `random_state` before creating the LoRA weights.

    Returns:
        The arguments.
    """
    kwargs: dict[str, Any] = {
        "r": int(lora.r),
        "lora_alpha": lora.alpha,
        "lora_dropout": float(lora.dropout),
        "target_modules": list(lora.target_modules),
        "bias": "none",
        "use_gradient_checkpointing": unsloth_gradient_checkpointing(gradient_checkpointing),
        "random_state": int(seed),
        "use_rslora": bool(lora.use_rslora),  # Unsloth asserts a real bool
    }
    if lora.use_dora:
        # Unsloth forwards it to peft.LoraConfig (no fused kernel: slower, still DoRA).
        kwargs["use_dora"] = True
    return kwargs


def import_fast_language_model() -> Any:
    """Import unsloth in this process, refusing its CPU fallback; return `FastLanguageModel`.

    Raises:
        RuntimeError: unsloth is missing, cannot start (no GPU, broken install), or ended up
            in its CPU mode anyway (e.g. `UNSLOTH_FORCE_CPU=1` in the environment).
    """
    os.environ["UNSLOTH_DISABLE_CPU_FALLBACK"] = "1"
    # Our Trainer computes the loss from the logits; never let Unsloth replace them with its fused
    # loss (it only does so when labels are passed, which we do not, but keep it explicit).
    os.environ["UNSLOTH_RETURN_LOGITS"] = "1"
    try:
        import unsloth
        from unsloth import FastLanguageModel
    except Exception as exc:  # noqa: BLE001 - ImportError, NotImplementedError (no GPU), RuntimeError
        raise RuntimeError(f"backend=unsloth: unsloth could not be imported "
                           f"({type(exc).__name__}: {exc}); {INSTALL_HINT}") from exc
    if getattr(unsloth, "DEVICE_TYPE", None) == "cpu":
        raise RuntimeError("backend=unsloth: unsloth started in its CPU mode (no GPU visible, or "
                           "UNSLOTH_FORCE_CPU / UNSLOTH_ZOO_DISABLE_GPU_INIT set); use backend=peft on CPU")
    return FastLanguageModel


class UnslothBackend:
    """Unsloth's fused kernels on a CUDA GPU; the trial contract of `PeftBackend`."""

    name = "unsloth"

    def load(self, location: str, model_cfg: Any, lora: LoraSettings, gradient_checkpointing: bool,
             max_seq_len: int, seed: int | None = None) -> tuple[Any, Any]:
        """Load the model with Unsloth and attach LoRA.

        Args:
            location: A local HF model folder or hub id.
            model_cfg: The `ModelConfig` preset.
            lora: The sampled LoRA settings.
            gradient_checkpointing: Train with (Unsloth's) gradient checkpointing.
            max_seq_len: Longest sequence the trial trains on.
            seed: Unsloth's `random_state` (it reseeds every RNG with it before creating the
                LoRA weights). None: drawn from torch's global RNG, which the trial seeded, so
                the LoRA init follows that RNG as it does in `PeftBackend` (which draws the
                init from it directly) and the protocol needs no extra argument.

        Returns:
            `(model, tokenizer)`: a PEFT model on the GPU with only LoRA weights trainable.
        """
        import torch

        fast = import_fast_language_model()
        if seed is None:
            # Not torch.initial_seed(): building a tiny preset reseeds torch after the trial did.
            seed = int(torch.randint(0, 2**31 - 1, (1,)))
        model, tokenizer = fast.from_pretrained(
            **unsloth_load_kwargs(location, model_cfg, max_seq_len,
                                  gradient_checkpointing=gradient_checkpointing))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = fast.get_peft_model(model, **unsloth_peft_kwargs(lora, gradient_checkpointing, seed))
        model.config.use_cache = False
        return model, tokenizer
