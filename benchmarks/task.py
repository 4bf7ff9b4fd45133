"""The fixed benchmark task: a tiny Llama, a frozen copy of the sample data, a discrete LoRA space.

Everything a configuration's eval-loss curve depends on is pinned here, so that the reference
table (built by `benchmarks.reference`) and a live `sweep.engine.run` with the same overrides
train exactly the same thing:

- model: a `tiny_llama` at hidden 128 (2 layers, 4 heads / 2 KV heads, vocab 1024), built once
  with `sweep.models.build_tiny_tokenizer` / `build_tiny_model` and frozen in
  `benchmarks/data/task/model` (the engine's own tiny presets are rebuilt whenever the sample data
  or the chat templates change, which would silently change every curve);
- data: a frozen copy of `sample_data/knowledge_train.jsonl` / `knowledge_eval.jsonl` (260
  training conversations, 52 answerable held-out paraphrases), loss on answers only;
- search space: `benchmarks/space.yaml`, every dimension categorical (168 configurations);
- training: 180 optimizer steps, eval loss every 20 steps, one CPU thread, training seed = the
  sweep's `seed` (the engine trains every trial of a sweep with `cfg.seed`).

A configuration is trained through `sweep.trial.run_trial`, i.e. this project's `Trainer`,
with a reporter that records every eval loss instead of talking to a study.
`python -m benchmarks.task freeze` rebuilds the frozen model and data (then rebuild the table).
"""

from __future__ import annotations

import itertools
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SPACE_FILE = BENCH_DIR / "space.yaml"
DATA_DIR = BENCH_DIR / "data"
REFERENCE_FILE = DATA_DIR / "reference.json"

MAX_STEPS = 180
EVAL_EVERY = 20
TRAIN_SEEDS = (0, 1, 2)
MICRO_BATCH = 8  # the engine's default; curves are bitwise reproducible only at the same micro batch

TASK_DIR = DATA_DIR / "task"
MODEL_DIR = TASK_DIR / "model"
TRAIN_FILE = TASK_DIR / "train.jsonl"
EVAL_FILE = TASK_DIR / "eval.jsonl"

#: Hydra overrides that define the task; a live sweep uses exactly these plus its own.
TASK_OVERRIDES: tuple[str, ...] = (
    "model=tiny_llama",  # its LoRA target modules and template name; the weights come from model.path
    "model.tiny=null",
    f"model.path={MODEL_DIR}",
    "data=sample_chat",
    f"data.path={TRAIN_FILE}",
    f"data.eval_path={EVAL_FILE}",
    f"search_space={SPACE_FILE}",
    f"train.eval_every={EVAL_EVERY}",
    f"train.micro_batch_size={MICRO_BATCH}",
    "train.num_threads=1",
    "eval.behaviour=false",
    "tracker=none",
    "executor=inline",
    "backend=peft",
)


def fingerprint() -> str:
    """sha256 over the frozen model, data and space files: what the table's curves depend on."""
    import hashlib

    h = hashlib.sha256()
    files = sorted(MODEL_DIR.glob("*")) + [TRAIN_FILE, EVAL_FILE, SPACE_FILE]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def task_config(seed: int = 0, output_dir: str = "/tmp/lora_sweep_bench", study_name: str = "bench",
                extra: tuple[str, ...] | list[str] = (), base: tuple[str, ...] | list[str] = TASK_OVERRIDES) -> Any:
    """The task's `SweepConfig`, composed by Hydra exactly as `python -m sweep` would (`base`: another
    table's task overrides, `benchmarks.replay.Table.overrides`)."""
    from sweep.config import load_config

    return load_config([*base, f"seed={seed}", f"output_dir={output_dir}",
                        f"study_name={study_name}", *extra])


def task_space(cfg: Any) -> Any:
    """The task's `SearchSpace`, loaded as the engine loads it."""
    from sweep.search_space import load_for_config

    return load_for_config(cfg)


def config_key(values: dict[str, Any], names: tuple[str, ...] | list[str]) -> str:
    """A canonical, human-readable key of one configuration: `name=value,...` in space order."""
    return ",".join(f"{n}={values[n]!r}" for n in names)


def parse_key(key: str) -> dict[str, Any]:
    """Inverse of `config_key` for the value types of this space (float, int, str)."""
    out: dict[str, Any] = {}
    for part in key.split(","):
        name, _, raw = part.partition("=")
        if raw.startswith("'"):
            out[name] = raw.strip("'")
        elif re.fullmatch(r"-?\d+", raw):
            out[name] = int(raw)
        else:
            out[name] = float(raw)
    return out


def all_configs(space: Any) -> list[dict[str, Any]]:
    """Every configuration of a discrete space, in a fixed (grid) order."""
    names = [p.name for p in space.params]
    grid = space.grid()
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid[n] for n in names))]


