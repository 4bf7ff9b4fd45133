"""`python -m sweep.plan use_case=... [model=...] [gpu_memory_gb=...] [examples=...]`.

From a use case to a sweep: prints what to try before fine-tuning, the data the use case
needs, the objective, the search space (search_spaces/<use case>.yaml), pitfalls, and the exact
`python -m sweep ...` command with a budget sized from the dataset (`examples`) and the GPU
(`gpu_memory_gb`). docs/ROADMAP.md holds the reasoning and the evidence behind every number.

Arguments are `key=value` (parsed here, not by Hydra). Bad input (unknown use case, model or
key, a value that is not a positive number, a model that does not fit the GPU even in 4-bit)
stops with one line and exit status 2.

Budget rules (each one explained in docs/ROADMAP.md, "Budget"):
- steps per trial = ceil(epochs x examples / 16) with the use case's epochs (Unsloth: 1-3),
  at least `MIN_TRIAL_STEPS` (so the pruner sees several evals; never more than `MAX_EPOCHS`
  passes) and at most `MAX_TRIAL_STEPS` (large sets: the sweep ranks settings on a prefix;
  lr and batch rank early, rank late; knowledge keeps whole epochs, fewer of them, because
  the held-out questions ask about every fact);
- n_trials = Optuna's random start-up trials + 4 per searched dimension, halved (never below
  12) when a trial is capped at `MAX_TRIAL_STEPS`;
- eval every ~1/10 of a trial; no pruning before 20% of it (`pruner.n_warmup_steps`, any
  pruner; Oliver & Wang 2024: 4 of the top-5 configurations at 20% of training were still
  top-5 at the end);
- 16-bit LoRA when a micro batch of the base model fits the GPU, else QLoRA
  (`model.load_in_4bit=true`), else a `ConfigError` naming a smaller preset; memory from the
  engine's own estimate (`sweep.memory`, the one that places every trial).
"""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweep import memory, search_space
from sweep.config import CONF_DIR, conf_options, user_conf_dir
from sweep.errors import ConfigError, Problem, Problems
from sweep.use_cases import COMMON_PITFALLS, USE_CASES, UseCase

ROADMAP = "docs/ROADMAP.md"
DEFAULT_MODEL = "tiny_llama"  # without model=: a plan that runs offline in seconds on a CPU (the sweep's own default, smollm2, brings its CPU demo budget)
ASSUMED_GPU_GB = 24.0  # when a real model is named without gpu_memory_gb
ASSUMED_PARAMS_B = 7.0  # a preset whose size cannot be read from its name
ASSUMED_EXAMPLES = 1000
PLANNING_BATCH = 16  # QLoRA's effective batch, the middle of every shipped space
MIN_TRIAL_STEPS = 30
MAX_TRIAL_STEPS = 1000
MAX_EPOCHS = 5  # never stretch a tiny set beyond this to reach MIN_TRIAL_STEPS
FEW_EXAMPLES = 100
STARTUP_TRIALS = 5  # conf/sampler/tpe.yaml n_startup_trials
TRIALS_PER_DIM = 4
MIN_TRIALS, MAX_TRIALS = 12, 40
EVALS_PER_TRIAL = 10
PRUNE_AFTER = 0.2
# GPU memory comes from the engine's one memory model (sweep/memory.py, the same estimate that
# places every trial): the model's shape (its config.json, or a shipped preset's published shape,
# or a Llama-shaped model of the given size), LoRA r 16 on all linear layers at the sequence
# length below, bf16 weights or NF4 (QLoRA), with the CUDA context and allocator margin.
PLANNING_SEQ_LEN = 256  # data.max_seq_len's default
PLANNING_RANK = 16
MICRO_BATCHES = 8  # the largest micro batch the plan starts from (train.micro_batch_size's default)
RETRAIN = "python -m sweep.retrain from=<study folder>/best.yaml num_epochs={epochs}"
ALLOWED_KEYS = ("use_case", "model", "gpu_memory_gb", "examples", "params_b")


