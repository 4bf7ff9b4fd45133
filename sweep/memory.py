"""Peak GPU memory of a LoRA trial, estimated before it starts, and where the trial goes.

`estimate(dims, shape)` is a pure function: model dimensions (`ModelDims`, read from a HF
`config.json` through `AutoConfig`, no weights loaded) and the trial's training shape
(`TrainShape`: micro batch, sequence length, dtype, quantization, LoRA rank and targets,
optimizer, gradient checkpointing) -> `MemoryEstimate`, broken into the parts a person can
check against `torch.cuda.max_memory_allocated`:

    weights       frozen base weights (bf16/fp16/fp32, or 4/8-bit with fp32 leftovers:
                  PEFT's `prepare_model_for_kbit_training` upcasts embeddings/norms/lm_head)
    lora_state    LoRA parameters + their gradients + optimizer state (fp32: PEFT keeps
                  adapters in fp32 when the base is 16-bit)
    activations   what the layers keep for backward (all layers, or only each layer's input
                  plus one recomputed layer with gradient checkpointing)
    logits        micro x seq x vocab logits, their fp32 copy, log-softmax and gradients:
                  with a 128k vocabulary this is the largest part at long sequences (the
                  trainer runs the head from the first answer token only, so this is the
                  bound for data whose answers start at the first token)

`Planner` turns the estimate into placement decisions for one sweep: the largest micro batch,
up to the one asked for, that fits the GPU (the trial's memory cap; OOM fallback still guards
against a low estimate), and the GPU fraction Ray should reserve so that small trials share a
GPU. Without a GPU the estimate is still computed (and recorded on the trial) but nothing is
capped and trials are placed by CPUs only.

The numbers are deliberately simple (element counts per token and layer for a Llama-style
block with SDPA attention, which keeps no seq x seq scores); `scripts/gpu_check.py` compares
them with measured peaks on a real GPU; `LiveTensorPeak` counts live tensor bytes on a CPU
(the stand-in for CUDA's allocator statistics that tests/test_memory.py and
`python -m benchmarks.cpu_real_model` compare the estimate with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from sweep import models
from sweep.models import auto_dtype

MIB = 2**20
CUDA_CONTEXT_MB = 512.0  # CUDA context + cuBLAS workspace: real GPU memory, not in the allocator's stats
ALLOCATOR_MARGIN = 0.10  # caching-allocator fragmentation on top of the live-tensor peak
GPU_FRACTION_STEP = 0.05
CKPT_VALUES_PER_TOKEN_LAYER = 5  # hidden-size multiples a checkpointed layer keeps (measured)

Quantization = Literal["none", "8bit", "4bit"]
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}
# Optimizer state bytes per trainable (fp32) parameter; sgd here has no momentum buffer.
_OPTIMIZER_BYTES = {"adamw_torch": 8, "adamw_torch_fused": 8, "adamw_8bit": 2, "paged_adamw_8bit": 2, "sgd": 0}
# Bytes per stored weight when quantized (bitsandbytes nf4 with double quantization ~4.13 bits).
_QUANT_BYTES = {"4bit": 0.516, "8bit": 1.02}


def largest_divisor_at_most(n: int, cap: int) -> int:
    """The largest micro batch <= `cap` that divides the effective batch `n` (no remainder steps)."""
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


@dataclass(frozen=True)
class ModelDims:
    """The few numbers of a decoder-only transformer that decide its memory."""

    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    vocab_size: int
    head_dim: int | None = None  # None: hidden_size // num_heads
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # Qwen2 has q/k/v biases

    def __post_init__(self) -> None:
        for name in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads", "vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}.")

    @property
    def q_dim(self) -> int:
        return self.num_heads * (self.head_dim or self.hidden_size // self.num_heads)

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * (self.head_dim or self.hidden_size // self.num_heads)

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each projection in one layer."""
        h, i = self.hidden_size, self.intermediate_size
        return {"q_proj": (h, self.q_dim), "k_proj": (h, self.kv_dim), "v_proj": (h, self.kv_dim),
                "o_proj": (self.q_dim, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def layer_linear_params(self) -> int:
        """Weights of one layer's projections (the part that 4/8-bit quantization shrinks)."""
        return sum(a * b for a, b in self.linear_shapes().values())

    def other_params(self) -> int:
        """Everything not in a layer projection: embeddings, lm_head, norms, biases."""
        h = self.hidden_size
        embed = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        bias = (self.q_dim + 2 * self.kv_dim) if self.attention_bias else 0
        return embed + self.num_layers * (2 * h + bias) + h

    @property
    def n_params(self) -> int:
        return self.num_layers * self.layer_linear_params() + self.other_params()

    @classmethod
    def from_hf_config(cls, config: Any) -> ModelDims:
        """From a `transformers.PretrainedConfig` (multimodal configs: their text part)."""
        config = getattr(config, "text_config", None) or config
        heads = config.num_attention_heads
        return cls(
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_layers=config.num_hidden_layers,
            num_heads=heads,
            num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
            vocab_size=config.vocab_size,
            head_dim=getattr(config, "head_dim", None),
            tie_word_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
            attention_bias=bool(getattr(config, "attention_bias", False))
            or getattr(config, "model_type", "") == "qwen2",
        )

    @classmethod
    def from_pretrained(cls, location: str, *, trust_remote_code: bool = False,
                        revision: str | None = None) -> ModelDims:
        """Read `config.json` of a local folder (or cached hub id) without loading weights."""
        from transformers import AutoConfig

        return cls.from_hf_config(AutoConfig.from_pretrained(location, trust_remote_code=trust_remote_code,
                                                             revision=revision))


    @classmethod
    def llama_like(cls, params_b: float) -> ModelDims:
        """A Llama-shaped model of about `params_b` billion parameters, for a model whose own
        config is not at hand: per layer ~12.1 h^2 (full attention + SwiGLU at 8/3 h), one layer
        per 128 of width (Llama-2-7B: 4096 / 32), a 32k vocabulary."""
        if params_b <= 0:
            raise ValueError(f"params_b must be > 0, but got {params_b=}.")
        h = max(256, round((params_b * 1e9 / 0.0945) ** (1 / 3) / 128) * 128)
        heads = h // 128
        return cls(hidden_size=h, intermediate_size=round(8 * h / 3 / 256) * 256, num_layers=h // 128,
                   num_heads=heads, num_kv_heads=heads, vocab_size=32000)


# The shapes of the shipped real presets, copied from each model's config.json: the memory model
# works before any download (`python -m sweep.plan`, placement without the hub).
PUBLISHED_DIMS: dict[str, ModelDims] = {
    "meta-llama/Llama-3.2-1B-Instruct": ModelDims(2048, 8192, 16, 32, 8, 128256, head_dim=64,
                                                  tie_word_embeddings=True),  # 1.24B
    "Qwen/Qwen2.5-0.5B-Instruct": ModelDims(896, 4864, 24, 14, 2, 151936, tie_word_embeddings=True,
                                            attention_bias=True),  # 0.49B
    "mistralai/Mistral-7B-Instruct-v0.3": ModelDims(4096, 14336, 32, 32, 8, 32768),  # 7.25B
    "SmolLM2-135M-Instruct.Q4_1.gguf": ModelDims(576, 1536, 30, 9, 3, 49152, head_dim=64,
                                                 tie_word_embeddings=True),  # 134.5M
}


def published_dims(hub_id: str | None = None, gguf_file: str | None = None) -> ModelDims | None:
    """A shipped preset's shape by its hub id or GGUF file name (None for any other model)."""
    return PUBLISHED_DIMS.get(hub_id or "") or PUBLISHED_DIMS.get(gguf_file or "")


@dataclass(frozen=True)
class TrainShape:
    """How one trial trains, as far as memory is concerned."""

    micro_batch_size: int
    seq_len: int
    lora_r: int
    target_modules: tuple[str, ...] = ALL_LINEAR
    dtype: str = "bfloat16"
    quantization: Quantization = "none"
    optimizer: str = "adamw_torch"
    gradient_checkpointing: bool = False
    lora_dropout: float = 0.0
    use_dora: bool = False
    sequences_per_example: int = 1  # ORPO keeps chosen and rejected in memory: 2

    @property
    def dtype_bytes(self) -> int:
        if self.dtype not in _DTYPE_BYTES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPE_BYTES)}, but got dtype={self.dtype!r}.")
        return _DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak, in MiB, split by what holds the memory."""

    weights_mb: float
    lora_state_mb: float
    activations_mb: float
    logits_mb: float

    @property
    def peak_mb(self) -> float:
        """Live tensors at the peak: compare with `torch.cuda.max_memory_allocated`."""
        return self.weights_mb + self.lora_state_mb + self.activations_mb + self.logits_mb

    def gpu_mb(self, context_mb: float = CUDA_CONTEXT_MB, margin: float = ALLOCATOR_MARGIN) -> float:
        """What the trial takes from the GPU: peak + allocator fragmentation + CUDA context."""
        return self.peak_mb * (1 + margin) + context_mb

    def as_dict(self) -> dict[str, float]:
        return {"weights_mb": round(self.weights_mb, 1), "lora_state_mb": round(self.lora_state_mb, 1),
                "activations_mb": round(self.activations_mb, 1), "logits_mb": round(self.logits_mb, 1),
                "peak_mb": round(self.peak_mb, 1)}


def lora_param_count(dims: ModelDims, r: int, target_modules: tuple[str, ...], use_dora: bool = False) -> int:
    """Trainable parameters of LoRA on `target_modules` in every layer (r x (in + out) each)."""
    shapes = dims.linear_shapes()
    total = 0
    for name in target_modules:
        # An unknown projection name (another architecture's) counts as hidden x hidden.
        n_in, n_out = shapes.get(name, (dims.hidden_size, dims.hidden_size))
        total += r * (n_in + n_out) + (n_out if use_dora else 0)
    return total * dims.num_layers


def estimate(dims: ModelDims, shape: TrainShape) -> MemoryEstimate:
    """Peak memory of one training step of LoRA on `dims` trained as `shape`.

    Monotone by construction: more micro batch, sequence, rank, targets or layers never
    lowers it; gradient checkpointing and quantization never raise it.
    """
    if shape.micro_batch_size < 1 or shape.seq_len < 1 or shape.lora_r < 1:
        raise ValueError(f"micro_batch_size, seq_len and lora_r must be >= 1, but got {shape=}.")
    b = shape.dtype_bytes
    h, i, layers = dims.hidden_size, dims.intermediate_size, dims.num_layers
    tokens = shape.micro_batch_size * shape.sequences_per_example * shape.seq_len

    linear = layers * dims.layer_linear_params()
    if shape.quantization == "none":
        weights = dims.n_params * b
    else:
        weights = linear * _QUANT_BYTES[shape.quantization] + dims.other_params() * 4

    n_lora = lora_param_count(dims, shape.lora_r, shape.target_modules, shape.use_dora)
    opt = _OPTIMIZER_BYTES.get(shape.optimizer, 8)
    lora_state = n_lora * (4 + 4 + opt)  # fp32 params + fp32 grads + optimizer state

    # Kept for backward, per token, by one layer (frozen linears need no saved input; the LoRA
    # A matrices, element-wise ops and attention do): the two RMSNorms' inputs and outputs
    # (16-bit inputs are upcast to fp32 first), q and k/v (counted as repeated to all heads, as
    # transformers does when SDPA cannot use GQA natively), the attention output and its
    # contiguous copy for o_proj, the SwiGLU MLP's gate, up, act(gate) and product, and ~2h more.
    # Calibrated on CPU with a live-tensor counter (docs/ray.md): fp32 within 1%.
    norms = 2 * 2 * h * b if b >= 4 else 2 * (4 * h + b * h)
    per_layer = b * (2 * h + 5 * dims.q_dim + 4 * i) + norms
    if shape.lora_dropout > 0:
        shapes = dims.linear_shapes()
        per_layer += sum((b + 1) * shapes.get(n, (h, h))[0] for n in shape.target_modules)  # copy + mask
    backward = b * (2 * h + 2 * i)  # one layer's activation gradients in flight
    if shape.gradient_checkpointing:
        # each layer keeps ~5h values per token (measured, non-reentrant checkpointing); the layer
        # being recomputed during backward comes after the logits are freed, so only the larger
        # of the two phases counts
        stored = layers * CKPT_VALUES_PER_TOKEN_LAYER * h * b
        backward += per_layer
    else:
        stored = layers * per_layer
    # logits (dtype) -> fp32 copy / reshape copy -> log-softmax kept -> gradients: measured
    # 17 bytes per element in fp32, 14.5 in bf16
    logits = tokens * dims.vocab_size * (b + 13)
    activations = tokens * (stored + b * h) + max(0, tokens * backward - logits)  # + embedding output
    if shape.use_dora:
        # DoRA materialises W + BA of one projection (fp32) to take its norm.
        activations += max(a * c for a, c in dims.linear_shapes().values()) * 4

    return MemoryEstimate(weights / MIB, lora_state / MIB, activations / MIB, logits / MIB)


def choose_micro_batch(dims: ModelDims, shape: TrainShape, budget_mb: float,
                       effective_batch_size: int | None = None, *, context_mb: float = CUDA_CONTEXT_MB,
                       margin: float = ALLOCATOR_MARGIN) -> int | None:
    """The largest micro batch <= `shape.micro_batch_size` whose trial fits `budget_mb`.

    With `effective_batch_size`, only its divisors are candidates (micro x accumulation must
    equal the effective batch). None when not even micro batch 1 fits.
    """
    for m in range(shape.micro_batch_size, 0, -1):
        if effective_batch_size is not None and effective_batch_size % m:
            continue
        if estimate(dims, replace(shape, micro_batch_size=m)).gpu_mb(context_mb, margin) <= budget_mb:
            return m
    return None


def gpu_fraction(need_mb: float, gpu_memory_mb: float, step: float = GPU_FRACTION_STEP) -> float:
    """Ray GPU request for a trial needing `need_mb`: rounded up to `step`, at most 1."""
    if gpu_memory_mb <= 0:
        raise ValueError(f"gpu_memory_mb must be > 0, but got {gpu_memory_mb=}.")
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1], but got {step=}.")
    steps = math.ceil(round(need_mb / gpu_memory_mb / step, 6))
    return round(min(1.0, max(1, steps) * step), 6)  # 0.15, not 0.15000000000000002


# --------------------------------------------------------------------------- per sweep


@dataclass(frozen=True)
class Placement:
    """What the driver decides for one trial before it starts."""

    micro_batch_cap: int | None  # None: no GPU, no cap (the trainer's OOM fallback still applies)
    estimated_peak_mb: float | None  # live-tensor peak at the micro batch the trial will start with
    gpus: float  # Ray GPU request (0 without GPUs)
    fits: bool = True  # False: not even micro batch 1 fits the budget (the trial gets a whole GPU)


def visible_gpu_memory_mb() -> float | None:
    """Total memory of this process's first CUDA device, None without CUDA."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).total_memory / MIB
    except Exception:  # noqa: BLE001 - a broken driver means no GPU here, not a crash
        pass
    return None


