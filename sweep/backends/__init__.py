"""Training backends: how a model is loaded and LoRA is attached.

Two interchangeable implementations behind one `Backend` protocol: `peft` (HF transformers +
PEFT; everywhere, the reference) and `unsloth` (CUDA only; imported only inside the trial's own
process because importing it patches transformers, trl and peft globally).
"""

from __future__ import annotations

from typing import Any, Protocol

from sweep.backends.peft import PeftBackend
from sweep.backends.unsloth import UnslothBackend
from sweep.errors import ConfigError, Problem


class Backend(Protocol):
    name: str

    def load(self, location: str, model_cfg: Any, lora: Any, gradient_checkpointing: bool,
             max_seq_len: int) -> tuple[Any, Any]:
        """Return (peft_model, tokenizer) with LoRA attached and only LoRA weights trainable."""
        ...


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def unsloth_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("unsloth") is not None


def resolve_name(name: str) -> str:
    """`auto` -> unsloth on CUDA with unsloth installed, else peft. Checks explicit requests."""
    if name == "auto":
        return "unsloth" if cuda_available() and unsloth_installed() else "peft"
    if name == "unsloth":
        if not cuda_available():
            raise ConfigError(Problem("backend", "unsloth", "Unsloth needs a CUDA GPU and none is visible; "
                                      "use backend=peft (or backend=auto) on this machine"))
        if not unsloth_installed():
            raise ConfigError(Problem("backend", "unsloth", "the unsloth package is not installed; "
                                      "`pip install -e .[unsloth]` on the GPU machine, or use backend=peft"))
    return name


def check_model_runs_here(model_cfg: Any) -> None:
    """Refuse, before any work, what the training machine cannot run: QLoRA (4-bit) without
    bitsandbytes and a CUDA GPU; float16 weights without a CUDA GPU (autocast and loss scaling
    are CUDA-only here). Used by the sweep's preflight, `sweep.retrain` and every trial."""
    import importlib.util

    if model_cfg.load_in_4bit:
        missing = [what for what, ok in (("bitsandbytes", importlib.util.find_spec("bitsandbytes") is not None),
                                         ("a CUDA GPU", cuda_available())) if not ok]
        if missing:
            raise ConfigError(Problem("model.load_in_4bit", True, f"QLoRA needs {' and '.join(missing)} here; "
                                      "set model.load_in_4bit=false (16-bit LoRA) or run on a GPU machine "
                                      "with `pip install 'lora-sweep[qlora]'` (bitsandbytes)"))
    if model_cfg.dtype == "float16" and not cuda_available():
        raise ConfigError(Problem("model.dtype", "float16", "float16 weights train only on a CUDA GPU "
                                  "(autocast and loss scaling); use model.dtype=float32 (or auto) on a CPU"))


def get(name: str) -> Backend:
    return UnslothBackend() if name == "unsloth" else PeftBackend()
