"""Search spaces: YAML files in Optuna's vocabulary, and the per-trial settings they fill.

A space file has three parts:

    params:   # searched, Optuna's vocabulary
      learning_rate: {type: float, low: 1.0e-5, high: 2.0e-3, log: true}
      lora_r: {type: categorical, choices: [8, 16, 32]}
    fixed:    # pinned by this space (training length, for instance)
      max_steps: 60
    enqueue:  # known-good configurations tried first (e.g. the Unsloth-guide defaults)
      - {learning_rate: 2.0e-4, lora_r: 16}

`TrialParams` is the vocabulary: every per-trial setting, with the published priors as defaults
(../shared/DESIGN.md). Precedence: defaults < space `fixed` < `+fixed.X=` on the command line
< sampled values; a setting pinned on the command line is removed from the search.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from sweep.config import SEARCH_SPACE_DIR, SweepConfig
from sweep.errors import ConfigError, Problem, Problems
from sweep.schedules import SCHEDULERS
from sweep.templates import TEMPLATES
from sweep.typed import coerce

OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "sgd")


@dataclass(frozen=True)
class TrialParams:
    """Every setting a trial can sample. Defaults follow the Unsloth guide and QLoRA paper."""

    learning_rate: float = 2e-4
    lora_r: int = 16
    lora_alpha: float | None = None  # absolute alpha; None: lora_alpha_ratio * r
    lora_alpha_ratio: float = 1.0  # alpha = r (Unsloth) or 2r
    lora_dropout: float = 0.0
    target_modules: str = "all_linear"  # a key of the model preset's target_modules
    use_rslora: bool = False
    use_dora: bool = False
    effective_batch_size: int = 16  # micro_batch_size x gradient_accumulation_steps
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    lr_scheduler: str = "cosine"
    optimizer: str = "adamw_torch"
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # optimizer steps; None: from num_epochs
    num_epochs: float = 1.0
    chat_template: str | None = None  # None: the data config's template
    orpo_lambda: float = 0.1  # objective=orpo only

    @property
    def alpha(self) -> float:
        return float(self.lora_alpha) if self.lora_alpha is not None else self.lora_alpha_ratio * self.lora_r

    def total_steps(self, n_train: int) -> int:
        """Optimizer steps: `max_steps`, else epochs over `n_train` examples."""
        if self.max_steps is not None:
            return int(self.max_steps)
        return max(1, math.ceil(self.num_epochs * n_train / self.effective_batch_size))


PARAM_NAMES = tuple(f.name for f in dataclasses.fields(TrialParams))
_HINTS = typing.get_type_hints(TrialParams)


def check_param_value(name: str, value: Any, key: str, problems: Problems,
                      targets: typing.Iterable[str] = ()) -> None:
    """Range rules for one setting, shared by sampled, fixed and enqueued values."""
    if value is None:
        return
    num = isinstance(value, int | float) and not isinstance(value, bool)
    if name == "lora_r" and num and value < 1:
        problems.add(key, value, "LoRA rank must be a positive integer (typical 8..128)")
    if name in ("learning_rate", "effective_batch_size", "lora_alpha", "lora_alpha_ratio",
                "num_epochs", "max_grad_norm") and num and value <= 0:
        problems.add(key, value, f"{name} must be > 0")
    if name == "max_steps" and num and value < 1:
        problems.add(key, value, "max_steps must be at least 1")
    if name == "lora_dropout" and num and not 0.0 <= value < 1.0:
        problems.add(key, value, "lora_dropout must be in [0, 1)")
    if name == "warmup_ratio" and num and not 0.0 <= value < 1.0:
        problems.add(key, value, "warmup_ratio must be in [0, 1)")
    if name in ("weight_decay", "orpo_lambda") and num and value < 0:
        problems.add(key, value, f"{name} must be >= 0")
    if name == "optimizer" and value not in OPTIMIZERS:
        problems.add(key, value, f"choose an optimizer from {', '.join(OPTIMIZERS)}")
    if name == "lr_scheduler" and value not in SCHEDULERS:
        problems.add(key, value, f"choose a scheduler from {', '.join(SCHEDULERS)}")
    targets = tuple(targets)
    if name == "target_modules" and targets and value not in targets:
        problems.add(key, value, f"choose target modules from the model preset: {', '.join(targets)}")
    if name == "chat_template":
        if value not in TEMPLATES:
            problems.add(key, value, f"choose a chat template from {', '.join(sorted(TEMPLATES))}")


@dataclass(frozen=True)
class Param:
    """One searched dimension in Optuna's vocabulary."""

    name: str
    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        if self.type == "categorical":
            return list(self.choices)
        if self.step is None and self.type == "float":
            raise ConfigError([_p(f"search_space.params.{self.name}", "float without step",
                                  "the grid sampler needs choices, or a step for floats")])
        step = self.step or 1
        n = int(round((self.high - self.low) / step)) + 1
        vals = [self.low + i * step for i in range(n)]
        return [int(v) for v in vals] if self.type == "int" else vals