class Planner:
    """Placement for every trial of one sweep; callable as `SweepContext.memory_cap`.

    Args:
        cfg: the sweep's config (model, data.max_seq_len, train.*, executor.*).
        gpu_memory_mb: memory of one GPU in MiB; "auto" reads `executor.gpu_memory_gb`, else the
            CUDA device of this process; None: no GPU (estimate only, no cap, CPUs only).
        dims: model dimensions; None reads the model's config.json on first use.
        seq_len: the longest encoded example (a micro batch is padded to its longest example,
            so this is the worst case); None: `data.max_seq_len`. On SmolLM2 with the sample
            data the plan at `max_seq_len` was 1.85x the measured peak (benchmarks/).
    """

    def __init__(self, cfg: Any, *, gpu_memory_mb: float | None | Literal["auto"] = "auto",
                 dims: ModelDims | None = None, seq_len: int | None = None):
        self.cfg = cfg
        self.seq_len = min(seq_len, cfg.data.max_seq_len) if seq_len else cfg.data.max_seq_len
        if gpu_memory_mb == "auto":
            gb = cfg.executor.gpu_memory_gb
            gpu_memory_mb = gb * 1024 if gb else visible_gpu_memory_mb()
        self.gpu_memory_mb = gpu_memory_mb
        self._dims = dims
        self._dims_error: str | None = None

    @property
    def dims(self) -> ModelDims | None:
        """The model's dimensions, or None when its config cannot be read (estimate skipped)."""
        if self._dims is None and self._dims_error is None:
            m = self.cfg.model
            try:
                self._dims = ModelDims.from_pretrained(models.resolve(m), trust_remote_code=m.trust_remote_code,
                                                       revision=m.revision)
            except Exception as exc:  # noqa: BLE001 - no estimate is a degraded plan, not a failure
                # a shipped hub preset whose config.json is not here yet: its published shape
                self._dims = published_dims(m.hub_id, m.gguf.file if m.gguf else None)
                if self._dims is None:
                    self._dims_error = f"{type(exc).__name__}: {exc}"
        return self._dims

    def shape(self, params: Any, micro: int) -> TrainShape:
        cfg = self.cfg
        dtype = cfg.model.dtype
        if dtype == "auto":
            dtype = auto_dtype(bool(self.gpu_memory_mb))  # as sweep.backends.peft picks it
        targets = tuple(cfg.model.target_modules.get(params.target_modules, ALL_LINEAR))
        return TrainShape(micro_batch_size=micro, seq_len=self.seq_len, lora_r=params.lora_r,
                          target_modules=targets, dtype=dtype,
                          quantization="4bit" if cfg.model.load_in_4bit else "none",
                          optimizer=params.optimizer, gradient_checkpointing=cfg.train.gradient_checkpointing,
                          lora_dropout=params.lora_dropout, use_dora=params.use_dora,
                          sequences_per_example=2 if cfg.objective == "orpo" else 1)

    def plan(self, params: Any) -> Placement:
        """Micro batch cap, estimate and GPU request for one trial's sampled `params`."""
        cfg = self.cfg
        effective = params.effective_batch_size
        wanted = largest_divisor_at_most(effective, max(cfg.train.micro_batch_size, 1))
        dims = self.dims
        explicit = cfg.executor.gpus_per_trial
        if dims is None:
            gpus = (explicit or 1.0) if self.gpu_memory_mb else 0.0
            return Placement(None, None, gpus)
        if not self.gpu_memory_mb:
            return Placement(None, estimate(dims, self.shape(params, wanted)).peak_mb, 0.0)
        budget = self.gpu_memory_mb * min(explicit, 1.0) if explicit else self.gpu_memory_mb
        micro = choose_micro_batch(dims, self.shape(params, wanted), budget, effective)
        fits = micro is not None
        micro = micro or 1
        est = estimate(dims, self.shape(params, micro))
        if explicit:
            gpus = float(explicit)
        else:
            gpus = gpu_fraction(est.gpu_mb(), self.gpu_memory_mb) if fits else 1.0
        return Placement(micro, est.peak_mb, gpus, fits)

    def __call__(self, params: Any) -> int | None:
        """The `SweepContext.memory_cap` contract: largest micro batch that fits, None without a GPU."""
        if not self.gpu_memory_mb:
            return None  # nothing to cap: skip reading the model's config
        return self.plan(params).micro_batch_cap


