"""End-to-end CPU sweeps through the real engine: outputs, pruning, resume."""

from __future__ import annotations

import csv

import optuna
import yaml

from sweep import engine
from sweep.config import load_config
from tests.conftest import tiny_overrides


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_three_trial_sweep_writes_study_folder(tmp_path):
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=3"))
    summary = engine.run(cfg)
    d = cfg.study_dir
    rows = _rows(d / "trials.csv")
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] in ("COMPLETE", "PRUNED", "FAIL") for r in rows)
    for col in ("value", "learning_rate", "lora_r", "effective_batch_size", "micro_batch_size",
                "gradient_accumulation_steps", "pid", "steps", "tokens_per_s", "peak_memory_mb",
                "wall_time_s", "node", "backend"):
        assert col in rows[0], col
    best = yaml.safe_load((d / "best.yaml").read_text())
    assert best["trial"] == summary.chosen.number and best["value"] == summary.chosen.value
    assert best["lora"]["r"] == summary.chosen.params["lora_r"]
    assert best["train"]["micro_batch_size"] * best["train"]["gradient_accumulation_steps"] == \
        best["train"]["effective_batch_size"]
    assert (d / "best_adapter" / "adapter_config.json").is_file()
    assert (d / "best_adapter" / "TRIAL").read_text().split()[0] == str(summary.chosen.number)
    # only the top keep_adapters=1 trial adapter is kept
    kept = [p.name for p in (d / "trials").iterdir() if (p / "adapter").exists()]
    assert kept == [str(summary.chosen.number)]
    # ... and best_adapter/ shares its bytes (hard links), so the adapter is on disk once
    weights = d / "trials" / kept[0] / "adapter" / "adapter_model.safetensors"
    assert (d / "best_adapter" / "adapter_model.safetensors").stat().st_ino == weights.stat().st_ino
    st = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url())
    t = st.trials[0]
    assert t.intermediate_values and max(t.intermediate_values) == 10
    assert t.user_attrs["effective_batch_size"] == t.params["effective_batch_size"]


def test_resume_adds_only_missing_trials(tmp_path):
    engine.run(load_config(tiny_overrides(tmp_path, "n_trials=2")))
    st = engine.run(load_config(tiny_overrides(tmp_path, "n_trials=3"))).study
    assert len(st.trials) == 3 and [t.number for t in st.trials] == [0, 1, 2]
    st = engine.run(load_config(tiny_overrides(tmp_path, "n_trials=3"))).study
    assert len(st.trials) == 3  # nothing missing: nothing run


def test_resume_with_another_model_is_refused(tmp_path):
    import pytest

    from sweep.errors import ConfigError

    engine.run(load_config(tiny_overrides(tmp_path, "n_trials=1")))
    with pytest.raises(ConfigError, match="different"):
        engine.run(load_config(tiny_overrides(tmp_path, "n_trials=2", "model=tiny_qwen")))


def test_pruner_prunes_a_bad_trial_in_a_real_sweep(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({
        "params": {"learning_rate": {"type": "categorical", "choices": [3e-2, 1e-6]}},
        "fixed": {"max_steps": 20, "effective_batch_size": 4, "warmup_ratio": 0.0},
        "enqueue": [{"learning_rate": 3e-2}, {"learning_rate": 1e-6}],
    }))
    cfg = load_config([f"search_space={space}", "n_trials=2", f"output_dir={tmp_path}", "study_name=p",
                       "pruner=median", "pruner.n_startup_trials=1", "eval.behaviour=false", "train.eval_every=5",
                       "train.num_threads=1"])
    st = engine.run(cfg).study
    states = [t.state.name for t in st.trials]
    assert states == ["COMPLETE", "PRUNED"], states
    assert st.trials[1].user_attrs["prune_reason"].startswith("pruned at step 5")
