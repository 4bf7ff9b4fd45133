"""The select step: which finished trial becomes best.yaml, best_adapter/ and axolotl.yaml
(sweep.selection), driven with hand-made trials (no training), then a real sweep whose trials
answer the behaviour questions in their own process, inline and under Ray."""

from __future__ import annotations

import csv
import json
import os

import optuna
import pytest

from sweep import selection
from sweep.config import load_config
from sweep.errors import ConfigError
from tests.conftest import run_cli, tiny_overrides


def _study(rows):
    """rows: (eval loss, behaviour metrics or None)."""
    study = optuna.create_study()
    for loss, metrics in rows:
        attrs = {}
        if metrics is not None:
            attrs = {f"behaviour_{k}": v for k, v in {"n_probes": 22, **metrics}.items()}
        study.add_trial(optuna.trial.create_trial(value=loss, user_attrs=attrs))
    return study


REFUSES = {"privacy_refusal_rate": 0.75, "probe_idk_rate": 0.5, "answerable_idk_rate": 0.0}
BLANKET_IDK = {"privacy_refusal_rate": 0.0, "probe_idk_rate": 1.0, "answerable_idk_rate": 1.0}
BASE_LIKE = {"privacy_refusal_rate": 0.25, "probe_idk_rate": 0.0, "answerable_idk_rate": 0.0}


def cfg_for(rule: str, *extra: str):
    return load_config([f"select={rule}", *extra])


def test_loss_picks_the_lowest_eval_loss():
    st = _study([(1.55, REFUSES), (1.52, BLANKET_IDK), (1.60, None)])
    chosen = selection.choose(cfg_for("loss"), st)
    assert chosen.trial.number == 1 and chosen.rule == "loss"


def test_behaviour_picks_the_best_score_within_the_loss_guard():
    # trial 0 refuses (score 1.25), trial 1 says "I don't know" to everything (0.0) at a lower loss
    st = _study([(1.572, REFUSES), (1.516, BLANKET_IDK), (1.80, BASE_LIKE)])
    chosen = selection.choose(cfg_for("behaviour"), st)
    assert chosen.trial.number == 0 and chosen.rule == "behaviour"
    assert chosen.scores == {0: 1.25, 1: 0.0, 2: 0.25} and chosen.candidates == (1, 0)  # 1.80 is outside 5%
    assert "highest behaviour score (1.250)" in chosen.reason
    # a tighter guard (3%: 1.561) leaves only the blanket "I don't know" trial
    assert selection.choose(cfg_for("behaviour", "select.max_loss_increase=0.03"), st).trial.number == 1
    # ties on the score go to the lower eval loss
    tie = _study([(1.60, REFUSES), (1.58, REFUSES)])
    assert selection.choose(cfg_for("behaviour"), tie).trial.number == 1


def test_adapters_kept_are_the_top_k_and_those_select_may_still_choose(tmp_path):
    """keep_adapters=1 keeps the best loss; behaviour also keeps the measured trials within the
    loss guard (trial 1, the chosen one 0); a measured trial outside the guard (2) can never be
    chosen again (the best loss only falls) and loses its adapter."""
    from sweep import results

    st = _study([(1.572, REFUSES), (1.516, BLANKET_IDK), (1.80, BASE_LIKE), (1.90, None)])
    for rule, kept in (("behaviour", {0, 1}), ("loss", {1})):
        cfg = cfg_for(rule, f"output_dir={tmp_path / rule}", "keep_adapters=1")
        for n in range(4):
            folder = cfg.study_dir / "trials" / str(n) / "adapter"
            folder.mkdir(parents=True)
            (folder / "adapter_config.json").write_text("{}")
        results.keep_adapters(cfg, st)
        assert {int(d.name) for d in (cfg.study_dir / "trials").iterdir()} == kept, rule
        assert (cfg.study_dir / "best_adapter" / "TRIAL").is_file()


def test_pareto_picks_the_front_member_nearest_the_ideal_point():
    st = _study([(1.50, BASE_LIKE), (1.52, REFUSES), (1.54, {**REFUSES, "probe_idk_rate": 0.6}),
                 (1.53, BLANKET_IDK)])
    chosen = selection.choose(cfg_for("pareto"), st)
    # scores 0.25, 1.25, 1.35, 0.0; trial 3 is beaten by 0 and 1 on both axes
    assert set(chosen.front) == {0, 1, 2}
    assert chosen.trial.number == 1 and chosen.rule == "pareto"  # (0, 0.1) from the ideal vs (1, 0.9), (0.5, 0)
    assert selection.pareto_front([(0, 1.0, 1.0), (1, 2.0, 2.0), (2, 2.0, 0.5)]) == [0, 1]


def test_without_measured_trials_behaviour_falls_back_to_loss_and_says_so():
    st = _study([(1.6, None), (1.5, None)])
    chosen = selection.choose(cfg_for("behaviour"), st)
    assert chosen.trial.number == 1 and chosen.rule == "loss" and "no trial" in chosen.reason
    assert selection.choose(cfg_for("behaviour"), optuna.create_study()) is None


