"""`python -m sweep` as a user runs it: exit status 2 and one line for bad input, nothing
written; the issue's resume command adds exactly the missing trials."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import run_cli


def _bad(tmp_path, *args, env=None):
    out = tmp_path / "out"
    res = run_cli("sweep", [f"output_dir={out}", "study_name=s", "eval.behaviour=false", *args], env=env)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert not (out / "s").exists()
    return lines[0]


def test_unknown_preset_exits_2_with_one_line(tmp_path):
    line = _bad(tmp_path, "model=llama4")
    assert "model='llama4'" in line and "tiny_llama" in line


def test_malformed_data_file_names_file_and_line(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                          {"role": "assistant", "content": "a"}]}) + "\n{oops\n")
    line = _bad(tmp_path, f"data.path={f}")
    assert f"{f}:2" in line and "data.path" in line


def test_impossible_space_exits_2(tmp_path):
    f = tmp_path / "space.yaml"
    f.write_text("params:\n  learning_rate: {type: float, low: 0.1, high: 0.01, log: true}\n")
    line = _bad(tmp_path, f"search_space={f}")
    assert "search_space.params.learning_rate" in line and "low" in line


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("args", "key"), [
    (["executor.cpus_per_trial=512"], "executor.cpus_per_trial=512"),
    (["executor.gpus_per_trial=0.5"], "executor.gpus_per_trial=0.5"),
    (["executor.address=127.0.0.1:{port}"], "executor.address='127.0.0.1:{port}'"),
])
def test_ray_cluster_problems_exit_2_before_the_study_is_opened(tmp_path, args, key):
    """Found in preflight: no local Ray is started for the first two, the address is probed."""
    port = _free_port()  # nothing listens there: unreachable
    line = _bad(tmp_path, "executor=ray", *(a.format(port=port) for a in args),
                env={"CUDA_VISIBLE_DEVICES": "", "RAY_ADDRESS": ""})
    assert key.format(port=port) in line, line


@pytest.mark.slow
def test_issue_command_then_resume_adds_exactly_two(tmp_path):
    args = ["model=tiny_qwen", "search_space=quick", "study_name=x", f"output_dir={tmp_path}",
            "eval.behaviour=false", "train.num_threads=1", "+fixed.max_steps=10"]
    res = run_cli("sweep", [*args, "n_trials=4"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "study x: 4 finished trials" in res.stdout
    assert "[trial 3 | 4/4]" in res.stderr  # live progress view
    res = run_cli("sweep", [*args, "n_trials=6"])
    assert res.returncode == 0, res.stderr[-2000:]
    with open(tmp_path / "x" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3, 4, 5]
    assert not [c for c in rows[0] if "eval_rows" in c]  # per-row NLLs stay in storage, not the table
    assert "[trial 4 | 5/6]" in res.stderr and "[trial 5 | 6/6]" in res.stderr


def test_help_lists_groups_options_and_keys():
    res = run_cli("sweep", ["--help"])
    assert res.returncode == 0
    out = res.stdout
    for line in ("pruner       hyperband, median, none, successive_halving",
                 "model        llama, mistral, qwen, smollm2, tiny_llama, tiny_mistral, tiny_qwen"):
        assert line in out, out
    assert "search_space" in out and "quick" in out and "n_trials" in out and "+fixed.NAME=VALUE" in out