def _p(key: str, value: Any, fix: str):
    return Problem(key, value, fix)


@dataclass(frozen=True)
class SearchSpace:
    """The parsed space: searched params, pinned values and configurations to try first."""

    source: str
    params: tuple[Param, ...]
    fixed: dict[str, Any]
    enqueue: tuple[dict[str, Any], ...] = ()

    def suggest(self, trial: Any) -> TrialParams:
        """Sample every searched dimension on an Optuna trial (or FixedTrial)."""
        values = dict(self.fixed)
        for p in self.params:
            values[p.name] = p.suggest(trial)
        return make_params(values)

    def from_values(self, values: dict[str, Any]) -> TrialParams:
        """TrialParams for already-sampled values (e.g. a finished trial's params)."""
        return make_params({**self.fixed, **values})

    def grid(self) -> dict[str, list[Any]]:
        return {p.name: p.grid_values() for p in self.params}

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {p.name: {k: v for k, v in dataclasses.asdict(p).items()
                                if k != "name" and v is not None and v != () and v is not False}
                       for p in self.params},
            "fixed": dict(self.fixed),
            "enqueue": [dict(e) for e in self.enqueue],
        }


def make_params(values: dict[str, Any]) -> TrialParams:
    return TrialParams(**values)


def resolve_path(name_or_path: str) -> Path:
    """`search_space=NAME` -> ./search_spaces/NAME.yaml where the user runs (their own), else the
    shipped search_spaces/NAME.yaml; a path to a YAML file works too."""
    p = Path(name_or_path).expanduser()
    if p.suffix in (".yaml", ".yml") or "/" in name_or_path:
        return p.resolve()
    own = Path.cwd() / "search_spaces" / f"{name_or_path}.yaml"
    return own.resolve() if own.is_file() else SEARCH_SPACE_DIR / f"{name_or_path}.yaml"


def load(name_or_path: str, *, cli_fixed: dict[str, Any] | None = None,
         targets: typing.Iterable[str] = ()) -> SearchSpace:
    """Read and validate a search space file; every problem is reported at once."""
    path = resolve_path(name_or_path)
    if not path.is_file():
        known = sorted(p.stem for p in SEARCH_SPACE_DIR.glob("*.yaml"))
        raise ConfigError([_p("search_space", name_or_path,
                              f"no such file {path}; use one of {', '.join(known)} or a path to a YAML file")])
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{path}:{line + 1}" if line is not None else str(path)
        raise ConfigError([_p("search_space", where, f"not valid YAML ({getattr(exc, 'problem', exc)})")]) from None
    return parse(raw, source=str(path), cli_fixed=cli_fixed or {}, targets=targets)


def load_for_config(cfg: SweepConfig) -> SearchSpace:
    """The search space a sweep config names, with its `fixed` pins and the model's target-module keys."""
    return load(cfg.search_space, cli_fixed=cfg.fixed, targets=cfg.model.target_modules.keys())


def parse(raw: Any, *, source: str = "<dict>", cli_fixed: dict[str, Any] | None = None,
          targets: typing.Iterable[str] = ()) -> SearchSpace:
    problems = Problems()
    targets = tuple(targets)
    cli_fixed = dict(cli_fixed or {})
    if not isinstance(raw, dict):
        problems.add("search_space", source, "must be a mapping with params / fixed / enqueue")
        problems.raise_if_any()
    for key in raw:
        if key not in ("params", "fixed", "enqueue", "description"):
            problems.add(f"search_space.{key}", raw[key], "unknown section; use params, fixed, enqueue")
    params: list[Param] = []
    for name, spec in (raw.get("params") or {}).items():
        key = f"search_space.params.{name}"
        if name not in PARAM_NAMES:
            problems.add(key, spec, f"unknown parameter; known: {', '.join(PARAM_NAMES)}")
            continue
        if name in cli_fixed:
            continue  # pinned on the command line: not searched
        p = _parse_param(name, spec, key, problems, targets)
        if p is not None:
            params.append(p)
    fixed: dict[str, Any] = {}
    for source_name, section in (("search_space.fixed", raw.get("fixed") or {}), ("fixed", cli_fixed)):
        if not isinstance(section, dict):
            problems.add(source_name, section, "must be a mapping of setting: value")
            continue
        for name, value in section.items():
            key = f"{source_name}.{name}"
            if name not in PARAM_NAMES:
                problems.add(key, value, f"unknown setting; known: {', '.join(PARAM_NAMES)}")
                continue
            value = coerce(_HINTS[name], value, key, problems)
            check_param_value(name, value, key, problems, targets)
            fixed[name] = value
    searched = {p.name: p for p in params}
    enqueue: list[dict[str, Any]] = []
    for i, entry in enumerate(raw.get("enqueue") or []):
        key = f"search_space.enqueue[{i}]"
        if not isinstance(entry, dict):
            problems.add(key, entry, "must be a mapping of parameter: value")
            continue
        kept = {}
        for name, value in entry.items():
            if name not in PARAM_NAMES:
                problems.add(f"{key}.{name}", value, f"unknown parameter; known: {', '.join(PARAM_NAMES)}")
            elif name in searched:
                check_param_value(name, value, f"{key}.{name}", problems, targets)
                _check_in_dimension(searched[name], value, f"{key}.{name}", problems)
                kept[name] = value
        enqueue.append(kept)
    if not params and not problems.items:
        problems.add("search_space.params", {}, "a search space needs at least one searched parameter")
    problems.raise_if_any()
    # Effective batch must be reachable by micro x accumulation for every value: positive ints.
    return SearchSpace(source=source, params=tuple(params), fixed=fixed, enqueue=tuple(enqueue))