@dataclass(frozen=True)
class Plan:
    """The recommendation for one use case, model, GPU and dataset size."""

    use_case: UseCase
    model: str
    model_desc: str
    params_b: float
    gpu_memory_gb: float | None
    gpu_assumed: bool
    examples: int
    examples_assumed: bool
    quantized: bool
    memory_note: str
    micro_batch_size: int | None
    gradient_checkpointing: bool
    searched: tuple[str, ...]
    steps_per_epoch: int
    budget_key: str  # num_epochs | max_steps
    budget_value: int
    trial_steps: int
    n_trials: int
    eval_every: int
    prune_after: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def overrides(self) -> list[str]:
        """The `python -m sweep` overrides, in the order they are printed."""
        uc = self.use_case
        out = [f"model={self.model}", f"data={uc.data_preset}", f"objective={uc.objective}",
               f"search_space={uc.search_space}", f"n_trials={self.n_trials}",
               f"+fixed.{self.budget_key}={self.budget_value}", f"train.eval_every={self.eval_every}",
               f"pruner.n_warmup_steps={self.prune_after}"]
        if self.quantized:
            out.append("model.load_in_4bit=true")
        if self.micro_batch_size is not None:
            out.append(f"train.micro_batch_size={self.micro_batch_size}")
        if self.gradient_checkpointing:
            out.append("train.gradient_checkpointing=true")
        out.append(f"study_name={uc.name}_{self.model}")
        return out

    def command(self) -> str:
        return "python -m sweep " + " ".join(shlex.quote(o) for o in self.overrides())


# --------------------------------------------------------------------------- parsing


def parse_args(args: list[str], problems: Problems | None = None) -> dict[str, str]:
    """Split `key=value` arguments.

    Args:
        args: command-line words, e.g. ["use_case=knowledge", "examples=260"].
        problems: where to collect problems (no '=', unknown or repeated key, no use_case);
            the caller raises, so value problems found later join the same error. None: raise
            here.

    Returns:
        The raw values by key (unvalidated strings).

    Raises:
        ConfigError: only when `problems` is None and something is wrong.
    """
    own = problems is None
    problems = Problems() if problems is None else problems
    out: dict[str, str] = {}
    for a in args:
        key, sep, value = a.partition("=")
        if not sep or not key:
            problems.add("argument", a, "write arguments as key=value, e.g. use_case=knowledge")
        elif key not in ALLOWED_KEYS:
            problems.add(key, value, f"unknown argument; known: {', '.join(ALLOWED_KEYS)}")
        elif key in out:
            problems.add(key, value, f"given twice (first {out[key]!r}); give it once")
        else:
            out[key] = value
    if "use_case" not in out:
        problems.add("use_case", None, f"is required; choose one of {', '.join(USE_CASES)}")
    if own:
        problems.raise_if_any()
    return out


def _positive(key: str, raw: str | None, kind: type, problems: Problems) -> Any:
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        problems.add(key, raw, f"must be a positive {'integer' if kind is int else 'number'}")
        return None
    if not math.isfinite(value) or value <= 0:
        problems.add(key, raw, f"must be a positive {'integer' if kind is int else 'number'}")
        return None
    return value


def model_presets() -> list[str]:
    return conf_options("model")


def read_preset(name: str) -> dict[str, Any]:
    """conf/model/<name>.yaml as a plain dict; an unknown name lists the presets."""
    found = [d / "model" / f"{name}.yaml" for d in (user_conf_dir(), CONF_DIR) if d is not None]
    path = next((f for f in found if f.is_file()), found[-1])
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not path.is_file():
        raise ConfigError(Problem("model", name, f"unknown model preset; choose one of {', '.join(model_presets())}"))
    return yaml.safe_load(path.read_text()) or {}


def params_billions(preset: dict[str, Any]) -> float | None:
    """Parameter count in billions: ~0 for tiny presets, else read from the hub id or path."""
    if preset.get("tiny"):
        return 0.0
    name = str(preset.get("hub_id") or preset.get("path") or "")
    m = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)[bB](?![a-zA-Z0-9])", name.replace("-", " ").replace("/", " "))
    return float(m.group(1)) if m else None


