"""Axolotl export: every shape passes Axolotl 0.19's own validator, and our stricter rules.

Export shapes are built from real `sweep.trial_settings.from_trial()` of synthetic finished trials (no
training): chat / alpaca / completion data, LoRA and QLoRA, with and without an OOM fallback,
length in steps or epochs, a held-out eval file or a split. One tiny real sweep checks the file
the engine writes at the end and the `python -m sweep.export` command line.

Axolotl runs in its own venv (.venv-axolotl, built by scripts/setup_axolotl_venv.sh; its pins
differ from ours): one subprocess validates every YAML (as Axolotl's CLI does on a GPU host and
without capabilities), reports Axolotl's accepted names, and tokenizes a few rows with Axolotl's
own prompt strategies so the data mapping is checked token by token. Without that venv these
tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution

from sweep import axolotl_export, axolotl_schema, data, search_space, templates, trial_settings
from sweep import export as export_command
from sweep.config import load_config
from sweep.errors import ConfigError
from tests.conftest import REPO, run_cli, tiny_overrides

AXOLOTL_PY = REPO / ".venv-axolotl" / "bin" / "python"

STEPS_SPACE = {
    "params": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
               "effective_batch_size": {"type": "categorical", "choices": [8, 16]}},
    "fixed": {"max_steps": 30, "warmup_ratio": 0.1, "lora_r": 16, "lora_alpha_ratio": 2.0},
}
EPOCHS_SPACE = {
    "params": STEPS_SPACE["params"],
    "fixed": {"num_epochs": 2, "warmup_ratio": 0.05, "lora_r": 64, "lora_alpha": 16,
              "lora_dropout": 0.05, "optimizer": "paged_adamw_8bit", "lr_scheduler": "constant",
              "max_grad_norm": 0.3, "use_rslora": True},
}

# name: (overrides, space, micro batch the trial ended with; the effective batch is 16)
SHAPES: dict[str, tuple[list[str], dict, int]] = {
    "chat": ([], STEPS_SPACE, 8),
    "chat_llama3_oom_wandb": (["data.chat_template=llama3", "tracker=wandb"], STEPS_SPACE, 2),
    "chat_qwen_qlora_epochs": (["model=tiny_qwen", "data.chat_template=qwen_25",
                                "model.load_in_4bit=true"], EPOCHS_SPACE, 8),
    "alpaca": (["data=sample_alpaca"], STEPS_SPACE, 8),
    "alpaca_qlora_oom": (["data=sample_alpaca", "model.load_in_4bit=true"], EPOCHS_SPACE, 4),
    "completion": (["data=sample_completion"], STEPS_SPACE, 8),
    "completion_qlora_oom": (["data=sample_completion", "model.load_in_4bit=true"], STEPS_SPACE, 1),
    "completion_text": (["data=sample_completion", "data.path={text_train}",
                         "data.eval_path={text_eval}"], STEPS_SPACE, 8),
    # your own data (issue 14): a held-out split of the user's file, in each format and reader;
    # exported with the rows as the trials split them (axolotl_data/train.jsonl, eval.jsonl)
    "chat_val_split": (["data.path={user_chat_jsonl}", "data.val_set_size=0.1"], STEPS_SPACE, 8),
    "user_sharegpt_json": (["data.path={user_sharegpt_json}"], STEPS_SPACE, 8),
    "user_alpaca_csv": (["data.path={user_alpaca_csv}", "data.val_set_size=0.2"], STEPS_SPACE, 8),
    "user_completion_parquet": (["data.path={user_completion_parquet}"], STEPS_SPACE, 8),
    "user_chat_folder": (["data.path={user_chat_folder}"], STEPS_SPACE, 8),
    # the WSD schedule (issue 22): HF's warmup_stable_decay with lr_scheduler_kwargs
    "chat_wsd": ([], {**STEPS_SPACE, "fixed": {**STEPS_SPACE["fixed"], "lr_scheduler": "wsd"}}, 8),
}
# Axolotl tokenizes their rows here: the default chat format (the tokenizer's own template), a
# named chat template, alpaca, both completion layouts, and a user's alpaca CSV and completion parquet
TOKENIZED = ("chat", "chat_llama3_oom_wandb", "alpaca", "completion", "completion_text", "user_alpaca_csv",
             "user_completion_parquet")

VALIDATOR = r'''
import copy, enum, json, os, sys
os.environ["AXOLOTL_DO_NOT_TRACK"] = "1"
import yaml
from axolotl.utils.config import validate_config
from axolotl.utils.dict import DictDefault
from axolotl.utils.schemas.config import AxolotlInputConfig
from axolotl.utils.schemas.datasets import SFTDataset, UserDefinedPrompterType
from axolotl.utils.schemas.enums import ChatTemplate, CustomSupportedOptimizers
from transformers.trainer_utils import SchedulerType
from transformers.training_args import OptimizerNames

# what axolotl's CLI passes on a bf16 GPU host (axolotl.cli.config.gpu_capabilities)
GPU = {"capabilities": {"bf16": True, "fp8": False, "tf32": True, "n_gpu": 1,
                        "compute_capability": "sm_90"},
       "env_capabilities": {"torch_version": "2.13.0"}}

def plain(v):
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, dict):  # DictDefault answers None for any attribute: convert, don't probe
        return {k: plain(x) for k, x in v.items()}
    return v

def check(raw):
    res = {}
    for mode, kw in (("plain", {}), ("gpu", GPU)):
        try:
            v = validate_config(DictDefault(copy.deepcopy(raw)), **kw)  # it mutates its input
        except Exception as e:
            res[mode] = {"error": f"{type(e).__name__}: {e}"}
            continue
        dropped = [k for k in raw if k not in v]
        for group in ("datasets", "test_datasets"):
            for mine, theirs in zip(raw.get(group) or [], v.get(group) or []):
                dropped += [f"{group}.{k}" for k in mine if k not in dict(theirs)]
        values = {k: plain(v[k]) for k in raw if k in v and not isinstance(raw[k], (list, dict))}
        res[mode] = {"dropped": dropped, "values": values,
                     "datasets": [{k: plain(x) for k, x in dict(d).items()} for d in v["datasets"]]}
    return res

def tokenize(raw, n=3):
    from transformers import AutoTokenizer
    from axolotl.prompt_strategies import load
    from axolotl.prompt_tokenizers import AlpacaPromptTokenizingStrategy
    from axolotl.prompters import AlpacaPrompter

    cfg = validate_config(DictDefault(copy.deepcopy(raw)))
    tok = AutoTokenizer.from_pretrained(cfg.base_model)
    ds = cfg.datasets[0]
    text = open(ds["path"], encoding="utf-8").read()
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(l) for l in text.splitlines()]
    t = ds["type"]
    # the dispatch of axolotl.utils.data.wrappers.get_dataset_wrapper for these types
    if isinstance(t, dict):
        strat = load("user_defined", tok, cfg, dict(t))
    elif t == "chat_template":  # axolotl.prompt_strategies.chat_template, as its loader builds it
        strat = load("chat_template", tok, cfg, DictDefault(dict(ds)))
    elif t == "alpaca":
        strat = AlpacaPromptTokenizingStrategy(AlpacaPrompter(None), tok, cfg.train_on_inputs, cfg.sequence_len)
    else:
        strat = load(t, tok, cfg, DictDefault(dict(ds)))
    out = []
    for r in rows[:n]:
        if strat.supports_batched:
            enc = strat.tokenize_prompt({k: [v] for k, v in r.items()})
            enc = {k: v[0] for k, v in enc.items()}
        else:
            enc = strat.tokenize_prompt(r)
        out.append({"row": r, "input_ids": list(enc["input_ids"]), "labels": list(enc["labels"])})
    return out

req = json.load(sys.stdin)
out = {
    "schema": {
        "chat_templates": [c.value for c in ChatTemplate],
        "optimizers": [o.value for o in OptimizerNames] + [o.value for o in CustomSupportedOptimizers],
        "schedulers": [s.value for s in SchedulerType] + ["one_cycle", "rex"],
        "top_keys": list(AxolotlInputConfig.model_fields),
        "dataset_keys": list(SFTDataset.model_fields),
        "user_defined_keys": list(UserDefinedPrompterType.model_fields),
    },
    "configs": {name: check(yaml.safe_load(open(p))) for name, p in req["configs"].items()},
    "tokens": {name: tokenize(yaml.safe_load(open(p))) for name, p in req["tokenize"].items()},
}
print(json.dumps(out))
'''


def frozen_trial(space: search_space.SearchSpace, values: dict, attrs: dict, number: int = 3,
                 value: float = 1.25) -> optuna.trial.FrozenTrial:
    """A finished trial as the study would hold it (no training)."""
    dists = {p.name: CategoricalDistribution(p.choices) if p.type == "categorical"
             else FloatDistribution(p.low, p.high, log=p.log) for p in space.params}
    trial = optuna.trial.create_trial(params=values, distributions=dists, value=value, user_attrs=attrs)
    trial.number = number
    return trial


def make_shape(out_dir: Path, overrides: list[str], space_raw: dict, micro: int, effective: int = 16,
               total_steps: int = 30):
    cfg = load_config([f"output_dir={out_dir}", "study_name=s", "eval.behaviour=false", *overrides])
    space = search_space.parse(space_raw, targets=cfg.model.target_modules.keys())
    fallbacks = [{"step": 1, "from_micro_batch": m, "to_micro_batch": m // 2}
                 for m in (8, 4, 2) if m > micro]
    trial = frozen_trial(space, {"learning_rate": 2e-4, "effective_batch_size": effective},
                         {"micro_batch_size": micro, "gradient_accumulation_steps": effective // micro,
                          "total_steps": total_steps, "oom_fallbacks": fallbacks})
    return cfg, space, trial


def write_text_completion(folder: Path) -> dict[str, str]:
    """Completion files in the one-field `text` layout (Axolotl's `completion` type)."""
    paths = {}
    for split in ("train", "eval"):
        rows = data.read_rows(str(REPO / f"sample_data/knowledge_{split}_completion.jsonl"), "completion", "x")
        p = folder / f"text_{split}.jsonl"
        p.write_text("".join(json.dumps({"text": r.data["prompt"] + r.data["completion"]}) + "\n"
                             for r in rows[:40]), encoding="utf-8")
        paths[f"text_{split}"] = str(p)
    return paths


def write_user_files(folder: Path) -> dict[str, str]:
    """The sample rows as users have them: ShareGPT .json, alpaca .csv, completion .parquet,
    chat JSONL and a datasets save_to_disk folder (60 rows each, no eval file)."""
    import csv

    import datasets

    chat = [r.data for r in data.read_rows(str(REPO / "sample_data/knowledge_train.jsonl"), "chat", "x")][:60]
    alpaca = [r.data for r in data.read_rows(str(REPO / "sample_data/knowledge_train_alpaca.json"), "alpaca", "x")]
    completion = [r.data for r in data.read_rows(str(REPO / "sample_data/knowledge_train_completion.jsonl"),
                                                  "completion", "x")]
    who = {"system": "system", "user": "human", "assistant": "gpt"}
    paths = {k: str(folder / k) for k in ("user_chat_jsonl", "user_sharegpt_json", "user_alpaca_csv",
                                          "user_completion_parquet", "user_chat_folder")}
    paths["user_chat_jsonl"] += ".jsonl"
    Path(paths["user_chat_jsonl"]).write_text("".join(json.dumps(r) + "\n" for r in chat))
    paths["user_sharegpt_json"] += ".json"
    Path(paths["user_sharegpt_json"]).write_text(json.dumps(
        [{"conversations": [{"from": who[m["role"]], "value": m["content"]} for m in r["messages"]]} for r in chat]))
    paths["user_alpaca_csv"] += ".csv"
    with open(paths["user_alpaca_csv"], "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["instruction", "input", "output"])
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in ("instruction", "input", "output")} for r in alpaca[:60])
    paths["user_completion_parquet"] += ".parquet"
    datasets.Dataset.from_list(completion[:60]).to_parquet(paths["user_completion_parquet"])
    datasets.Dataset.from_list([{"messages": r["messages"]} for r in chat]).save_to_disk(paths["user_chat_folder"])
    return paths


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, tuple]:
    """Every shape exported: name -> (cfg, space, trial, yaml path, config dict)."""
    root = tmp_path_factory.mktemp("shapes")
    fmt = {**write_text_completion(root), **write_user_files(root)}
    built = {}
    for name, (overrides, space_raw, micro) in SHAPES.items():
        cfg, space, trial = make_shape(root / name, [o.format(**fmt) for o in overrides], space_raw, micro)
        path = axolotl_export.export_trial(cfg, space, trial, cfg.study_dir / "axolotl.yaml")
        built[name] = (cfg, space, trial, path, yaml.safe_load(path.read_text()))
    return built


