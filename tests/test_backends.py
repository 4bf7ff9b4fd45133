"""Backends: `auto` resolution, the Unsloth refusal, and Unsloth's argument mapping.

Unsloth is never imported in the test process (it patches transformers, trl and peft at import).
Its wiring is checked against a stand-in `unsloth` module placed in `sys.modules`; the real
thing runs only in the `gpu` test, which is skipped without CUDA or without unsloth.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from sweep import backends
from sweep.backends.peft import LoraSettings, peft_config
from sweep.backends.unsloth import UnslothBackend, unsloth_load_kwargs, unsloth_peft_kwargs
from sweep.config import ModelConfig
from sweep.errors import ConfigError
from tests.conftest import TEST_MODEL

ROOT = Path(__file__).resolve().parent.parent
LORA = LoraSettings(r=16, alpha=32.0, dropout=0.05,
                    target_modules=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                    use_rslora=True, use_dora=False)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SWEEP_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- resolution


@pytest.mark.parametrize(("cuda", "installed", "expected"), [
    (False, False, "peft"), (False, True, "peft"), (True, False, "peft"), (True, True, "unsloth")])
def test_auto_picks_unsloth_only_with_cuda_and_the_package(monkeypatch, cuda, installed, expected):
    monkeypatch.setattr(backends, "cuda_available", lambda: cuda)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: installed)
    assert backends.resolve_name("auto") == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_auto_is_peft_on_this_cpu_machine():
    assert backends.resolve_name("auto") == "peft"
    assert backends.get("peft").name == "peft"


def test_peft_is_never_refused(monkeypatch):
    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: False)
    assert backends.resolve_name("peft") == "peft"


@pytest.mark.parametrize(("cuda", "installed", "hint"), [
    (False, True, "CUDA"),  # no GPU
    (True, False, "pip install -e .[unsloth]"),  # no package
])
def test_unsloth_without_gpu_or_package_is_refused(monkeypatch, cuda, installed, hint):
    monkeypatch.setattr(backends, "cuda_available", lambda: cuda)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: installed)
    with pytest.raises(ConfigError) as err:
        backends.resolve_name("unsloth")
    (problem,) = err.value.problems
    assert (problem.key, problem.value) == ("backend", "unsloth")
    assert hint in problem.fix and "backend=peft" in problem.fix


def test_cli_refuses_unsloth_without_gpu_before_writing_anything(tmp_path):
    out = tmp_path / "out"
    # CUDA_VISIBLE_DEVICES="" hides any GPU, so the refusal is the same on every machine.
    proc = subprocess.run(
        [sys.executable, "-m", "sweep", TEST_MODEL, "backend=unsloth", f"output_dir={out}", "study_name=refused",
         "n_trials=1", "search_space=quick"],
        cwd=tmp_path, env=_env(tmp_path, CUDA_VISIBLE_DEVICES=""), capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: invalid input: backend='unsloth': Unsloth needs a CUDA GPU")
    assert "backend=peft" in lines[0]
    assert not out.exists()  # no study folder, no study.db
    assert not (tmp_path / "cache").exists()  # not even the tiny model was built


def test_only_the_gpu_extras_pull_unsloth_or_bitsandbytes():
    """The CPU install (scripts/install.sh: `pip install -e .[test,dashboard]`) never asks for
    unsloth or its CUDA stack; only the GPU extras (`unsloth`, `qlora`) do."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    gpu_only = ("unsloth", "xformers", "bitsandbytes", "triton")
    gpu_extras = ("unsloth", "qlora")

    def names(reqs: list[str]) -> set[str]:
        return {re.match(r"[A-Za-z0-9_.-]+", r.strip()).group(0).lower() for r in reqs}

    assert not names(project["dependencies"]) & set(gpu_only)
    extras = project["optional-dependencies"]
    assert "unsloth" in names(extras["unsloth"]) and "bitsandbytes" in names(extras["qlora"])
    cpu_extras = re.search(r'-e "\.\[([a-z,]+)\]"', (ROOT / "scripts" / "install.sh").read_text()).group(1)
    assert not set(cpu_extras.split(",")) & set(gpu_extras)
    for extra, reqs in extras.items():
        if extra not in gpu_extras:
            assert not names(reqs) & set(gpu_only), extra


