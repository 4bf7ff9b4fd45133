"""Secrets stay out, with the real components: offline W&B writing its run files, and Ray
writing its session logs (driver, raylet, every worker's stdout/stderr).

Tokens are placed in the sweep's environment (W&B's API key, a Hugging Face token); after a
whole `python -m sweep` under each executor, no byte of any file it or its libraries wrote (the
study folder, the W&B folder, the Ray session folder) nor of its console output holds one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO, with_test_model

SECRETS = {"WANDB_API_KEY": "0123456789abcdef0123456789abcdef5ecret42",  # 40 characters, as W&B's
           "HF_TOKEN": "hf_sEcReTtOkEn0123456789abcdefXYZ"}


def _leaks(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{name} in {path}" for name, value in SECRETS.items() if value.encode() in data]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "ray"])
def test_no_token_reaches_wandb_files_ray_logs_or_any_output(tmp_path, executor):
    pytest.importorskip("wandb")
    ray_tmp = Path(tempfile.mkdtemp(prefix="rs", dir="/tmp"))  # short: Ray's socket paths are length-limited
    try:
        env = {**os.environ, **SECRETS, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path / "wandb"),
               "WANDB_CONFIG_DIR": str(tmp_path / "wandb" / "config"), "WANDB_CACHE_DIR": str(tmp_path / "wandb" / "cache"),
               "WANDB_DATA_DIR": str(tmp_path / "wandb" / "data"), "HOME": str(tmp_path / "home"),
               "RAY_TMPDIR": str(ray_tmp)}
        env.pop("RAY_ADDRESS", None)
        args = ["search_space=quick", "n_trials=2", f"output_dir={tmp_path / 'out'}", "study_name=s",
                "eval.behaviour=false", "train.num_threads=1", "+fixed.max_steps=4", "train.eval_every=2",
                "tracker=wandb", f"executor={executor}", "executor.num_cpus=2"]
        res = subprocess.run([sys.executable, "-m", "sweep", *with_test_model(args)], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        # the places under test were really written
        runs = sorted((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
        assert len(runs) == 3 and all(any(r.glob("*.wandb")) for r in runs), runs  # 2 trials + summary
        assert (tmp_path / "out" / "s" / "trials.csv").is_file()
        if executor == "ray":
            logs = list(ray_tmp.rglob("logs/worker-*.out")) + list(ray_tmp.rglob("logs/worker-*.err"))
            assert logs and any(p.stat().st_size for p in logs), "no Ray worker logs were written"
        leaks = _leaks(tmp_path) + _leaks(ray_tmp)
        for name, value in SECRETS.items():
            if value in res.stdout or value in res.stderr:
                leaks.append(f"{name} in the console output")
        assert not leaks, leaks
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
