"""`python -m sweep.compare`: argument parsing, stand-ins, cost accounting, the table's shape."""

from __future__ import annotations

import csv
import datetime

import optuna
import pytest
import torch
import yaml

from sweep import comparison
from sweep.errors import ConfigError
from tests.conftest import run_cli

torch.set_num_threads(1)


def test_parse_models():
    assert comparison.parse_models(["models=[llama, qwen]", "n_trials=2"]) == (["llama", "qwen"], ["n_trials=2"])
    assert comparison.parse_models(["models=tiny_llama,tiny_qwen"])[0] == ["tiny_llama", "tiny_qwen"]


@pytest.mark.parametrize("args, key", [
    (["n_trials=2"], "models"),
    (["models=[]"], "models"),
    (["models=[llama,llama]"], "models"),
    (["models=[llama", "x=1"], "models"),
    (["models=[llama]", "model=qwen"], "model"),
])
def test_parse_models_errors(args, key):
    with pytest.raises(ConfigError) as err:
        comparison.parse_models(args)
    assert err.value.problems[0].key == key


def test_hub_presets_fall_back_to_tiny_stand_ins(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never reach for the hub in tests
    preset, note = comparison.resolve_preset("llama", [])
    assert preset == "tiny_llama" and "ran tiny_llama instead" in note
    assert comparison.resolve_preset("tiny_qwen", []) == ("tiny_qwen", None)
    with pytest.raises(ConfigError) as err:
        comparison.resolve_preset("gpt5", [])
    assert "tiny_mistral" in err.value.problems[0].fix


def test_sweep_cost_counts_pruned_trials():
    study = optuna.create_study()
    t0 = datetime.datetime(2026, 1, 1)
    study.add_trial(optuna.trial.create_trial(
        value=1.0, params={"effective_batch_size": 8},
        distributions={"effective_batch_size": optuna.distributions.CategoricalDistribution([4, 8])},
        user_attrs={"wall_time_s": 10.0, "steps": 20, "effective_batch_size": 8, "tokens_per_s": 100.0,
                    "train_time_s": 8.0}))
    pruned = optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED, params={"effective_batch_size": 4},
        distributions={"effective_batch_size": optuna.distributions.CategoricalDistribution([4, 8])},
        user_attrs={"effective_batch_size": 4}, intermediate_values={5: 2.0, 10: 1.9})
    pruned.datetime_start, pruned.datetime_complete = t0, t0 + datetime.timedelta(seconds=3)
    study.add_trial(pruned)
    cost = comparison.sweep_cost(study)
    assert cost["trials"] == 2
    assert cost["sweep_wall_s"] == 13.0
    assert cost["train_samples"] == 20 * 8 + 10 * 4
    # 800 tokens over 160 samples = 5 per sample; the pruned trial's 40 samples are estimated
    assert cost["train_tokens"] == 800 + 40 * 5 and cost["tokens_estimated"]


def test_compare_two_tiny_models(tmp_path, capsys):
    space = tmp_path / "one.yaml"
    space.write_text(yaml.safe_dump({"params": {"learning_rate": {"type": "categorical", "choices": [0.01]}},
                                     "fixed": {"max_steps": 3, "effective_batch_size": 4}}))
    out = comparison.run(["tiny_llama", "tiny_qwen"], [
        f"search_space={space}", "n_trials=1", "study_name=cmp", f"output_dir={tmp_path}",
        "train.num_threads=1", "eval.max_examples=6", "eval.max_new_tokens=6"])
    assert out == tmp_path / "cmp"
    with (out / "comparison.csv").open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == comparison.COLUMNS
    assert [(r["model"], r["method"]) for r in rows] == [
        ("tiny_llama", "lora"), ("tiny_llama", "base"), ("tiny_llama", "rag"),
        ("tiny_qwen", "lora"), ("tiny_qwen", "base"), ("tiny_qwen", "rag")]
    for r in rows:
        assert 0.0 <= float(r["stop_rate"]) <= 1.0 and 0.0 <= float(r["hallucination_rate"]) <= 1.0
    lora = [r for r in rows if r["method"] == "lora"]
    for r in lora:
        assert float(r["best_eval_loss"]) > 0 and int(r["trainable_params"]) > 0
        assert float(r["tokens_per_s"]) > 0 and float(r["sweep_wall_s"]) > 0
        assert int(r["train_samples"]) == 3 * 4 and int(r["train_tokens"]) > 0
    assert all(float(r["retrieval_hit_rate"]) > 0 for r in rows if r["method"] == "rag")
    # the base model's eval loss (behaviour.csv), on the rows the trials report on
    for r in rows:
        if r["method"] == "base":
            assert float(r["best_eval_loss"]) > 0
    assert (tmp_path / "cmp_tiny_llama" / "behaviour.csv").is_file()
    md = (out / "comparison.md").read_text()
    assert md.count("| tiny_qwen |") == 3 and "fine-tune vs. retrieve" in md


def test_cli_rejects_bad_models_before_writing(tmp_path):
    res = run_cli("sweep.compare", ["models=[tiny_llama,nope]", f"output_dir={tmp_path}"])
    assert res.returncode == 2
    assert "models" in res.stderr and "nope" in res.stderr
    assert not any(tmp_path.iterdir())