# --------------------------------------------------------------------------- the mapping


def test_importing_the_backend_does_not_import_unsloth(tmp_path):
    # A booby-trapped `unsloth` on the path: any import of it fails the child process.
    trap = tmp_path / "trap" / "unsloth"
    trap.mkdir(parents=True)
    (trap / "__init__.py").write_text("raise SystemExit('unsloth was imported')\n")
    code = (
        "import sys\n"
        "import sweep.backends.unsloth as u\n"
        "from sweep import backends\n"
        "from sweep.backends.peft import LoraSettings\n"
        "from sweep.config import ModelConfig\n"
        "b = backends.get('unsloth')\n"
        "assert b.name == 'unsloth'\n"
        "u.unsloth_load_kwargs('/m', ModelConfig(name='m', family='llama'), 128)\n"
        "u.unsloth_peft_kwargs(LoraSettings(8, 16.0, 0.0, ('q_proj',)), True, 0)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('unsloth', 'unsloth_zoo', 'trl')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    env = _env(tmp_path, PYTHONPATH=os.pathsep.join([str(tmp_path / "trap"), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_load_kwargs_for_a_16_bit_preset():
    model = ModelConfig(name="tiny_llama", family="llama")
    assert unsloth_load_kwargs("/models/tiny", model, 256) == {
        "model_name": "/models/tiny",
        "max_seq_length": 256,
        "dtype": None,  # auto: Unsloth picks bf16 where supported, else fp16
        "load_in_4bit": False,  # Unsloth's own default is True: must be explicit
        "load_in_8bit": False,
        "full_finetuning": False,
        "use_exact_model_name": True,
        "fix_tokenizer": False,
        "trust_remote_code": False,
        "revision": None,
        "use_gradient_checkpointing": False,
    }


def test_load_kwargs_for_a_qlora_preset():
    model = ModelConfig(name="llama", family="llama", hub_id="meta-llama/Llama-3.2-1B", load_in_4bit=True,
                        dtype="bfloat16", trust_remote_code=True, revision="abc123")
    kw = unsloth_load_kwargs("meta-llama/Llama-3.2-1B", model, 2048, gradient_checkpointing=True)
    assert kw["load_in_4bit"] is True and kw["load_in_8bit"] is False
    assert kw["dtype"] is torch.bfloat16
    assert (kw["trust_remote_code"], kw["revision"]) == (True, "abc123")
    assert kw["use_gradient_checkpointing"] == "unsloth"
    assert kw["max_seq_length"] == 2048


def test_peft_kwargs_carry_every_sampled_setting():
    assert unsloth_peft_kwargs(LORA, True, 7) == {
        "r": 16, "lora_alpha": 32.0, "lora_dropout": 0.05, "target_modules": list(LORA.target_modules),
        "bias": "none", "use_gradient_checkpointing": "unsloth", "random_state": 7, "use_rslora": True,
    }
    dora = unsloth_peft_kwargs(replace(LORA, use_dora=True, use_rslora=False), False, 0)
    assert dora["use_dora"] is True and dora["use_rslora"] is False
    assert dora["use_gradient_checkpointing"] is False


@pytest.mark.parametrize("lora", [LORA, replace(LORA, r=4, alpha=4.0, dropout=0.0, use_rslora=False,
                                                use_dora=True, target_modules=("q_proj", "v_proj"))])
def test_peft_kwargs_agree_with_the_peft_backend(lora):
    """Whatever PeftBackend puts in its LoraConfig, the Unsloth backend asks for the same."""
    ref = peft_config(lora)
    kw = unsloth_peft_kwargs(lora, False, 0)
    assert kw["r"] == ref.r
    assert kw["lora_alpha"] == ref.lora_alpha
    assert kw["lora_dropout"] == ref.lora_dropout
    assert set(kw["target_modules"]) == set(ref.target_modules)
    assert kw["use_rslora"] == ref.use_rslora
    assert kw.get("use_dora", False) == ref.use_dora
    assert kw["bias"] == ref.bias


# --------------------------------------------------------------------------- load() with a stand-in


class _Recorder:
    """What the stand-in FastLanguageModel was called with."""

    def __init__(self) -> None:
        self.load: dict[str, Any] = {}
        self.peft: dict[str, Any] = {}
        self.env: dict[str, str | None] = {}


def _stand_in(rec: _Recorder, device_type: str = "cuda", real: bool = False) -> types.ModuleType:
    """A fake `unsloth` module. `real=True` delegates to transformers + PEFT (on CPU)."""

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(**kwargs):
            rec.load = kwargs
            rec.env = {k: os.environ.get(k) for k in ("UNSLOTH_DISABLE_CPU_FALLBACK", "UNSLOTH_RETURN_LOGITS")}
            if not real:
                tok = types.SimpleNamespace(pad_token=None, eos_token="</s>")
                return types.SimpleNamespace(config=types.SimpleNamespace(use_cache=True)), tok
            from transformers import AutoModelForCausalLM, AutoTokenizer

            return (AutoModelForCausalLM.from_pretrained(kwargs["model_name"], dtype=torch.float32),
                    AutoTokenizer.from_pretrained(kwargs["model_name"]))

        @staticmethod
        def get_peft_model(model, **kwargs):
            rec.peft = kwargs
            if not real:
                return model
            from peft import LoraConfig, get_peft_model

            torch.manual_seed(kwargs["random_state"])  # as Unsloth does
            cfg = {k: v for k, v in kwargs.items() if k not in ("use_gradient_checkpointing", "random_state")}
            return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **cfg))

    mod = types.ModuleType("unsloth")
    mod.FastLanguageModel = FastLanguageModel
    mod.DEVICE_TYPE = device_type
    return mod