@pytest.fixture(scope="module")
def sweep_study(tmp_path_factory):
    """One tiny real sweep (2 trials); returns its config."""
    from sweep import engine

    cfg = load_config(tiny_overrides(tmp_path_factory.mktemp("sweep")))
    engine.run(cfg)
    return cfg


@pytest.fixture(scope="module")
def axolotl_python() -> Path:
    if AXOLOTL_PY.exists():
        return AXOLOTL_PY
    msg = f"{AXOLOTL_PY} is missing: run scripts/setup_axolotl_venv.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def axolotl(axolotl_python, shapes, sweep_study) -> dict:
    """Axolotl's verdict on every exported YAML, its accepted names and its tokenizations."""
    configs = {name: str(s[3]) for name, s in shapes.items()}
    configs["sweep"] = str(sweep_study.study_dir / "axolotl.yaml")
    req = {"configs": configs, "tokenize": {name: configs[name] for name in TOKENIZED}}
    env = {**os.environ, "AXOLOTL_DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    res = subprocess.run([str(axolotl_python), "-c", VALIDATOR], input=json.dumps(req), env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- Axolotl's verdict


@pytest.mark.parametrize("name", [*SHAPES, "sweep"])
@pytest.mark.parametrize("mode", ["plain", "gpu"])
def test_axolotl_validates_every_shape_and_keeps_every_key(axolotl, name, mode):
    verdict = axolotl["configs"][name][mode]
    assert "error" not in verdict, verdict.get("error")
    assert verdict["dropped"] == [], f"Axolotl silently dropped {verdict['dropped']}"


@pytest.mark.parametrize("name", SHAPES)
def test_axolotl_keeps_our_values(axolotl, shapes, name):
    ours = shapes[name][4]
    theirs = axolotl["configs"][name]["plain"]["values"]
    for key, value in ours.items():
        if isinstance(value, list | dict) or key == "bf16":
            continue
        assert theirs[key] == value, key
    ds = axolotl["configs"][name]["plain"]["datasets"][0]
    for key, value in ours["datasets"][0].items():
        assert ds[key] == value, key


def test_our_names_are_axolotls_names(axolotl):
    schema = axolotl["schema"]
    assert set(axolotl_schema.AXOLOTL_OPTIMIZERS.values()) <= set(schema["optimizers"])
    assert set(axolotl_schema.AXOLOTL_SCHEDULERS.values()) <= set(schema["schedulers"])
    assert axolotl_schema.AXOLOTL_CHAT_TEMPLATES <= set(schema["chat_templates"])
    assert set(templates.TEMPLATES) <= axolotl_schema.AXOLOTL_CHAT_TEMPLATES  # every template we can search
    assert set(axolotl_schema.TOP_LEVEL_KEYS) <= set(schema["top_keys"])
    assert set(axolotl_schema.DATASET_KEYS) <= set(schema["dataset_keys"])
    assert set(axolotl_schema.USER_DEFINED_KEYS) <= set(schema["user_defined_keys"])


@pytest.mark.parametrize("name", TOKENIZED)
def test_axolotl_tokenizes_our_rows_as_our_trainer_does(axolotl, shapes, name):
    """Same token ids, same answer-only labels (prompt masked, answer + EOS learned).

    One known difference: our encoder writes the BOS token as text for alpaca and `text` rows;
    Axolotl leaves BOS to the tokenizer, and the tiny tokenizers add none. Real Llama/Mistral
    tokenizers add it, so there the sequences are identical.
    """
    from transformers import AutoTokenizer

    cfg = shapes[name][0]
    tok = AutoTokenizer.from_pretrained(shapes[name][4]["base_model"])
    tpl = templates.apply_template(tok, cfg.data.chat_template)
    encoder = data.Encoder(tok, cfg.data, tpl.end_of_turn)
    assert len(axolotl["tokens"][name]) == 3  # Axolotl tokenized three rows
    for theirs in axolotl["tokens"][name]:
        ours = encoder.encode(theirs["row"])
        ids, labels = ours["input_ids"], ours["labels"]
        if theirs["input_ids"][:1] != [tok.bos_token_id] and ids[:1] == [tok.bos_token_id]:
            assert labels[0] == -100
            ids, labels = ids[1:], labels[1:]
        assert ids == theirs["input_ids"]
        assert labels == theirs["labels"]
        assert labels[-1] == tok.eos_token_id  # the model learns to stop


# --------------------------------------------------------------------------- our rules (no Axolotl)


@pytest.mark.parametrize("name", SHAPES)
def test_export_shape(shapes, name):
    cfg, _, trial, path, out = shapes[name]
    chat = cfg.data.layout == "chat"
    assert path.read_text().startswith("# Axolotl ")
    assert list(out) == [k for k in axolotl_schema.TOP_LEVEL_KEYS if k in out]
    assert Path(out["base_model"]).is_absolute() and (Path(out["base_model"]) / "config.json").is_file()
    # chat_template only for chat_template datasets (the seed's rule), named as Axolotl names it
    if chat:
        assert out["chat_template"] == cfg.data.chat_template
        assert {d["chat_template"] for d in out["datasets"] + out.get("test_datasets", [])} == {out["chat_template"]}
        assert out["datasets"][0]["type"] == "chat_template"
        assert out["datasets"][0]["field_messages"] == "messages"
    else:
        assert "chat_template" not in out
        assert all("chat_template" not in d for d in out["datasets"] + out.get("test_datasets", []))
    # QLoRA iff 4-bit
    assert out["adapter"] == ("qlora" if cfg.model.load_in_4bit else "lora")
    assert out.get("load_in_4bit", False) is cfg.model.load_in_4bit
    # batch sizes as the trial ran them, after any OOM fallback
    assert out["micro_batch_size"] == trial.user_attrs["micro_batch_size"]
    assert out["gradient_accumulation_steps"] == trial.user_attrs["gradient_accumulation_steps"]
    assert out["micro_batch_size"] * out["gradient_accumulation_steps"] == 16
    # warmup steps xor ratio; steps when the length was pinned in steps, else epochs
    assert ("warmup_steps" in out) != ("warmup_ratio" in out)
    assert ("max_steps" in out) != ("num_epochs" in out)
    assert out["train_on_inputs"] is False and out["bf16"] == "auto" and out["sample_packing"] is False
    assert out["seed"] == cfg.seed and out["sequence_len"] == cfg.data.max_seq_len
    assert out["lora_target_modules"] == list(cfg.model.target_modules["all_linear"])


def test_values_follow_the_trial(shapes):
    steps = shapes["chat"][4]
    assert steps["max_steps"] == 30 and steps["warmup_steps"] == 3  # round(0.1 x 30), as we ran it
    assert steps["lora_r"] == 16 and steps["lora_alpha"] == 32 and steps["learning_rate"] == 2e-4
    assert steps["optimizer"] == "adamw_torch" and steps["lr_scheduler"] == "cosine"
    assert steps["test_datasets"][0]["path"].endswith("knowledge_eval.jsonl") and steps["val_set_size"] == 0.0
    assert "wandb_project" not in steps
    epochs = shapes["chat_qwen_qlora_epochs"][4]
    assert epochs["num_epochs"] == 2.0 and epochs["warmup_ratio"] == 0.05
    assert (epochs["lora_r"], epochs["lora_alpha"], epochs["lora_dropout"]) == (64, 16, 0.05)
    assert (epochs["optimizer"], epochs["lr_scheduler"], epochs["max_grad_norm"]) == ("paged_adamw_8bit", "constant", 0.3)
    assert epochs["peft_use_rslora"] is True and epochs["chat_template"] == "qwen_25"
    tracked = shapes["chat_llama3_oom_wandb"][4]
    assert tracked["wandb_project"] == "lora-sweep" and tracked["wandb_name"] == "s-trial3-axolotl"
    assert (tracked["micro_batch_size"], tracked["gradient_accumulation_steps"]) == (2, 8)



@pytest.mark.parametrize("name, fmt, n_eval", [
    ("chat_val_split", "chat", 6), ("user_sharegpt_json", "sharegpt", 6), ("user_alpaca_csv", "alpaca", 12),
    ("user_completion_parquet", "completion", 6), ("user_chat_folder", "chat", 6)])
def test_own_data_exports_the_rows_as_the_trials_split_them(shapes, name, fmt, n_eval):
    """No val_set_size for Axolotl to redraw: train and eval files hold exactly our seeded split
    (ShareGPT rows as chat messages), and the header says which rows evaluate."""
    cfg, _, _, path, out = shapes[name]
    assert cfg.data.format == fmt and cfg.data.eval_path is None
    assert out["val_set_size"] == 0.0
    folder = path.parent / axolotl_export.DATA_DIR
    assert out["datasets"][0]["path"] == str(folder / "train.jsonl")
    assert out["test_datasets"][0]["path"] == str(folder / "eval.jsonl")
    train, held_out = data.load_splits(cfg.data, cfg.seed)
    for file, rows in (("train.jsonl", train), ("eval.jsonl", held_out)):
        written = [json.loads(line) for line in (folder / file).read_text().splitlines()]
        assert written == [r.data for r in rows]
    assert len(held_out) == n_eval
    assert f"of {Path(cfg.data.path).name}, {n_eval} rows, seed 0" in path.read_text().splitlines()[1]
    if fmt == "sharegpt":
        assert all("messages" in r and "conversations" not in r for r in map(json.loads, (
            folder / "eval.jsonl").read_text().splitlines()))


def test_dataset_types(shapes):
    assert shapes["alpaca"][4]["datasets"][0]["type"] == "alpaca"
    assert shapes["user_alpaca_csv"][4]["datasets"][0]["type"] == "alpaca"
    assert shapes["user_sharegpt_json"][4]["datasets"][0]["type"] == "chat_template"
    assert shapes["user_completion_parquet"][4]["datasets"][0]["type"] == shapes["completion"][4]["datasets"][0]["type"]
    assert shapes["completion_text"][4]["datasets"][0]["type"] == "completion"
    assert shapes["completion_text"][4]["datasets"][0]["field"] == "text"
    pc = shapes["completion"][4]["datasets"][0]["type"]
    assert pc == {"field_instruction": "prompt", "field_output": "completion",
                  "format": "{instruction}", "no_input_format": "{instruction}"}
    eot = shapes["chat"][4]["datasets"][0]
    assert eot["roles_to_train"] == ["assistant"] and eot["train_on_eos"] == "turn"


def _settings(tmp_path, *overrides, space=STEPS_SPACE, micro=8):
    cfg, space_, trial = make_shape(tmp_path, list(overrides), space, micro)
    return trial_settings.from_trial(cfg, space_, trial)


def _problem_keys(exc: pytest.ExceptionInfo) -> set[str]:
    return {p.key for p in exc.value.problems}


def test_refuses_what_axolotl_cannot_express(tmp_path):
    s = _settings(tmp_path)
    bad = dataclasses.replace(s, train=dataclasses.replace(s.train, optimizer="adafactor", lr_scheduler="polynomial"),
                              lora=dataclasses.replace(s.lora, alpha=7.5))
    with pytest.raises(ConfigError) as exc:
        axolotl_export.axolotl_config(bad, base_model="/m", output_dir="/o")
    assert _problem_keys(exc) == {"optimizer", "lr_scheduler", "lora_alpha"}
    assert "adamw_torch" in exc.value.message()


def test_refuses_orpo(tmp_path):
    s = _settings(tmp_path, "data=sample_preferences", "objective=orpo")
    with pytest.raises(ConfigError) as exc:
        axolotl_export.axolotl_config(s, base_model="/m", output_dir="/o")
    assert _problem_keys(exc) == {"objective"}


def test_system_prompt_only_when_rows_already_have_one(tmp_path):
    # every sample chat row starts with a system message: data.system_prompt changes nothing
    s = _settings(tmp_path, "data.system_prompt=Be_brief")
    axolotl_export.axolotl_config(s, base_model="/m", output_dir="/o")
    rows = tmp_path / "no_system.jsonl"
    rows.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi?"},
                                             {"role": "assistant", "content": "Hello."}]}) + "\n")
    s = _settings(tmp_path, "data.system_prompt=Be_brief", f"data.path={rows}")
    with pytest.raises(ConfigError) as exc:
        axolotl_export.axolotl_config(s, base_model="/m", output_dir="/o")
    assert _problem_keys(exc) == {"data.system_prompt"}