def space_dimensions(name: str) -> tuple[str, ...]:
    """Names of the searched parameters of a shipped space (validated by the real parser)."""
    return tuple(p.name for p in search_space.load(name, targets=("attention", "all_linear")).params)


# --------------------------------------------------------------------------- planning


def model_dims(model: str, preset: dict[str, Any], params_b: float | None) -> tuple[memory.ModelDims | None, str]:
    """The shape the plan sizes memory with, and where it came from: `params_b=` (a Llama-shaped
    model of that size) wins; else a local folder's config.json; else the preset's published
    shape; else a Llama-shaped model of the size in its name."""
    if params_b is not None and params_b > 0 and not preset.get("tiny"):
        return memory.ModelDims.llama_like(params_b), f"a Llama-shaped {params_b:g}B model"
    path = preset.get("path")
    if path and (Path(path) / "config.json").is_file():
        return memory.ModelDims.from_pretrained(path), f"{path}/config.json"
    gguf = preset.get("gguf") or {}
    dims = memory.published_dims(preset.get("hub_id"), gguf.get("file"))
    if dims is not None:
        return dims, "its published config"
    return None, ""


def choose_precision(model: str, dims: memory.ModelDims, gpu_gb: float,
                     sequences_per_example: int = 1) -> tuple[bool, str, int, bool]:
    """16-bit LoRA if a micro batch fits, else QLoRA; gradient checkpointing only when not even
    micro batch 1 fits without it (sweep.memory.estimate at PLANNING_SEQ_LEN).

    Returns:
        (quantize?, one-line explanation, micro batch, gradient checkpointing?).

    Raises:
        ConfigError: not even the 4-bit model fits at micro batch 1 with checkpointing.
    """
    budget_mb = gpu_gb * 1024
    need: dict[str, float] = {}
    for quant in ("none", "4bit"):
        for ckpt in (False, True):
            shape = memory.TrainShape(micro_batch_size=MICRO_BATCHES, seq_len=PLANNING_SEQ_LEN,
                                      lora_r=PLANNING_RANK, dtype="bfloat16", quantization=quant,
                                      gradient_checkpointing=ckpt, sequences_per_example=sequences_per_example)
            micro = memory.choose_micro_batch(dims, shape, budget_mb, PLANNING_BATCH)
            one = dataclasses.replace(shape, micro_batch_size=micro or 1)
            need[quant] = min(need.get(quant, math.inf), memory.estimate(dims, one).gpu_mb() / 1024)
            if micro is None:
                continue
            gb = memory.estimate(dims, one).gpu_mb() / 1024
            what = f"micro batch {micro}" + (" with gradient checkpointing" if ckpt else "")
            if quant == "none":
                return False, (f"16-bit LoRA fits: ~{gb:.1f} GB of {gpu_gb:g} GB at {what} (QLoRA not "
                               "needed; it would save memory at some speed cost)"), micro, ckpt
            return True, (f"16-bit LoRA needs ~{need['none']:.1f} GB > {gpu_gb:g} GB: use QLoRA "
                          f"(model.load_in_4bit=true, NF4 base weights, ~{gb:.1f} GB at {what})"), micro, ckpt
    smaller = [p for p in model_presets() if p != model]
    raise ConfigError(Problem("gpu_memory_gb", gpu_gb,
                              f"model={model} (~{dims.n_params / 1e9:.2g}B) needs ~{need['4bit']:.1f} GB even in "
                              f"4-bit; use a bigger GPU or a smaller preset ({', '.join(smaller)})"))