@pytest.fixture
def clean_env(monkeypatch):
    # load() sets these; monkeypatch puts the old values back after the test
    for var in ("UNSLOTH_DISABLE_CPU_FALLBACK", "UNSLOTH_RETURN_LOGITS"):
        monkeypatch.delenv(var, raising=False)


def test_load_sets_the_guard_and_passes_the_mapping(monkeypatch, clean_env):
    rec = _Recorder()
    monkeypatch.setitem(sys.modules, "unsloth", _stand_in(rec))
    model_cfg = ModelConfig(name="m", family="llama", load_in_4bit=True)
    model, tok = UnslothBackend().load("/m", model_cfg, LORA, True, 512, seed=3)
    assert rec.env == {"UNSLOTH_DISABLE_CPU_FALLBACK": "1", "UNSLOTH_RETURN_LOGITS": "1"}
    assert rec.load == unsloth_load_kwargs("/m", model_cfg, 512, gradient_checkpointing=True)
    assert rec.peft == unsloth_peft_kwargs(LORA, True, 3)
    assert tok.pad_token == "</s>"  # the PEFT backend's pad rule
    assert model.config.use_cache is False


def test_load_without_a_seed_follows_the_seeded_rng(monkeypatch, clean_env):
    rec = _Recorder()
    monkeypatch.setitem(sys.modules, "unsloth", _stand_in(rec))
    states = []
    for seed in (1234, 1234, 99):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # what trial.seed_everything does
            UnslothBackend().load("/m", ModelConfig(name="m", family="llama"), LORA, False, 64)
        states.append(rec.peft["random_state"])
    assert states[0] == states[1] != states[2]
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in states)


def test_load_refuses_unsloths_cpu_mode(monkeypatch, clean_env):
    monkeypatch.setitem(sys.modules, "unsloth", _stand_in(_Recorder(), device_type="cpu"))
    with pytest.raises(RuntimeError, match="CPU mode.*backend=peft"):
        UnslothBackend().load("/m", ModelConfig(name="m", family="llama"), LORA, False, 64)


def test_load_explains_a_failed_import(monkeypatch, clean_env):
    monkeypatch.setitem(sys.modules, "unsloth", None)  # `import unsloth` raises ImportError
    with pytest.raises(RuntimeError, match=r"could not be imported.*pip install -e \.\[unsloth\]"):
        UnslothBackend().load("/m", ModelConfig(name="m", family="llama"), LORA, False, 64)


class _Reporter:
    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {}
        self.reports: list[tuple[int, float]] = []

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        self.attrs.update(attrs)

    def report(self, step: int, value: float) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return False

    def progress(self, info: dict[str, Any]) -> None:
        pass