def test_mixed_completion_layouts_refused(tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps({"text": "A whole text."}) + "\n"
                     + json.dumps({"prompt": "Q:", "completion": " A."}) + "\n")
    s = _settings(tmp_path, "data=sample_completion", f"data.path={mixed}")
    with pytest.raises(ConfigError) as exc:
        axolotl_export.axolotl_config(s, base_model="/m", output_dir="/o")
    assert _problem_keys(exc) == {"data.path"}
    assert "split the file" in exc.value.message()


def test_check_axolotl_is_stricter_than_axolotl(shapes):
    good = shapes["alpaca"][4]
    axolotl_schema.check_axolotl(good)
    cases = {
        "axolotl.lora_dropuot": {"lora_dropuot": 0.1},  # a typo Axolotl would drop silently
        "axolotl.chat_template": {"chat_template": "chatml"},  # alpaca data: never a chat_template
        "axolotl.warmup_steps": {"warmup_ratio": 0.1},  # both warmups
        "axolotl.lora_dropout": {"lora_dropout": 1.0},
        "axolotl.optimizer": {"optimizer": "adamw_anything"},  # Axolotl takes any string
        "axolotl.load_in_4bit": {"adapter": "qlora"},
        "axolotl.max_steps": {"num_epochs": 1.0},
    }
    for key, change in cases.items():
        with pytest.raises(ConfigError) as exc:
            axolotl_schema.check_axolotl({**good, **change})
        assert key in _problem_keys(exc), (key, exc.value.message())
    chat = shapes["chat"][4]
    with pytest.raises(ConfigError) as exc:
        axolotl_schema.check_axolotl({**chat, "chat_template": "my_template"})
    assert "axolotl.chat_template" in _problem_keys(exc)


