"""Search-space parsing, validation and suggestion (Optuna's vocabulary)."""

from __future__ import annotations

import optuna
import pytest

from sweep import search_space
from sweep.errors import ConfigError
from sweep.search_space import TrialParams, parse

TARGETS = ("attention", "all_linear")


def test_shipped_spaces_parse_and_suggest():
    for name in ("default", "quick"):
        space = search_space.load(name, targets=TARGETS)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(5):
            trial = study.ask()
            p = space.suggest(trial)
            assert isinstance(p, TrialParams)
            assert set(trial.params) == {q.name for q in space.params}
            study.tell(trial, 1.0)


def test_default_space_covers_the_issue_dimensions_and_enqueues_known_good():
    space = search_space.load("default", targets=TARGETS)
    names = {p.name for p in space.params}
    assert {"lora_r", "lora_alpha_ratio", "lora_dropout", "learning_rate", "effective_batch_size",
            "target_modules", "use_rslora", "weight_decay", "warmup_ratio", "num_epochs"} <= names
    lr = next(p for p in space.params if p.name == "learning_rate")
    assert lr.log and lr.low > 0
    assert space.enqueue and space.enqueue[0]["learning_rate"] == 2e-4


def test_suggest_respects_ranges_and_derives_alpha():
    space = parse({"params": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True},
                              "lora_r": {"type": "int", "low": 4, "high": 16, "step": 4}},
                   "fixed": {"lora_alpha_ratio": 2.0, "max_steps": 12}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        p = space.suggest(study.ask())
        assert 1e-4 <= p.learning_rate <= 1e-3
        assert p.lora_r in (4, 8, 12, 16)
        assert p.alpha == 2 * p.lora_r
        assert p.total_steps(1000) == 12


def test_total_steps_from_epochs():
    p = TrialParams(num_epochs=2, effective_batch_size=16)
    assert p.total_steps(100) == 13  # ceil(2 * 100 / 16)


def test_command_line_fixed_wins_and_removes_dimension():
    space = search_space.load("quick", cli_fixed={"lora_r": 32}, targets=TARGETS)
    assert "lora_r" not in {p.name for p in space.params}
    assert space.suggest(optuna.trial.FixedTrial({"learning_rate": 1e-3, "effective_batch_size": 4})).lora_r == 32


def test_grid_values():
    space = parse({"params": {"lora_r": {"type": "categorical", "choices": [4, 8]},
                              "learning_rate": {"type": "float", "low": 0.001, "high": 0.003, "step": 0.001}}})
    grid = space.grid()
    assert grid["lora_r"] == [4, 8] and len(grid["learning_rate"]) == 3
    with pytest.raises(ConfigError, match="grid sampler needs choices"):
        parse({"params": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-3}}}).grid()


@pytest.mark.parametrize("spec, needle", [
    ({"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-4}}, "low <= high"),
    ({"learning_rate": {"type": "float", "low": 0.0, "high": 1e-3, "log": True}}, "low > 0"),
    ({"lora_r": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"lora_r": {"type": "normal", "low": 1, "high": 2}}, "float, int or categorical"),
    ({"lora_rank": {"type": "int", "low": 4, "high": 8}}, "unknown parameter"),
    ({"lora_r": {"type": "int", "low": -8, "high": 8}}, "positive integer"),
    ({"lora_r": {"type": "categorical", "choices": [8, -4]}}, "positive integer"),
    ({"lora_dropout": {"type": "float", "low": 0.0, "high": 1.5}}, "[0, 1)"),
    ({"target_modules": {"type": "categorical", "choices": ["mlp_only"]}}, "target modules"),
    ({"optimizer": {"type": "categorical", "choices": ["lion"]}}, "optimizer"),
    ({"learning_rate": {"type": "float", "low": "a", "high": 1e-3}}, "must be a number"),
])
def test_bad_space_is_one_error_naming_key_value_fix(spec, needle):
    with pytest.raises(ConfigError) as err:
        parse({"params": spec}, targets=TARGETS)
    msg = err.value.message()
    assert "search_space.params." in msg and needle in msg


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as err:
        parse({"params": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-4},
                          "lora_r": {"type": "categorical", "choices": []}}})
    assert len(err.value.problems) == 2


def test_missing_space_file_names_known_spaces():
    with pytest.raises(ConfigError, match="default"):
        search_space.load("does_not_exist")


def test_space_from_path(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("params:\n  lora_r: {type: categorical, choices: [2, 4]}\n")
    assert search_space.load(str(f)).params[0].choices == (2, 4)
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {lora_r: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        search_space.load(str(bad))