def test_one_trial_contract_for_both_backends(monkeypatch, clean_env, tmp_path):
    """run_trial with backend=unsloth goes through UnslothBackend, then the shared Trainer.

    The stand-in loads with transformers + PEFT, so this checks our side of the contract: the
    sampled settings reach Unsloth, the adapter has the PEFT backend's shape, and eval loss is
    reported the same way.
    """
    from sweep.config import load_config
    from sweep.search_space import TrialParams
    from sweep.trial import run_trial

    monkeypatch.setenv("SWEEP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: True)
    rec = _Recorder()
    monkeypatch.setitem(sys.modules, "unsloth", _stand_in(rec, real=True))
    params = TrialParams(learning_rate=1e-3, lora_r=8, lora_alpha_ratio=2.0, lora_dropout=0.1,
                         use_rslora=True, effective_batch_size=4, max_steps=2, warmup_ratio=0.0)
    results = {}
    for name in ("unsloth", "peft"):
        cfg = load_config([f"backend={name}", f"output_dir={tmp_path / 'out'}", "train.eval_every=1",
                           "train.micro_batch_size=4", "train.num_threads=1",
                           "+data.max_train_examples=8", "+data.max_eval_examples=4"])
        reporter = _Reporter()
        results[name] = (run_trial(cfg, params, reporter), reporter)
    (u_result, u_rep), (p_result, p_rep) = results["unsloth"], results["peft"]
    assert u_rep.attrs["backend"] == "unsloth" and p_rep.attrs["backend"] == "peft"
    assert rec.peft["r"] == 8 and rec.peft["lora_alpha"] == 16.0 and rec.peft["lora_dropout"] == 0.1
    assert rec.peft["use_rslora"] is True and isinstance(rec.peft["random_state"], int)
    assert rec.load["max_seq_length"] == cfg.data.max_seq_len and rec.load["load_in_4bit"] is False
    assert u_rep.attrs["trainable_params"] == p_rep.attrs["trainable_params"] > 0
    for result, rep in ((u_result, u_rep), (p_result, p_rep)):
        assert [s for s, _ in rep.reports] == [1, 2]
        assert result["value"] == rep.reports[-1][1] and math.isfinite(result["value"])
        assert result["steps"] == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_script_says_no_cuda_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_backends.py")], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("no CUDA")
    assert list(tmp_path.iterdir()) == []  # nothing built, nothing written


def test_gpu_check_script_runs_every_section_on_cpu(tmp_path):
    """`scripts/gpu_check.py --cpu-smoke --quick`: the GPU check's code (real OOM fallback,
    estimate vs measured, Ray packing) runs end to end on CPU, so it is known to work when a GPU
    is lent; a section that raises makes the exit status 1."""
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--cpu-smoke", "--quick",
                           "--json", str(out)], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu (smoke test)"
    for section in ("oom", "estimate", "ray"):
        assert "error" not in report[section], report[section]
    assert report["oom"]["ran_micro_batch"] < report["oom"]["asked_micro_batch"]  # the fallback ran


# --------------------------------------------------------------------------- the real thing


def _unsloth_ready() -> bool:
    return torch.cuda.is_available() and backends.unsloth_installed()


@pytest.mark.gpu
@pytest.mark.skipif(not _unsloth_ready(), reason="needs CUDA and the unsloth package")
def test_real_unsloth_trial(tmp_path):
    """A short sweep through the CLI with backend=unsloth; in a child process (unsloth patches)."""
    import optuna

    out = tmp_path / "out"
    # head_dim 64 (hidden 256 / 4 heads): the tiny preset's head_dim 16 is below what kernels expect
    proc = subprocess.run(
        [sys.executable, "-m", "sweep", TEST_MODEL, "backend=unsloth", "executor=inline", "search_space=quick",
         "n_trials=1", "+fixed.max_steps=6", "train.eval_every=3", "eval.behaviour=false",
         f"output_dir={out}", "study_name=gpu", "model.tiny.hidden_size=256",
         "model.tiny.intermediate_size=688", "+data.max_train_examples=64", "+data.max_eval_examples=16"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    study = optuna.load_study(study_name="gpu", storage=f"sqlite:///{out / 'gpu' / 'study.db'}")
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE, trial.user_attrs
    assert trial.user_attrs["backend"] == "unsloth"
    assert math.isfinite(trial.value)
    assert sorted(trial.intermediate_values) == [3, 6]
