"""`python -m sweep.retrain from=<best.yaml>`: retrain one configuration, no search.

A tiny real sweep (1 trial) provides best.yaml; retraining it with the same settings must
reproduce the trial's eval loss exactly (same seed, init, example order and micro batch).
"""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution

from sweep import retrain as retrain_command
from sweep import retraining, search_space, trial_settings
from sweep.config import load_config, to_plain
from sweep.errors import ConfigError
from tests.conftest import run_cli, tiny_overrides


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    from sweep import engine

    cfg = load_config(tiny_overrides(tmp_path_factory.mktemp("sweep"), "n_trials=1"))
    engine.run(cfg)
    return cfg.study_dir


def test_retrain_reproduces_the_trial(study_dir, tmp_path):
    settings, _ = retraining.load_settings(study_dir / "best.yaml")
    ran = retraining.retrain(settings, tmp_path / "again", echo=False)
    r = ran["retrain"]
    assert r["final_eval_loss"] == pytest.approx(settings.value, rel=1e-6)
    assert r["steps"] == settings.train.max_steps == 10
    assert [s for s, _ in r["eval_history"]] == [5, 10]
    adapter = tmp_path / "again" / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    # retrain.yaml is itself a valid `from=` input (best.yaml schema)
    again, _ = retraining.load_settings(tmp_path / "again" / "retrain.yaml")
    assert again.value == r["final_eval_loss"] and again.state == "RETRAINED"
    assert again.lora == settings.lora


def test_cli_longer_run_into_default_folder(study_dir):
    res = run_cli("sweep.retrain", [f"from={study_dir}", "max_steps=12"], env={"OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert "final eval loss" in res.stdout and "after 12 steps" in res.stdout
    assert "step 12/12 eval_loss=" in res.stdout
    done = yaml.safe_load((study_dir / "retrain" / "retrain.yaml").read_text())
    assert done["train"]["max_steps"] == 12 and done["retrain"]["steps"] == 12
    assert (study_dir / "retrain" / "adapter" / "adapter_model.safetensors").is_file()


def test_the_old_command_name_still_works_and_names_the_new_one():
    """`python -m sweep.train` (renamed `sweep.retrain`) is kept for one release."""
    res = run_cli("sweep.train", ["--help"])
    assert res.returncode == 0, res.stderr
    assert "`python -m sweep.train` is now `python -m sweep.retrain`" in res.stderr
    assert "from=" in res.stdout  # the retrain command's own help ran


def test_params_round_trip_through_best_yaml(tmp_path):
    """Every setting the trial ran with (sampled or fixed) comes back from best.yaml."""
    cfg = load_config([f"output_dir={tmp_path}", "study_name=s", "eval.behaviour=false"])
    space = search_space.parse({
        "params": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
                   "lora_r": {"type": "categorical", "choices": [8, 16]}},
        "fixed": {"max_steps": 40, "lora_alpha_ratio": 2.0, "lora_dropout": 0.05, "use_rslora": True,
                  "target_modules": "attention", "warmup_ratio": 0.1, "lr_scheduler": "linear",
                  "optimizer": "sgd", "weight_decay": 0.1, "max_grad_norm": 0.3, "effective_batch_size": 4,
                  "chat_template": "chatml"},
    }, targets=cfg.model.target_modules.keys())
    values = {"learning_rate": 3e-4, "lora_r": 16}
    trial = optuna.trial.create_trial(
        params=values, value=1.0, user_attrs={"micro_batch_size": 2, "gradient_accumulation_steps": 2},
        distributions={"learning_rate": FloatDistribution(1e-5, 1e-3, log=True),
                       "lora_r": CategoricalDistribution([8, 16])})
    written = yaml.safe_load(yaml.safe_dump(to_plain(trial_settings.from_trial(cfg, space, trial))))
    settings = trial_settings.from_plain(written, "best.yaml")
    got = retraining.params_from_settings(settings, cfg.model.target_modules.keys())
    want = space.from_values(values)
    assert got.alpha == want.alpha == 32.0
    for name in ("learning_rate", "lora_r", "lora_dropout", "target_modules", "use_rslora", "use_dora",
                 "effective_batch_size", "weight_decay", "warmup_ratio", "lr_scheduler", "optimizer",
                 "max_grad_norm", "max_steps", "num_epochs", "chat_template"):
        assert getattr(got, name) == getattr(want, name), name
    longer = retraining.params_from_settings(settings, num_epochs=3)
    assert longer.max_steps is None and longer.num_epochs == 3
    built = retraining.config_from_settings(settings, tmp_path / "r")
    assert built.train.micro_batch_size == 2  # where the trial ended: no OOM fallback to repeat
    assert built.model == cfg.model and built.data == cfg.data and built.seed == cfg.seed


@pytest.mark.parametrize("args, key", [
    ([], "from"),
    (["from=/x", "bogus=1"], "bogus"),
    (["from=/x", "from=/y"], "from"),
    (["from"], "argument"),
])
def test_bad_arguments(args, key):
    with pytest.raises(ConfigError) as exc:
        retraining.parse_args(args)
    assert [p.key for p in exc.value.problems] == [key]


def test_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        retraining.load_settings(tmp_path / "missing.yaml")
    (tmp_path / "x.yaml").write_text("study_name: s\n")
    with pytest.raises(ConfigError, match="not a best.yaml"):
        retraining.load_settings(tmp_path / "x.yaml")


def test_bad_numbers_stop_before_training(study_dir, tmp_path):
    for arg, fix in (("max_steps=0", "must be > 0"), ("max_steps=2.5", "whole number"),
                     ("num_epochs=x", "must be a number")):
        with pytest.raises(ConfigError, match=fix):
            retrain_command.run([f"from={study_dir}", arg, f"out={tmp_path / 'o'}"])
    with pytest.raises(ConfigError, match="not both"):
        retrain_command.run([f"from={study_dir}", "max_steps=3", "num_epochs=1", f"out={tmp_path / 'o'}"])
    assert not (tmp_path / "o").exists()


def test_float16_weights_on_a_machine_without_cuda_stop_before_the_out_folder(study_dir, tmp_path, monkeypatch):
    import dataclasses

    import torch

    settings, _ = retraining.load_settings(study_dir / "best.yaml")
    fp16 = dataclasses.replace(settings, model=dataclasses.replace(settings.model, dtype="float16"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="model.dtype='float16'.*CUDA GPU"):
        retraining.retrain(fp16, tmp_path / "o", echo=False)
    assert not (tmp_path / "o").exists()