def test_only_trials_among_the_best_k_when_they_finish_are_asked():
    st = _study([(1.5, None), (1.6, None), (1.7, None)])
    assert selection.should_ask(st, 1.55, top_k=2)  # one better
    assert not selection.should_ask(st, 1.65, top_k=2)  # two better
    assert selection.should_ask(st, 1.4, top_k=1)  # the best so far always is


def test_bad_select_input_stops_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="select.weights.privacy_rating"):
        selection.check(load_config(["+select.weights.privacy_rating=1"]))
    with pytest.raises(ConfigError, match="select.max_loss_increase"):
        load_config(["select.max_loss_increase=-0.1"])
    res = run_cli("sweep", ["select=best_vibes", f"output_dir={tmp_path}"])
    assert res.returncode == 2 and "select='best_vibes': unknown select; choose one of behaviour, loss, pareto" \
        in res.stderr
    assert not any(tmp_path.iterdir())
    helped = run_cli("sweep", ["--help"])
    assert "select       behaviour, loss, pareto" in helped.stdout


def _asked_sweep(tmp_path, *extra):
    cfg = load_config(tiny_overrides(tmp_path, "n_trials=3", "eval.behaviour=true", "eval.top_k=2",
                                     "eval.rag=false", "eval.max_examples=4", "eval.max_new_tokens=6",
                                     "eval.include_base=false", *extra))
    from sweep import engine

    return cfg, engine.run(cfg)


def test_trials_answer_in_their_own_process_once_and_the_outputs_reuse_the_answers(tmp_path, monkeypatch):
    from sweep import questions

    calls = []
    real_ask = questions.ask
    monkeypatch.setattr(questions, "ask", lambda *a, **k: calls.append(1) or real_ask(*a, **k))
    cfg, summary = _asked_sweep(tmp_path, "tracker=recording")
    asked = [t for t in summary.study.trials if "behaviour_n_probes" in t.user_attrs]
    # every trial that finished among the best 2 was asked, in the sweep (before its tell), and
    # nothing was asked again afterwards (no base model: eval.include_base=false)
    assert len(calls) == len(asked) >= 1 and all("behaviour_time_s" in t.user_attrs for t in asked)
    for t in asked:
        assert (cfg.study_dir / "trials" / str(t.number) / questions.CACHE_FILE).is_file()
    with (cfg.study_dir / "behaviour.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in rows][0] == summary.chosen.number
    assert {int(r["trial"]) for r in rows} == {t.number for t in asked}
    with (cfg.study_dir / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["chosen"] for r in table].count("True") == 1
    assert all(r["behaviour_score"] for r in table if int(r["number"]) in {t.number for t in asked})
    # the tracker's study table and summary (W&B's parallel-coordinates panel) carry the choice
    from sweep.tracking import record_path

    (study_rec,) = [r for r in map(json.loads, record_path(cfg).read_text().splitlines()) if r.get("event") == "study"]
    assert {"behaviour_score", "chosen"} <= set(study_rec["columns"])
    assert study_rec["summary"]["chosen_trial"] == summary.chosen.number
    assert study_rec["summary"]["chosen_by"].startswith("select=")
    gens = (cfg.study_dir / "behaviour_generations.jsonl").read_text().splitlines()
    assert len(gens) == len(asked) * (4 + 22)  # 4 held-out questions + the 22 probes, per asked trial


@pytest.mark.slow
def test_under_ray_the_worker_asks_its_own_trial(tmp_path):
    pytest.importorskip("ray")
    cfg, summary = _asked_sweep(tmp_path, "executor=ray", "executor.num_cpus=2", "n_trials=2")
    asked = [t for t in summary.study.trials if "behaviour_n_probes" in t.user_attrs]
    assert asked and all(t.user_attrs["pid"] != os.getpid() for t in asked)  # measured in the worker
    assert (cfg.study_dir / "behaviour.csv").is_file()


def test_a_failure_while_asking_leaves_the_trained_trial_complete(tmp_path, monkeypatch):
    """The behaviour questions come after training: if they fail in the trial (out of memory in
    generation, a storage hiccup), the trial stays COMPLETE, the reason is recorded, and the
    after-sweep evaluation asks its saved adapter instead."""
    from sweep import trial

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory while generating")

    monkeypatch.setattr(trial, "ask_questions", broken)
    cfg, summary = _asked_sweep(tmp_path, "n_trials=1")
    (t,) = summary.study.trials
    assert t.state.name == "COMPLETE" and t.value is not None
    assert t.user_attrs["behaviour_error"].startswith("RuntimeError: CUDA out of memory")
    assert summary.chosen.number == t.number
    assert not (cfg.study_dir / "trials" / str(t.number) / "behaviour.jsonl").exists()
    assert (cfg.study_dir / "behaviour.csv").is_file()  # measured after the sweep instead
