"""The lm-evaluation-harness task a sweep exports, run by the real `lm_eval` (its own venv,
.venv-lmeval, built by scripts/setup_lm_eval_venv.sh), offline, on the tiny local model and the
sweep's best adapter: the consumer loads the YAML, reads the JSONL, applies the adapter and
scores every row. Missing venv: skipped locally, a failure in CI (CI=true)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from sweep import engine, models
from sweep.config import load_config
from tests.conftest import REPO

LM_EVAL = REPO / ".venv-lmeval" / "bin" / "lm_eval"


@pytest.fixture(scope="module")
def lm_eval_bin() -> Path:
    if LM_EVAL.exists():
        return LM_EVAL
    msg = f"{LM_EVAL} is missing: run scripts/setup_lm_eval_venv.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def test_the_exported_task_runs_in_lm_eval_on_the_best_adapter(tmp_path, lm_eval_bin):
    cfg = load_config([f"output_dir={tmp_path}", "study_name=lmeval", "search_space=quick", "n_trials=1",
                       "+fixed.max_steps=4", "train.eval_every=2", "train.num_threads=1", "eval.rag=false",
                       "eval.include_base=false", "eval.max_examples=4", "eval.max_new_tokens=8",
                       "eval.probes=false"])
    engine.run(cfg)
    folder = cfg.study_dir / "lm_eval"
    task = yaml.safe_load((folder / "sweep_lmeval.yaml").read_text())
    n_rows = len((folder / "sweep_lmeval.jsonl").read_text().splitlines())
    adapter = cfg.study_dir / "best_adapter"
    out = tmp_path / "lm_eval_out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(lm_eval_bin), "--model", "hf", "--model_args",
         f"pretrained={models.resolve(cfg.model)},peft={adapter},tokenizer={adapter},dtype=float32",
         "--include_path", str(folder), "--tasks", task["task"], "--batch_size", "1", "--device", "cpu",
         "--limit", "6", "--output_path", str(out), "--log_samples"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    scores = results["results"][task["task"]]
    assert "exact_match,none" in scores and 0.0 <= scores["exact_match,none"] <= 1.0
    (samples_file,) = out.rglob(f"samples_{task['task']}_*.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert len(samples) == min(6, n_rows)
    # lm-eval fed our prompts as written (no chat template of its own) and used our stop strings
    first = json.loads((folder / "sweep_lmeval.jsonl").read_text().splitlines()[0])
    assert samples[0]["arguments"]["gen_args_0"]["arg_0"] == first["prompt"]
    assert samples[0]["arguments"]["gen_args_0"]["arg_1"]["until"] == task["generation_kwargs"]["until"]