def test_unexportable_best_is_reported_not_raised(tmp_path, capsys):
    """At the end of a sweep a refusal is a note on stderr; a stale axolotl.yaml is removed."""
    cfg, space, trial = make_shape(tmp_path, ["data=sample_preferences", "objective=orpo"], STEPS_SPACE, 8)
    study = optuna.create_study(direction="minimize")
    study.add_trial(trial)
    stale = cfg.study_dir / "axolotl.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("base_model: old\n")
    axolotl_export.write_axolotl(cfg, space, study)
    assert not stale.exists()
    assert "axolotl.yaml not written" in capsys.readouterr().err


# --------------------------------------------------------------------------- the real sweep and CLI


def test_sweep_writes_the_best_trials_axolotl_yaml(sweep_study):
    out = yaml.safe_load((sweep_study.study_dir / "axolotl.yaml").read_text())
    best = yaml.safe_load((sweep_study.study_dir / "best.yaml").read_text())
    assert out["lora_r"] == best["lora"]["r"] and out["learning_rate"] == best["train"]["learning_rate"]
    assert out["micro_batch_size"] == best["train"]["micro_batch_size"]
    assert out["max_steps"] == 10 and out["warmup_steps"] == 0  # quick space: warmup_ratio 0
    assert out["chat_template"] == "tokenizer_default"
    assert out["output_dir"] == str(sweep_study.study_dir / "axolotl_output")