def budget(uc: UseCase, examples: int, n_dims: int) -> tuple[int, str, int, int, int, tuple[str, ...]]:
    """Trial length and count from the dataset size.

    Returns:
        (steps per epoch, "num_epochs" or "max_steps", its value, steps per trial, n_trials,
        notes explaining any cap or floor).
    """
    per_epoch = math.ceil(examples / PLANNING_BATCH)
    steps = per_epoch * uc.epochs
    notes: list[str] = []
    n_trials = STARTUP_TRIALS + TRIALS_PER_DIM * n_dims
    if steps > MAX_TRIAL_STEPS and uc.full_pass:
        # A prefix of the data would hold only some facts while the held-out questions ask about
        # all of them: keep whole epochs, fewer of them.
        value = max(1, MAX_TRIAL_STEPS // per_epoch)
        key, steps = "num_epochs", per_epoch * value
        n_trials = max(MIN_TRIALS, n_trials // 2)
        notes.append(f"{examples} examples: trials run {value} of {uc.epochs} epochs (every fact must be "
                     f"seen before the held-out questions mean anything); retrain the winner for "
                     f"{uc.epochs} epochs: {RETRAIN.format(epochs=uc.epochs)}")
    elif steps > MAX_TRIAL_STEPS:
        key, value, steps = "max_steps", MAX_TRIAL_STEPS, MAX_TRIAL_STEPS
        n_trials = max(MIN_TRIALS, n_trials // 2)
        notes.append(f"{examples} examples x {uc.epochs} epochs = {per_epoch * uc.epochs} steps: each "
                     f"trial is capped at {MAX_TRIAL_STEPS} steps (lr and batch rank early, rank late); "
                     f"retrain the winner for {uc.epochs} full epochs: {RETRAIN.format(epochs=uc.epochs)}")
    elif steps < min(MIN_TRIAL_STEPS, per_epoch * MAX_EPOCHS):
        floor = min(MIN_TRIAL_STEPS, per_epoch * MAX_EPOCHS)
        key, value, steps = "max_steps", floor, floor
        notes.append(f"only {examples} examples: {floor} steps per trial "
                     f"(~{floor / per_epoch:.0f} epochs) so pruning has evals to compare; "
                     "more data (paraphrases) beats more epochs")
    else:
        key, value = "num_epochs", uc.epochs
    if examples < FEW_EXAMPLES:
        notes.append(f"fewer than {FEW_EXAMPLES} examples: expect a noisy eval loss; prompting with "
                     "these examples (or model editing for a handful of facts) may be enough")
    n_trials = min(MAX_TRIALS, max(MIN_TRIALS, n_trials))
    return per_epoch, key, value, steps, n_trials, tuple(notes)


def make_plan(raw: dict[str, str], problems: Problems | None = None) -> Plan:
    """Validate the argument values and size the sweep.

    Args:
        raw: values from `parse_args`.
        problems: problems already found while parsing; every problem is raised together.

    Returns:
        The plan: precision, micro batch, budget, trials, eval and pruning cadence.

    Raises:
        ConfigError: unknown use case or model preset, a value that is not a positive number,
            or a model that does not fit `gpu_memory_gb` even in 4-bit.
    """
    problems = Problems() if problems is None else problems
    name = raw.get("use_case")
    if name is not None and name not in USE_CASES:
        problems.add("use_case", name, f"unknown use case; choose one of {', '.join(USE_CASES)}")
    model = raw.get("model", DEFAULT_MODEL)
    preset: dict[str, Any] = {}
    try:
        preset = read_preset(model)
    except ConfigError as exc:
        problems.items.extend(exc.problems)
    gpu = _positive("gpu_memory_gb", raw.get("gpu_memory_gb"), float, problems)
    examples = _positive("examples", raw.get("examples"), int, problems)
    override_b = _positive("params_b", raw.get("params_b"), float, problems)
    problems.raise_if_any()
    uc = USE_CASES[name]
    notes: list[str] = []
    dims, source = model_dims(model, preset, override_b)
    params_b = override_b if override_b is not None else (
        float(f"{dims.n_params / 1e9:.3g}") if dims is not None else params_billions(preset))
    if params_b is None:
        params_b = ASSUMED_PARAMS_B
        notes.append(f"model size not in the preset's name: assuming {ASSUMED_PARAMS_B:g}B (pass params_b=)")
    if dims is None and params_b:
        dims, source = memory.ModelDims.llama_like(params_b), f"a Llama-shaped {params_b:g}B model"
    desc = preset.get("hub_id") or preset.get("path") or (preset.get("gguf") or {}).get("file") or "built locally"
    quantized, micro, ckpt = False, None, False
    gpu_assumed = False
    if params_b == 0.0 or dims is None:
        memory_note = "toy model: runs on CPU, no GPU needed"
    else:
        if gpu is None:
            gpu, gpu_assumed = ASSUMED_GPU_GB, True
        # ORPO holds a chosen and a rejected sequence per example
        quantized, memory_note, micro, ckpt = choose_precision(model, dims, gpu,
                                                               2 if uc.objective == "orpo" else 1)
        memory_note += f"; shape: {source}"
        if quantized:
            notes.append("QLoRA used paged AdamW against memory spikes: add "
                         "+fixed.optimizer=paged_adamw_8bit (bitsandbytes, GPU) if OOMs persist")
    examples_assumed = examples is None
    n = ASSUMED_EXAMPLES if examples is None else examples
    dims = space_dimensions(uc.search_space)
    per_epoch, key, value, steps, n_trials, budget_notes = budget(uc, n, len(dims))
    eval_every = max(1, steps // EVALS_PER_TRIAL)
    return Plan(use_case=uc, model=model, model_desc=str(desc), params_b=params_b, gpu_memory_gb=gpu,
                gpu_assumed=gpu_assumed, examples=n, examples_assumed=examples_assumed,
                quantized=quantized, memory_note=memory_note, micro_batch_size=micro,
                gradient_checkpointing=ckpt, searched=dims, steps_per_epoch=per_epoch,
                budget_key=key, budget_value=value, trial_steps=steps, n_trials=n_trials,
                eval_every=eval_every, prune_after=max(1, math.ceil(PRUNE_AFTER * steps)),
                notes=tuple(notes) + budget_notes)


# --------------------------------------------------------------------------- output


def render(p: Plan) -> str:
    """The printed recommendation, ending with the `python -m sweep ...` command."""
    uc = p.use_case
    size = "toy size" if p.params_b == 0 else f"~{p.params_b:g}B parameters"
    gpu = "" if p.gpu_memory_gb is None else (
        f", GPU {p.gpu_memory_gb:g} GB" + (" (assumed; pass gpu_memory_gb=)" if p.gpu_assumed else ""))
    ex = f"{p.examples} examples" + (" (assumed; pass examples=)" if p.examples_assumed else "")
    lines = [
        f"use case: {uc.title}",
        f"model: {p.model} ({p.model_desc}, {size}){gpu}",
        f"  memory: {p.memory_note}",
        f"before fine-tuning: {uc.before_finetuning}",
        f"data: {uc.data}",
        f"objective: {uc.objective}",
        f"search space: search_spaces/{uc.search_space}.yaml, searching {', '.join(p.searched)}",
        f"budget: {ex} -> ~{p.steps_per_epoch} steps/epoch at effective batch {PLANNING_BATCH}; "
        f"{p.budget_key}={p.budget_value} -> ~{p.trial_steps} steps per trial; {p.n_trials} trials; "
        f"eval every {p.eval_every} step(s), pruning from step {p.prune_after}",
        *(f"  note: {n}" for n in p.notes),
        "pitfalls:",
        *(f"  - {t}" for t in (*uc.pitfalls, *COMMON_PITFALLS)),
        f"evidence: {ROADMAP}#{uc.anchor}",
        "",
        "run:",
        f"  {p.command()}",
        f"with your data: add data.path=TRAIN (any format README 'Your own data' lists, e.g. that of "
        f"data={uc.data_preset}; 10% is held out for eval, or add data.eval_path=HELD_OUT)",
    ]
    return "\n".join(lines)


__all__ = ["USE_CASES", "Plan", "UseCase", "make_plan", "parse_args", "render"]
