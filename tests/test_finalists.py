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


def _tied_study(tmp_path=None):
    """Trials 0 (1.00) and 1 (1.02) within noise of each other on the same 4 rows; 2 (1.50) not."""
    from sweep import noise

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}" if tmp_path else None)
    tokens = [10] * 4
    for rows in ([12.0, 8.0, 11.0, 9.0], [14.0, 7.0, 9.0, 10.8], [15.0, 15.0, 15.0, 15.0]):
        value = sum(rows) / sum(tokens)
        study.add_trial(optuna.trial.create_trial(value=value, intermediate_values={4: value},
                                                  user_attrs=noise.as_attrs({"main:4": rows, "tokens": tokens})))
    return study


def test_select_loss_takes_the_lowest_mean_over_seeds():
    """Trial 0 won on its seed by luck (1.00, then 1.20); trial 1 is steadier (1.02, 1.03)."""
    study = _tied_study()
    cfg = load_config(["select=loss", "finalists.seeds=1"])
    assert [t.number for t in finalists.finalists(cfg, study)] == [0, 1]
    assert selection.choose(cfg, study).trial.number == 0  # no reruns yet: the lowest eval loss
    study.set_user_attr(finalists.ATTR, {"0": {"1": 1.20}, "1": {"1": 1.03}})
    chosen = selection.choose(cfg, study)
    assert chosen.trial.number == 1 and "over 2 training seeds" in chosen.reason
    # off again (finalists.seeds=0): the recorded reruns no longer decide
    assert selection.choose(load_config(["select=loss"]), study).trial.number == 0
    # a failed rerun drops that seed for every finalist: nobody wins on one lucky draw
    study.set_user_attr(finalists.ATTR, {"0": {"1": None}, "1": {"1": 1.03}})
    assert finalists.seed_means(cfg, study)[0] == (1.00, 0.0, 1)
    assert finalists.seed_means(cfg, study)[1][2] == 1
    assert selection.choose(cfg, study).trial.number == 0
    # reruns of a trial that is no longer a finalist (a resumed study found a clearly better one)
    # do not compete
    study.set_user_attr(finalists.ATTR, {"0": {"1": 1.20}, "1": {"1": 1.03}, "2": {"1": 0.5}})
    assert set(finalists.seed_means(cfg, study)) == {0, 1}


def test_every_finalists_adapter_is_kept_until_the_reruns_decide(tmp_path):
    """keep_adapters=1 keeps only the leader's adapter; with finalists.seeds the tied trial 1 keeps
    its adapter too, so when its seed mean wins, best_adapter/ is trial 1's."""
    from sweep import results

    study = _tied_study(tmp_path)
    cfg = load_config(["select=loss", "finalists.seeds=1", "keep_adapters=1", f"output_dir={tmp_path}"])
    for n in range(3):
        folder = cfg.study_dir / "trials" / str(n) / "adapter"
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
    results.keep_adapters(cfg, study)  # during the sweep, before any rerun
    assert {int(d.name) for d in (cfg.study_dir / "trials").iterdir()} == {0, 1}
    study.set_user_attr(finalists.ATTR, {"0": {"1": 1.20}, "1": {"1": 1.03}})
    results.keep_adapters(cfg, study)
    assert (cfg.study_dir / "best_adapter" / "TRIAL").read_text().split()[0] == "1"


@pytest.mark.parametrize(("override", "key"), [("finalists.seeds=-1", "finalists.seeds"),
                                               ("finalists.z=0", "finalists.z")])
def test_bad_finalists_settings_are_refused(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config([override])


def test_finalists_wait_while_another_process_still_runs_trials(capsys):
    """Several processes on one study: the first to finish does not rerun finalists while trials
    of the others still run (they may change who the finalists are)."""
    from sweep import retraining, search_space

    study = _tied_study()
    study.ask()  # a trial another process is running
    cfg = load_config(["finalists.seeds=1"])
    assert retraining.train_finalists(cfg, search_space.load_for_config(cfg), study) == [0, 1]
    assert "still running" in capsys.readouterr().err and finalists.recorded(study) == {}
