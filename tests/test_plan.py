"""`python -m sweep.plan`: every use case prints a command that composes into a valid config and
search space; budgets follow dataset size and GPU memory; bad input is one line, exit 2."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweep import plan as plan_command
from sweep import planning
from sweep.config import SEARCH_SPACE_DIR, load_config
from sweep.errors import ConfigError
from sweep.search_space import load_for_config as load_space

REPO = Path(__file__).resolve().parent.parent
USE_CASES = list(planning.USE_CASES)


def printed_overrides(capsys, args: list[str]) -> list[str]:
    """Run the planner in-process and parse the one `python -m sweep ...` line it prints."""
    assert plan_command.run(args) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines()
             if ln.strip().startswith("python -m sweep ")]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    assert words[:3] == ["python", "-m", "sweep"]
    return words[3:]


def compose(overrides: list[str], tmp_path: Path):
    cfg = load_config([*overrides, f"output_dir={tmp_path}", "eval.behaviour=false"])
    return cfg, load_space(cfg)


@pytest.mark.parametrize("use_case", USE_CASES)
def test_every_use_case_prints_a_command_that_composes(capsys, tmp_path, use_case):
    overrides = printed_overrides(capsys, [f"use_case={use_case}", "examples=260"])
    cfg, space = compose(overrides, tmp_path)
    uc = planning.USE_CASES[use_case]
    assert cfg.search_space == uc.search_space == use_case
    assert cfg.objective == uc.objective
    assert (cfg.data.format == "preference") == (uc.objective == "orpo")
    # the budget is pinned on the command line and wins over the space's own `fixed`
    (key, value), = cfg.fixed.items()
    assert key in ("num_epochs", "max_steps")
    assert getattr(space.from_values({}), key) == value
    assert {p.name for p in space.params} == set(planning.space_dimensions(use_case))
    assert 1 <= cfg.train.eval_every <= cfg.pruner.n_warmup_steps
    # the warm-up holds for the configured (default) pruner: its first rung is not before it
    from sweep.pruning import make_pruner

    pruner = make_pruner(cfg)
    assert pruner._min_resource >= cfg.pruner.n_warmup_steps, (cfg.pruner.name, pruner._min_resource)


@pytest.mark.parametrize(("args", "expect"), [
    # 7B on 16 GB: 16-bit LoRA does not fit, QLoRA does
    (["use_case=knowledge", "model=mistral", "gpu_memory_gb=16", "examples=260"],
     {"model.load_in_4bit": True, "num_epochs": 3}),
    # 7B on 80 GB: no quantization; a huge preference set caps each trial's steps
    (["use_case=safety", "model=mistral", "gpu_memory_gb=80", "examples=200000"],
     {"model.load_in_4bit": False, "max_steps": planning.MAX_TRIAL_STEPS}),
    # knowledge never trains on a prefix: whole epochs, fewer of them
    (["use_case=knowledge", "model=qwen", "gpu_memory_gb=24", "examples=100000"],
     {"model.load_in_4bit": False, "num_epochs": 1}),
    # tiny sets get a floor of steps so the pruner has evals to compare
    (["use_case=style", "examples=60"], {"model.load_in_4bit": False, "max_steps": 20}),
])
def test_budget_and_precision_follow_data_and_gpu(capsys, tmp_path, args, expect):
    overrides = printed_overrides(capsys, args)
    cfg, _ = compose(overrides, tmp_path)
    assert cfg.model.load_in_4bit is expect["model.load_in_4bit"]
    key = "num_epochs" if "num_epochs" in expect else "max_steps"
    assert cfg.fixed == {key: expect[key]}
    assert planning.MIN_TRIALS <= cfg.n_trials <= planning.MAX_TRIALS


def test_plan_numbers_for_the_shipped_knowledge_set():
    p = planning.make_plan({"use_case": "knowledge", "examples": "260"})
    # 260 rows / 16 = 17 steps per epoch, 3 epochs; 5 searched dims -> 5 start-up + 4 x 5 trials
    assert (p.steps_per_epoch, p.budget_key, p.budget_value, p.trial_steps) == (17, "num_epochs", 3, 51)
    assert p.n_trials == 25
    assert (p.eval_every, p.prune_after) == (5, 11)  # ~10 evals, pruning from 20% of the trial
    assert p.quantized is False and p.micro_batch_size is None  # toy model: CPU


def test_orpo_gets_half_the_micro_batch_of_sft():
    args = {"model": "mistral", "gpu_memory_gb": "40", "examples": "1000"}
    sft = planning.make_plan({"use_case": "chat", **args})
    orpo = planning.make_plan({"use_case": "safety", **args})
    assert orpo.micro_batch_size < sft.micro_batch_size


def test_model_size_is_read_from_the_preset():
    assert planning.params_billions(planning.read_preset("mistral")) == 7.0
    assert planning.params_billions(planning.read_preset("qwen")) == 0.5
    assert planning.params_billions(planning.read_preset("llama")) == 1.0
    assert planning.params_billions(planning.read_preset("tiny_qwen")) == 0.0
    assert planning.params_billions({"hub_id": "org/Mixtral-8x7B"}) is None  # not guessed


@pytest.mark.parametrize(("args", "key", "fix"), [
    (["use_case=knowledge", "model=gpt5"], "model", "tiny_llama"),
    (["use_case=knowledge", "model=mistral", "gpu_memory_gb=4"], "gpu_memory_gb", "4-bit"),
    (["use_case=knowledge", "gpu_memory_gb=-1"], "gpu_memory_gb", "positive"),
    (["use_case=knowledge", "examples=many"], "examples", "positive integer"),
    (["use_case=knowledge", "epochs=3"], "epochs", "known: use_case"),
    (["knowledge"], "argument", "key=value"),
    ([], "use_case", "knowledge, style"),
])
def test_bad_input_names_key_and_fix(args, key, fix):
    problems = planning.Problems()
    with pytest.raises(ConfigError) as err:
        planning.make_plan(planning.parse_args(args, problems), problems)
    assert any(p.key == key and fix in p.fix for p in err.value.problems), err.value.message()


def test_all_problems_are_reported_at_once():
    problems = planning.Problems()
    with pytest.raises(ConfigError) as err:
        planning.make_plan(planning.parse_args(["use_case=x", "model=y", "examples=0", "z"], problems), problems)
    assert {p.key for p in err.value.problems} == {"use_case", "model", "examples", "argument"}


def test_unknown_use_case_exits_2_with_one_line_listing_them():
    proc = subprocess.run([sys.executable, "-m", "sweep.plan", "use_case=poetry"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert all(name in lines[0] for name in USE_CASES) and "poetry" in lines[0]


@pytest.mark.parametrize("name", [*USE_CASES, "orpo"])
def test_shipped_spaces_comment_every_searched_knob(name):
    """Each searched parameter has a trade-off comment on its line or right above it."""
    path = SEARCH_SPACE_DIR / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text())
    lines = path.read_text().splitlines()
    for param in raw["params"]:
        i = next(i for i, ln in enumerate(lines) if re.match(rf"\s+{param}:", ln))
        assert "#" in lines[i] or lines[i - 1].strip().startswith("#"), f"{name}.yaml: {param} has no comment"
    if name in ("safety", "orpo"):
        assert "orpo_lambda" in raw["params"]


def test_the_plan_sizes_memory_with_the_estimate_that_places_trials():
    """One memory model: the plan's GB figure is `sweep.memory.estimate` of the preset's shape
    (the same function `memory.Planner` places every trial with), and a packaged preset's size
    comes from its shape, not from a guess (SmolLM2 was planned as a 7B model)."""
    from sweep import memory

    p = planning.make_plan({"use_case": "chat", "model": "llama", "gpu_memory_gb": "24"})
    dims = memory.PUBLISHED_DIMS["meta-llama/Llama-3.2-1B-Instruct"]
    shape = memory.TrainShape(micro_batch_size=p.micro_batch_size, seq_len=planning.PLANNING_SEQ_LEN,
                              lora_r=planning.PLANNING_RANK, dtype="bfloat16")
    assert f"~{memory.estimate(dims, shape).gpu_mb() / 1024:.1f} GB of 24 GB" in p.memory_note
    assert p.params_b == 1.24
    small = planning.make_plan({"use_case": "chat", "model": "smollm2"})
    assert small.params_b == 0.135 and not small.quantized
    assert not hasattr(planning, "BYTES_PER_PARAM") and not hasattr(planning, "memory_gb")