# --------------------------------------------------------------------------- measured


def reset_peak_memory(device: Any = None) -> None:
    """Start a trial's peak-memory measurement (a process may run several trials: inline)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device if device is not None and device.type == "cuda" else None)
    try:  # Linux: "5" resets the process's peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_memory_mb(device: Any) -> float:
    """GPU: peak allocated by torch; CPU: the process's peak resident set size since the last
    `reset_peak_memory` (Linux; elsewhere the process's lifetime peak)."""
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # KiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class LiveTensorPeak:
    """Peak bytes of tensors created inside the block (a CPU stand-in for CUDA's allocator
    stats): every op output's storage counts from its creation until it is freed."""

    def __enter__(self):
        import weakref

        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_flatten

        tracker = self
        self.live = self.peak = 0
        seen: dict[int, int] = {}

        def free(key: int, n: int) -> None:
            tracker.live -= n
            seen.pop(key, None)

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in tree_flatten(out)[0]:
                    if isinstance(t, torch.Tensor):
                        st = t.untyped_storage()
                        key = st.data_ptr()
                        if key and key not in seen:
                            seen[key] = st.nbytes()
                            tracker.live += seen[key]
                            tracker.peak = max(tracker.peak, tracker.live)
                            weakref.finalize(st, free, key, seen[key])
                return out

        self.mode = Mode()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        self.mode.__exit__(*exc)


__all__ = [
    "ALL_LINEAR", "PUBLISHED_DIMS", "LiveTensorPeak", "MemoryEstimate", "ModelDims", "Placement", "Planner",
    "TrainShape", "published_dims",
    "choose_micro_batch", "estimate", "gpu_fraction", "lora_param_count", "peak_memory_mb", "reset_peak_memory",
    "visible_gpu_memory_mb",
]