def test_export_cli(sweep_study, tmp_path):
    loc = [f"output_dir={sweep_study.output_dir}", f"study_name={sweep_study.study_name}"]
    target = tmp_path / "trial1.yaml"
    res = run_cli("sweep.export", [*loc, "trial=1", f"out={target}"], env={"OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(target)
    assert "study t, trial 1 " in target.read_text()
    res = run_cli("sweep.export", [f"output_dir={sweep_study.output_dir}", "study_name=missing"],
                  env={"OMP_NUM_THREADS": "1"})
    assert res.returncode == 2
    assert "study_name='missing'" in res.stderr and "run the sweep first" in res.stderr
    assert not (Path(sweep_study.output_dir) / "missing").exists()


def test_export_command_picks_the_best_trial(sweep_study, capsys):
    (sweep_study.study_dir / "axolotl.yaml").unlink()
    assert export_command.run([f"output_dir={sweep_study.output_dir}", "study_name=t"]) == 0
    assert capsys.readouterr().out.strip() == str(sweep_study.study_dir / "axolotl.yaml")
    best = yaml.safe_load((sweep_study.study_dir / "best.yaml").read_text())
    assert f"trial {best['trial']} (COMPLETE" in (sweep_study.study_dir / "axolotl.yaml").read_text()


@pytest.mark.parametrize("args, key", [(["trial=99"], "trial"), (["trial=x"], "trial"),
                                       (["out="], "out")])
def test_export_command_bad_input(sweep_study, args, key):
    with pytest.raises(ConfigError) as exc:
        export_command.run([f"output_dir={sweep_study.output_dir}", "study_name=t", *args])
    assert _problem_keys(exc) == {key}


def test_a_wsd_trial_exports_as_hfs_warmup_stable_decay(tmp_path):
    """lr_scheduler: wsd (sweep.schedules) is HF's warmup_stable_decay with its decay in steps:
    the same schedule Axolotl's trainer builds; a length in epochs cannot say how many steps."""
    s = _settings(tmp_path)
    wsd = dataclasses.replace(s, train=dataclasses.replace(s.train, lr_scheduler="wsd", max_steps=40))
    out = axolotl_export.axolotl_config(wsd, base_model="/m", output_dir="/o")
    assert out["lr_scheduler"] == "warmup_stable_decay" and out["max_steps"] == 40
    assert out["lr_scheduler_kwargs"] == {"num_decay_steps": 8, "decay_type": "linear"}  # the last 20%
    with pytest.raises(ConfigError) as exc:
        axolotl_export.axolotl_config(wsd, base_model="/m", output_dir="/o", by_epochs=True)
    assert _problem_keys(exc) == {"lr_scheduler"}
