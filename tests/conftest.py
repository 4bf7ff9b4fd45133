"""Test environment: offline, hermetic caches, one torch thread, no W&B/HF network.

The shipped default model is the real SmolLM2-135M-Instruct (minutes per sweep on a CPU). Tests
run on the tiny local models instead: every config composed in a test (in this process, through
`hydra.compose`, and in the sweep subprocesses `run_cli` starts) gets `model=tiny_llama` unless
it names a model itself. A test marked `shipped_default` composes the real defaults
(tests/test_config.py checks them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "offline")
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("SWEEP_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "test"))

REPO = Path(__file__).resolve().parent.parent
TEST_MODEL = "model=tiny_llama"


def with_test_model(overrides) -> list[str]:
    """`overrides` with `model=tiny_llama` first, unless they choose a model themselves."""
    overrides = list(overrides)
    if any(o.lstrip("+~").startswith("model=") for o in overrides):
        return overrides
    return [TEST_MODEL, *overrides]


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        has_cuda = False
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)
    from sweep.console import quiet_libraries

    quiet_libraries()


_SHIPPED = [False]  # True inside a test marked `shipped_default`


@pytest.fixture(autouse=True, scope="session")
def _tiny_model_by_default():
    """Compose every config of the run with the tiny model unless it names one (see the
    docstring). Session-wide, so module- and session-scoped fixtures that run sweeps get it too."""
    import hydra

    real = hydra.compose

    def compose(config_name=None, overrides=None, **kw):
        if config_name == "config" and not _SHIPPED[0]:
            overrides = with_test_model(overrides or [])
        return real(config_name=config_name, overrides=overrides, **kw)

    hydra.compose = compose
    yield
    hydra.compose = real


@pytest.fixture(autouse=True)
def _shipped_default(request):
    """A test marked `shipped_default` composes the shipped defaults (the real model)."""
    _SHIPPED[0] = request.node.get_closest_marker("shipped_default") is not None
    yield
    _SHIPPED[0] = False


def tiny_overrides(tmp_path: Path, *extra: str) -> list[str]:
    """A fast sweep: quick space, 2 trials, no behaviour eval, one thread."""
    return ["search_space=quick", "n_trials=2", f"output_dir={tmp_path}", "study_name=t",
            "eval.behaviour=false", "train.num_threads=1", "+fixed.max_steps=10", "train.eval_every=5",
            *extra]


def run_cli(module: str, args: list[str], cwd: Path | None = None, env: dict | None = None):
    """Run `python -m module args` in a subprocess, return CompletedProcess."""
    import subprocess

    e = {**os.environ, **(env or {})}
    if module == "sweep" and "--help" not in args:
        args = with_test_model(args)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd or REPO, env=e,
                          capture_output=True, text=True, timeout=600)
