"""Axolotl export: one trial's settings as an Axolotl YAML that Axolotl accepts as-is.

`python -m sweep` calls `write_axolotl` after the last trial; `python -m sweep.export
study_name=NAME [output_dir=DIR] [storage=URL] [trial=N] [out=PATH]` does the same on demand
for the best (or the given) trial. Both write `<study folder>/axolotl.yaml` unless `out=` says
otherwise.

The exporter is stricter than Axolotl (../shared/DESIGN.md decision 8): every config it writes
passes `sweep.axolotl_schema.check_axolotl` (only keys of Axolotl's schema, names Axolotl's
trainer accepts, warmup steps XOR ratio, dropout in [0, 1), `chat_template` only with
`chat_template` datasets). What Axolotl cannot express the
way our trainer ran it (ORPO on our preference rows, a non-integer alpha, a system prompt
Axolotl would not insert, mixed completion rows) fails with a `ConfigError`.

How our data formats map to Axolotl dataset types (answer-only loss, as our trainer does):
- chat `messages` -> `chat_template` with `field_messages: messages`, role/content mapping,
  `roles_to_train: [assistant]` and `train_on_eos: turn` (`none` with `data.add_eos: false`);
- alpaca -> `alpaca` (the same Alpaca prompt text our encoder writes);
- completion rows with `text` -> `completion` with `field: text` (loss on the whole text);
- completion rows with `prompt` + `completion` -> Axolotl's user-defined instruction type
  (`field_instruction: prompt`, `field_output: completion`, `format: "{instruction}"`): the
  prompt is masked and the completion plus EOS is learned. Axolotl's own `completion` type
  reads one text field and learns every token, which is not what the trial trained on.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweep import data as data_mod
from sweep import (
    datasource,
    models,
    results,
    schedules,
    search_space,
    selection,
    storage,
    trial_settings,
)
from sweep.axolotl_schema import (
    AXOLOTL_CHAT_TEMPLATES,
    AXOLOTL_OPTIMIZERS,
    AXOLOTL_SCHEDULERS,
    CHAT_TYPE,
    FALLBACK_PREFIX,
    check_axolotl,
)
from sweep.config import DataConfig, ModelConfig, SweepConfig, compose, from_dict, redact_url
from sweep.errors import ConfigError, Problem, Problems
from sweep.search_space import SearchSpace
from sweep.trial_settings import TrainSection, TrialSettings


def axolotl_config(settings: TrialSettings, *, base_model: str, output_dir: str,
                   by_epochs: bool = False, data_files: dict[str, str] | None = None) -> dict[str, Any]:
    """The Axolotl config of one trial.

    Args:
        settings: the trial's typed settings (best.yaml, `sweep.trial_settings`).
        base_model: the model Axolotl loads (hub id, or an absolute local folder).
        output_dir: where Axolotl writes its checkpoints and adapter.
        by_epochs: the trial's length was set in epochs: export `num_epochs` (and a warmup
            ratio) rather than the exact `max_steps` the trial ran.
        data_files: {"path": ..., "eval_path": ...}: JSONL files of the rows the trials trained
            and evaluated on (`write_data_files`), used instead of the settings' sources.

    Returns:
        A plain dict, keys in `TOP_LEVEL_KEYS` order, that passes `check_axolotl`.

    Raises:
        ConfigError: the trial cannot be expressed in Axolotl terms; every problem named.
    """
    problems = Problems()
    if settings.objective != "sft" or settings.data.format == "preference":
        problems.add("objective", settings.objective,
                     "only SFT trials are exported to Axolotl; our ORPO trains on prompt/chosen/"
                     "rejected strings, which no Axolotl ORPO dataset type reads as-is")
        problems.raise_if_any()
    out: dict[str, Any] = {"base_model": base_model}
    if settings.model.revision:
        out["revision_of_model"] = settings.model.revision
    if settings.model.trust_remote_code:
        out["trust_remote_code"] = True
    out.update(_lora_keys(settings, problems))
    out.update(_data_keys(settings, data_files, problems))
    out.update(_training_keys(settings.train, by_epochs, problems))
    out["output_dir"] = output_dir
    out.update(_tracker_keys(settings))
    problems.raise_if_any()
    check_axolotl(out)
    return out


def _lora_keys(settings: TrialSettings, problems: Problems) -> dict[str, Any]:
    """The adapter, as the trial attached it."""
    lora, qlora = settings.lora, settings.model.load_in_4bit
    out: dict[str, Any] = {"adapter": "qlora" if qlora else "lora"}
    if qlora:
        out["load_in_4bit"] = True
    out["lora_r"] = lora.r
    alpha = float(lora.alpha)
    if not alpha.is_integer():
        problems.add("lora_alpha", alpha, "Axolotl's lora_alpha is an integer; pin lora_alpha (or a "
                     "lora_alpha_ratio that gives a whole number for every rank) to export this trial")
    out["lora_alpha"] = int(alpha) if alpha.is_integer() else alpha
    out["lora_dropout"] = float(lora.dropout)
    # The explicit module list is exactly what PEFT targeted; lora_target_linear would let
    # Axolotl re-derive it per architecture.
    if lora.target_modules:
        out["lora_target_modules"] = list(lora.target_modules)
    else:
        problems.add("lora.target_modules", lora.target_modules,
                     f"no modules for target_modules={lora.target_modules_key!r} in the model preset")
    out["peft_use_rslora"] = lora.use_rslora
    if lora.use_dora:
        out["peft_use_dora"] = True
    return out


def _data_keys(settings: TrialSettings, data_files: dict[str, str] | None, problems: Problems) -> dict[str, Any]:
    """The datasets (the rows as the trials split them, when written), template and lengths."""
    data = settings.data
    if data_files:
        data = dataclasses.replace(data, path=data_files["path"], eval_path=data_files.get("eval_path"),
                                   format="chat" if data.format == "sharegpt" else data.format)
    template = settings.train.chat_template or data.chat_template or "tokenizer_default"
    ds = _dataset(data, data.path, "data.path", template, problems)
    out: dict[str, Any] = {}
    if ds.get("type") == CHAT_TYPE:
        out["chat_template"] = template
    out["datasets"] = [ds]
    if data.eval_path:
        # our separate eval file; Axolotl rejects a non-zero val_set_size next to test_datasets
        out["test_datasets"] = [_dataset(data, data.eval_path, "data.eval_path", template, problems)]
        out["val_set_size"] = 0.0
    else:
        out["val_set_size"] = float(data.val_set_size or 0.0)
    out["sequence_len"] = int(data.max_seq_len)
    out["sample_packing"] = False  # our trainer pads each micro batch; it never packs
    out["train_on_inputs"] = False  # loss on answers only, as our encoder labels them
    return out


def _training_keys(train: TrainSection, by_epochs: bool, problems: Problems) -> dict[str, Any]:
    """Optimisation and length, with batch sizes as the trial ran them (after any OOM fallback)."""
    out: dict[str, Any] = {"learning_rate": float(train.learning_rate),
                           "lr_scheduler": _mapped(AXOLOTL_SCHEDULERS, train.lr_scheduler, "lr_scheduler", problems)}
    ratio = float(train.warmup_ratio or 0.0)
    steps = None if by_epochs or train.max_steps is None else int(train.max_steps)
    if train.lr_scheduler == "wsd":
        if steps is None:
            problems.add("lr_scheduler", "wsd", "a WSD schedule exports with max_steps only (its decay is a "
                         "number of steps, and Axolotl counts its own steps per epoch); pin max_steps")
        else:  # HF's warmup_stable_decay, as our trainer built it
            out["lr_scheduler_kwargs"] = {"num_decay_steps": schedules.decay_steps(steps), "decay_type": "linear"}
    if steps is not None:
        out["warmup_steps"] = int(round(ratio * steps))  # exactly what our scheduler used
    elif ratio > 0:
        # Axolotl counts its own steps per epoch: a ratio transfers, a step count would not
        out["warmup_ratio"] = ratio
    else:
        out["warmup_steps"] = 0  # written: with neither key Axolotl warms up 3% of the steps
    out["weight_decay"] = float(train.weight_decay)
    out["optimizer"] = _mapped(AXOLOTL_OPTIMIZERS, train.optimizer, "optimizer", problems)
    out["max_grad_norm"] = float(train.max_grad_norm)
    micro, accum, effective = train.micro_batch_size, train.gradient_accumulation_steps, train.effective_batch_size
    if micro * accum != effective:
        problems.add("train.micro_batch_size", micro,
                     f"micro_batch_size x gradient_accumulation_steps = {micro}x{accum} is not the "
                     f"effective batch {effective}; the settings are inconsistent")
    out["micro_batch_size"] = micro
    out["gradient_accumulation_steps"] = accum
    if steps is None:
        out["num_epochs"] = float(train.num_epochs)
    else:
        out["max_steps"] = steps
    out["seed"] = int(train.seed)
    out["bf16"] = "auto"
    out["gradient_checkpointing"] = train.gradient_checkpointing
    return out


def _tracker_keys(settings: TrialSettings) -> dict[str, Any]:
    """W&B, when the sweep logged to it: Axolotl's run lands next to the trials'."""
    tracker = settings.tracker
    if tracker.name != "wandb":
        return {}
    out: dict[str, Any] = {"wandb_project": tracker.project}
    if tracker.entity:
        out["wandb_entity"] = tracker.entity
    out["wandb_name"] = f"{settings.study_name}-trial{settings.trial}-axolotl"
    if tracker.mode in ("offline", "online", "disabled"):
        out["wandb_mode"] = tracker.mode
    return out


def _mapped(table: dict[str, str], value: Any, key: str, problems: Problems) -> Any:
    if value not in table:
        problems.add(key, value, f"no Axolotl equivalent; choose one of {', '.join(table)}")
    return table.get(value, value)


def _dataset(data: DataConfig, path: str, key: str, template: str,
             problems: Problems) -> dict[str, Any]:
    """One Axolotl dataset entry for a file of our data format."""
    fmt = data.format
    entry: dict[str, Any] = {"path": path, "ds_type": "json", "split": "train"}
    try:
        rows = [r.data for r in data_mod.read_rows(path, fmt, key)]
    except ConfigError as exc:
        problems.items.extend(exc.problems)
        rows = []
    if fmt == "chat":
        if template not in AXOLOTL_CHAT_TEMPLATES and not template.startswith(FALLBACK_PREFIX):
            problems.add("chat_template", template, "not a chat template Axolotl knows; use one of "
                         f"{', '.join(sorted(AXOLOTL_CHAT_TEMPLATES))}")
        if data.system_prompt and any(r["messages"][0]["role"] != "system" for r in rows):
            # Axolotl has no "insert this system message where a row has none" option
            # (default_system_message only rewrites chatml's built-in one).
            problems.add("data.system_prompt", data.system_prompt,
                         f"Axolotl cannot insert it into rows of {path} that lack a system message; "
                         "add the system message to those rows (or unset data.system_prompt)")
        entry.update({
            "type": CHAT_TYPE, "chat_template": template, "field_messages": "messages",
            "message_property_mappings": {"role": "role", "content": "content"},
            "roles_to_train": ["assistant"],
            "train_on_eos": "turn" if data.add_eos else "none",
        })
    elif fmt == "alpaca":
        entry["type"] = "alpaca"
    elif fmt == "completion":
        with_text = sum(1 for r in rows if isinstance(r.get("text"), str) and r["text"].strip())
        if rows and with_text == len(rows):
            entry.update({"type": "completion", "field": "text"})
        elif with_text == 0:
            entry["type"] = {"field_instruction": "prompt", "field_output": "completion",
                             "format": "{instruction}", "no_input_format": "{instruction}"}
        else:
            problems.add(key, path, f"{with_text} of {len(rows)} rows use 'text' and the rest "
                         "'prompt'/'completion'; one Axolotl dataset reads one layout: split the file")
    else:
        problems.add("data.format", fmt, "not exportable to Axolotl as it is; export it with its data files "
                     "(sweep.export writes them), or use chat, alpaca or completion data")
    return entry


# --------------------------------------------------------------------------- writing


def to_yaml(cfg: dict[str, Any], header: str = "") -> str:
    """YAML text in `TOP_LEVEL_KEYS` order, with `header` as leading comment lines."""
    import yaml

    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, width=100)


def base_model_of(m: ModelConfig) -> str:
    """What Axolotl loads: the hub id, or the absolute local folder (tiny presets: built once;
    packaged GGUF presets: the converted HF folder in the model cache)."""
    if m.tiny is not None:
        return str(models.ensure_tiny(m).resolve())
    if m.path:
        return str(Path(m.path).expanduser().resolve())
    if m.gguf is not None:
        return str(models.resolve(m))
    if m.hub_id:
        return m.hub_id
    raise ConfigError(Problem("model", m.name, "set model.hub_id or model.path"))


DATA_DIR = "axolotl_data"  # next to the exported YAML: the rows as the trials split them


def needs_data_files(data: DataConfig) -> bool:
    """Whether Axolotl must read our rows rather than the user's source: a held-out split
    (Axolotl's own val_set_size would hold out other rows), ShareGPT rows (read with mapped
    roles), or a source other than a JSON/JSONL file (CSV, Parquet, a folder, a hub id)."""
    sources = [data.path, data.eval_path]
    native = all(Path(s).suffix.lower() in (".json", ".jsonl") and Path(s).is_file() for s in sources if s)
    return not data.eval_path or data.format == "sharegpt" or not native


def write_data_files(cfg: SweepConfig, folder: Path) -> dict[str, str]:
    """The train and eval rows exactly as every trial split them (seeded), as chat / alpaca /
    completion JSONL in `folder`; "I don't know" probes are left out, as from the loss."""
    train_rows, eval_rows = data_mod.load_splits(cfg.data, cfg.seed)
    out = {}
    for key, name, rows in (("path", "train.jsonl", train_rows), ("eval_path", "eval.jsonl", eval_rows)):
        lines = [json.dumps(r.data, ensure_ascii=False) for r in rows if r.data.get("answerable") is not False]
        results.atomic_write(folder / name, "".join(line + "\n" for line in lines))
        out[key] = str((folder / name).resolve())
    return out


def export_trial(cfg: SweepConfig, space: SearchSpace, trial: FrozenTrial, out: Path) -> Path:
    """Write the Axolotl YAML of one finished trial to `out` (atomically); returns `out`.

    When Axolotl cannot read the trials' rows from the user's source as they were split
    (`needs_data_files`), they are written to `axolotl_data/` next to `out` first.
    """
    settings = trial_settings.from_trial(cfg, space, trial)
    by_epochs = space.from_values(trial.params).max_steps is None
    files = None
    if needs_data_files(settings.data) and settings.objective == "sft":
        files = write_data_files(cfg, out.parent / DATA_DIR)
    body = axolotl_config(settings, base_model=base_model_of(settings.model),
                          output_dir=str(cfg.study_dir / "axolotl_output"), by_epochs=by_epochs,
                          data_files=files)
    value = f"{trial.value:.6g}" if trial.value is not None else "n/a"
    n_eval = len(data_mod.load_splits(cfg.data, cfg.seed)[1])
    source = (f"data: {datasource.short_name(cfg.data.path)} ({cfg.data.format}); "
              f"{data_mod.describe_eval(cfg.data, cfg.seed, n_eval)}")
    if files:
        source += f"\n(the rows as the trials split them: {DATA_DIR}/train.jsonl and {DATA_DIR}/eval.jsonl)"
    header = (f"Axolotl {'QLoRA' if body['adapter'] == 'qlora' else 'LoRA'} config exported by "
              f"lora-sweep: study {cfg.study_name}, trial {trial.number} ({trial.state.name}, "
              f"eval loss {value}).\n{source}\nTrain it as-is: axolotl train {out.name}")
    results.atomic_write(out, to_yaml(body, header))
    return out


def write_axolotl(cfg: SweepConfig, space: SearchSpace, study: optuna.Study) -> None:
    """Write <study folder>/axolotl.yaml for the chosen trial (`select`: sweep.selection; called
    at the end of a sweep).

    A chosen trial that Axolotl cannot express is reported on stderr, not raised: the sweep's
    other outputs are already written and its exit status stays 0. A stale axolotl.yaml from
    an earlier chosen trial is removed so the folder never shows another trial's config.
    """
    best = selection.chosen_trial(cfg, study)
    if best is None:
        return
    target = cfg.study_dir / "axolotl.yaml"
    try:
        export_trial(cfg, space, best, target)
    except ConfigError as exc:
        target.unlink(missing_ok=True)
        print(f"axolotl.yaml not written: {exc.message()}", file=sys.stderr)


# --------------------------------------------------------------------------- command line


def study_inputs(args: list[str]) -> tuple[SweepConfig, SearchSpace, optuna.Study]:
    """(cfg, space, study) of an existing study, found by study_name/output_dir/storage."""
    located = from_dict(compose(args))
    st = storage.load_existing(located)
    if st is None:
        raise ConfigError(Problem("study_name", located.study_name,
                                  f"no such study in {redact_url(located.storage_url())}; run the sweep "
                                  "first, or pass the output_dir=/storage= it ran with"))
    cfg = located
    stored = st.user_attrs.get("config")
    if isinstance(stored, dict):
        # the sweep's own settings (model, data, tracker ...), found where the study is now
        cfg = dataclasses.replace(from_dict(stored), study_name=located.study_name,
                                  output_dir=located.output_dir, storage=located.storage)
    space_attr = st.user_attrs.get("search_space")
    if isinstance(space_attr, dict) and isinstance(space_attr.get("fixed"), dict):
        # only `fixed` is needed to rebuild a finished trial's settings from its params
        space = SearchSpace(source=f"study {cfg.study_name}", params=(), fixed=dict(space_attr["fixed"]))
    else:
        space = search_space.load_for_config(cfg)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return cfg, space, st


def select_trial(cfg: SweepConfig, st: optuna.Study, number: int | None) -> FrozenTrial:
    """The trial to export: trial `number` (COMPLETE or PRUNED), else the best; ConfigError if none."""
    if number is None:
        trial = selection.chosen_trial(cfg, st)
        if trial is None:
            raise ConfigError(Problem("study_name", cfg.study_name,
                                      "the study has no completed trial yet; run more trials or pass trial=N"))
        return trial
    found = [t for t in st.get_trials(deepcopy=False) if t.number == number]
    if not found:
        raise ConfigError(Problem("trial", number, f"no such trial; the study has trials "
                                  f"0..{len(st.get_trials(deepcopy=False)) - 1}"))
    trial = found[0]
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
        raise ConfigError(Problem("trial", number, f"trial {number} is {trial.state.name}; export "
                                  "a COMPLETE (or PRUNED) trial"))
    return trial


__all__ = ["axolotl_config", "check_axolotl", "export_trial", "select_trial", "study_inputs", "to_yaml",
           "write_axolotl"]