@dataclass
class RecordingReporter:
    """A `sweep.training.Reporter` that records eval losses and never prunes."""

    evals: list[tuple[int, float]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    last_step: int = 0

    def report(self, step: int, value: float) -> None:
        self.evals.append((int(step), float(value)))

    def should_prune(self) -> bool:
        return False

    def progress(self, info: dict[str, Any]) -> None:
        self.last_step = int(info.get("step", self.last_step))

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self.attrs.update(attrs)


def train_config(cfg: Any, space: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration for real with seed `cfg.seed`; its eval-loss curve and cost.

    Returns `{"curve": [[step, eval_loss], ...], "status": "ok" | "diverged" | "failed",
    "end_step": last optimizer step run, "train_time_s", "eval_time_s", "wall_s"}`. A diverged
    run (the Trainer's own rule) keeps the curve it had and the step it stopped at.
    """
    import torch

    from sweep import noise
    from sweep.errors import TrialDiverged
    from sweep.trial import run_trial

    if cfg.train.cooldown_steps > 0 and not cfg.train.cooldown_eval_prefix:
        # without the run's own loss at branched reports, `curve` would hold the branches' losses
        raise ValueError("a table with train.cooldown_steps > 0 needs train.cooldown_eval_prefix=true "
                         "(the run itself must be evaluated where a branch reports)")
    torch.set_num_threads(1)
    params = space.from_values(values)
    rep = RecordingReporter()
    t0 = time.perf_counter()
    out: dict[str, Any] = {"status": "ok"}
    try:
        result = run_trial(cfg, params, rep)
        out.update(train_time_s=result["train_time_s"], eval_time_s=result["eval_time_s"],
                   end_step=result["steps"])
        ran = result
    except TrialDiverged as exc:
        m = re.search(r"at step (\d+)", str(exc))
        out.update(status="diverged", reason=str(exc),
                   end_step=int(m.group(1)) if m else (rep.evals[-1][0] if rep.evals else 0))
        ran = getattr(exc, "trial_stats", None) or {}
    # With cooldown branches (train.cooldown_steps, train.cooldown_eval_prefix): `curve` is the run
    # itself at every report, `branch_curve` what the branches reported where they ran.
    prefix = dict(ran.get("prefix_history") or ())
    out["curve"] = [[s, prefix.get(s, v)] for s, v in rep.evals]
    if prefix:
        out["branch_curve"] = [[s, v] for s, v in rep.evals if s in prefix]
        out["branch_steps"] = int(ran.get("branch_steps") or 0)
    rows = noise.rows_of(rep.attrs)
    if rows:
        out["rows"] = rows  # per-row NLL sums of every eval (sweep.noise)
    out["wall_s"] = round(time.perf_counter() - t0, 3)
    if any(not math.isfinite(v) for _, v in rep.evals):
        out["status"] = "diverged"
    return out


def initial_eval_loss(cfg: Any, space: Any) -> float:
    """Eval loss before any training (LoRA's B starts at zero, so this is the base model's).

    The same for every configuration and seed; the denominator of normalised regret.
    """
    import torch

    from sweep import backends, data, models, templates
    from sweep.training import Trainer, TrainSpec
    from sweep.trial import lora_settings

    torch.set_num_threads(1)
    params = space.from_values(all_configs(space)[0])
    model, tok = backends.get("peft").load(models.resolve(cfg.model), cfg.model, lora_settings(cfg, params),
                                           False, cfg.data.max_seq_len)
    tpl = templates.apply_template(tok, params.chat_template or cfg.data.chat_template)
    _, eval_rows = data.load_splits(cfg.data, cfg.seed)
    eval_ds = data.encode_rows(data.Encoder(tok, cfg.data, tpl.end_of_turn), eval_rows, "data.eval_path")
    spec = TrainSpec(learning_rate=0.0, weight_decay=0.0, warmup_ratio=0.0, lr_scheduler="constant",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=MICRO_BATCH,
                     micro_batch_size=MICRO_BATCH, total_steps=1, eval_every=1, seed=cfg.seed)
    return Trainer(model, [], eval_ds, spec, tok.pad_token_id, RecordingReporter(), torch.device("cpu")).evaluate()


def freeze(force: bool = False) -> None:
    """Build the task's model with this project's tiny builders and copy the data, once.

    The model: `TinyArch(llama, hidden 128, intermediate 352)` with the `tiny_llama` preset's
    tokenizer recipe (byte-level BPE trained on the shipped sample data, llama3 template).
    """
    import shutil

    from sweep import models
    from sweep.config import SAMPLE_DATA_DIR, TinyArch

    if MODEL_DIR.is_dir() and not force:
        raise SystemExit(f"{MODEL_DIR} exists; pass --force to rebuild (then rebuild the table)")
    TASK_DIR.mkdir(parents=True, exist_ok=True)
    arch = TinyArch(architecture="llama", hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, vocab_size=1024)
    tok = models.build_tiny_tokenizer(arch, "llama3", models._corpus())
    net = models.build_tiny_model(arch, tok)
    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    net.save_pretrained(MODEL_DIR)
    tok.save_pretrained(MODEL_DIR)
    shutil.copyfile(SAMPLE_DATA_DIR / "knowledge_train.jsonl", TRAIN_FILE)
    shutil.copyfile(SAMPLE_DATA_DIR / "knowledge_eval.jsonl", EVAL_FILE)
    print(f"froze the task in {TASK_DIR}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["freeze"]:
        raise SystemExit("usage: python -m benchmarks.task freeze [--force]")
    freeze(force="--force" in sys.argv)
