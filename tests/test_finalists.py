"""Extra training seeds for the finalists tied within noise (sweep.finalists, `finalists.seeds`):
a real tiny sweep whose two trials cannot be told apart, then the choice by seed mean."""

from __future__ import annotations

import csv

import optuna
import pytest

from sweep import engine, finalists, selection
from sweep.config import load_config
from sweep.errors import ConfigError
from tests.conftest import tiny_overrides


def test_tied_finalists_are_trained_with_more_seeds_once(tmp_path, capsys):
    """Two trials of one configuration: the same loss on the same rows (tied). With
    finalists.seeds=1 each is trained again with seed 1: another data order and init, so another
    loss, the same for both (a seeded run is deterministic); a resumed sweep trains nothing."""
    space = tmp_path / "one.yaml"
    space.write_text("params:\n  learning_rate: {type: categorical, choices: [0.001]}\n"
                     "fixed: {lora_r: 4, effective_batch_size: 4}\n")
    cfg = load_config(tiny_overrides(tmp_path, f"search_space={space}", "pruner=none", "select=loss",
                                     "finalists.seeds=1", "sampler=random"))
    summary = engine.run(cfg)
    captured = capsys.readouterr()
    trials = summary.study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert trials[0].value == trials[1].value
    runs = finalists.recorded(summary.study)
    assert set(runs) == {0, 1} and all(set(seeds) == {1} for seeds in runs.values())
    assert runs[0][1] == runs[1][1] and runs[0][1] != trials[0].value
    means = finalists.seed_means(cfg, summary.study)
    assert means[0][2] == 2 and means[0][0] == pytest.approx((trials[0].value + runs[0][1]) / 2)
    assert "statistically tied with the lowest eval loss (trial 0" in captured.out
    assert "finalists over 2 training seeds" in captured.out
    assert "2 more training runs (seeds 1)" in captured.err
    assert "lowest mean eval loss over 2 training seeds among the finalists" in captured.out
    rows = {r["number"]: r for r in csv.DictReader((cfg.study_dir / "trials.csv").open())}
    assert float(rows["0"]["seed_mean_eval_loss"]) == pytest.approx(means[0][0], abs=1e-6)
    assert rows["0"]["n_seeds"] == "2" and rows["1"]["chosen"] == "False"
    # resumed: the reruns are on the study, nothing is trained again
    engine.run(cfg)
    assert "more training runs" not in capsys.readouterr().err


def test_select_loss_takes_the_lowest_mean_over_seeds():
    """Trial 0 won on its seed by luck (1.00, then 1.20); trial 1 is steadier (1.02, 1.03)."""
    study = optuna.create_study()
    for value in (1.00, 1.02, 1.50):
        study.add_trial(optuna.trial.create_trial(value=value))
    cfg = load_config(["select=loss", "finalists.seeds=1"])
    assert selection.choose(cfg, study).trial.number == 0  # no reruns yet: the lowest eval loss
    study.set_user_attr(finalists.ATTR, {"0": {"1": 1.20}, "1": {"1": 1.03}})
    chosen = selection.choose(cfg, study)
    assert chosen.trial.number == 1 and "over 2 training seeds" in chosen.reason
    # a failed rerun (None) does not count: trial 0's mean is its own loss
    study.set_user_attr(finalists.ATTR, {"0": {"1": None}, "1": {"1": 1.03}})
    assert finalists.seed_means(cfg, study)[0] == (1.00, 0.0, 1)
    assert selection.choose(cfg, study).trial.number == 0


@pytest.mark.parametrize(("override", "key"), [("finalists.seeds=-1", "finalists.seeds"),
                                               ("finalists.z=0", "finalists.z")])
def test_bad_finalists_settings_are_refused(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config([override])