def _check_in_dimension(p: Param, value: Any, key: str, problems: Problems) -> None:
    """An enqueued value must be one the dimension can take, or Optuna fails at ask time."""
    if p.type == "categorical":
        if value not in p.choices:
            problems.add(key, value, f"not among the choices {list(p.choices)}")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not p.low <= value <= p.high:
        problems.add(key, value, f"must be a number in [{p.low:g}, {p.high:g}]")


def _parse_param(name: str, spec: Any, key: str, problems: Problems,
                 targets: tuple[str, ...]) -> Param | None:
    if not isinstance(spec, dict):
        problems.add(key, spec, "must be a mapping like {type: float, low: 1e-5, high: 1e-3, log: true}")
        return None
    known = {"type", "low", "high", "log", "step", "choices"}
    for k in spec:
        if k not in known:
            problems.add(f"{key}.{k}", spec[k], f"unknown field; use {', '.join(sorted(known))}")
    kind = spec.get("type")
    if kind not in ("float", "int", "categorical"):
        problems.add(f"{key}.type", kind, "type must be float, int or categorical")
        return None
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            problems.add(f"{key}.choices", choices, "give a non-empty list of choices")
            return None
        typed = []
        for c in choices:
            n_before = len(problems.items)
            c = coerce(_HINTS[name], c, f"{key}.choices", problems)
            if len(problems.items) == n_before:
                check_param_value(name, c, f"{key}.choices", problems, targets)
            typed.append(c)
        return Param(name=name, type="categorical", choices=tuple(typed))
    low, high = spec.get("low"), spec.get("high")
    for field_name, v in (("low", low), ("high", high)):
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, int | float):
            problems.add(f"{key}.{field_name}", v, "must be a number")
            return None
    low, high = float(low), float(high)
    log = spec.get("log", False)
    step = spec.get("step")
    if not isinstance(log, bool):
        problems.add(f"{key}.log", log, "must be true or false")
    if low > high:
        problems.add(key, f"low={low:g} > high={high:g}", "swap low and high so that low <= high")
    if log and low <= 0:
        problems.add(f"{key}.low", low, "a log-scale range needs low > 0")
    if log and step is not None:
        problems.add(f"{key}.step", step, "step and log cannot be combined (Optuna)")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float) or step <= 0):
        problems.add(f"{key}.step", step, "step must be a positive number")
    if kind == "int":
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 1):
            problems.add(f"{key}.step", step, "an int range needs an integer step >= 1")
        if not (low.is_integer() and high.is_integer()):
            problems.add(key, f"low={low:g}, high={high:g}", "int ranges need integer bounds")
        low, high = int(low), int(high)
    expected = _HINTS[name]
    base = {t for t in typing.get_args(expected) if t is not type(None)} or {expected}
    if kind == "float" and float not in base:
        problems.add(f"{key}.type", kind, f"{name} is {'/'.join(t.__name__ for t in base)}; use type int or categorical")
    if kind == "int" and not ({int, float} & base):
        problems.add(f"{key}.type", kind, f"{name} is not numeric; use type categorical")
    check_param_value(name, low, f"{key}.low", problems, targets)
    check_param_value(name, high, f"{key}.high", problems, targets)
    return Param(name=name, type=kind, low=low, high=high, log=bool(log),
                 step=float(step) if step is not None and kind == "float" else step)
