"""What `pip install .` gives a user: every third-party import declared, and the configs, search
spaces and sample data inside the wheel (scripts/check_install.sh, run by CI, installs that wheel
into a scratch venv and sweeps from a folder outside the checkout)."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "sweep"
# Optional imports whose package is not installed here: module -> distribution (declared in an extra).
NOT_INSTALLED_HERE = {"bitsandbytes": "bitsandbytes", "unsloth": "unsloth", "sklearn": "scikit-learn"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared() -> tuple[set[str], set[str]]:
    """(core, extras) distribution names of the installed lora-sweep."""
    core, extras = set(), set()
    for req in md.requires("lora-sweep") or []:
        (extras if "extra ==" in req else core).add(_name(req))
    return core, extras


def imports() -> dict[str, bool]:
    """Top-level third-party modules imported under sweep/ -> imported at module level anywhere."""
    found: dict[str, bool] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                mod = name.split(".")[0]
                if mod in sys.stdlib_module_names or mod in ("sweep", "__future__"):
                    continue
                found[mod] = found.get(mod, False) or id(node) in top
    return found


def test_every_third_party_import_is_declared():
    core, extras = declared()
    dists = md.packages_distributions()
    undeclared, optional_at_top = [], []
    for mod, at_top in sorted(imports().items()):
        names = {d.lower().replace("_", "-") for d in dists.get(mod, [])} or {NOT_INSTALLED_HERE.get(mod, mod)}
        if not names & (core | extras):
            undeclared.append(f"{mod} (distribution {', '.join(sorted(names))})")
        elif at_top and not names & core:
            optional_at_top.append(mod)  # an extra's module imported where every user loads it
    assert not undeclared, f"imported under sweep/ but not declared in pyproject.toml: {undeclared}"
    assert not optional_at_top, f"modules of an extra imported at module level: {optional_at_top}"
    assert {"datasets", "optuna", "torch"} <= core and {"bitsandbytes", "scikit-learn", "unsloth"} <= extras


def test_optuna_is_bounded_to_the_versions_its_private_uses_were_checked_on():
    (optuna_req,) = [r for r in md.requires("lora-sweep") if _name(r) == "optuna"]
    assert "<" in optuna_req, optuna_req  # sweep/optuna_internals.py names the versions


def test_the_wheel_carries_configs_search_spaces_and_sample_data(tmp_path):
    import shutil

    src = tmp_path / "src"  # a copy: setuptools writes build/ next to pyproject.toml, never in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "sweep", "conf", "search_spaces", "sample_data"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                         if (REPO / name).is_dir() else {}))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build a wheel offline here: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("lora_sweep-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in (("conf", "**/*.yaml"), ("search_spaces", "*.yaml"), ("sample_data", "*.json*")):
        shipped = {f"sweep/{folder}/{p.relative_to(REPO / folder)}" for p in (REPO / folder).glob(pattern)}
        assert shipped and shipped <= names, sorted(shipped - names)
    assert "sweep/probes.jsonl" in names and "sweep/conf/config.yaml" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "conf/")) for n in names)


def test_a_wheel_install_finds_its_files_inside_the_package(tmp_path, monkeypatch):
    """`shipped_dir` prefers sweep/<name>/ (a wheel) over the checkout's top-level folder."""
    from sweep import config

    fake = tmp_path / "sweep"
    (fake / "conf").mkdir(parents=True)
    monkeypatch.setattr(config, "PACKAGE_DIR", fake)
    assert config.shipped_dir("conf") == fake / "conf"
    assert config.shipped_dir("sample_data") == tmp_path / "sample_data"  # not inside: next to it


def test_your_own_conf_folder_adds_presets_and_spaces(tmp_path, monkeypatch):
    from sweep import search_space
    from sweep.config import conf_options, load_config

    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "my_tiny.yaml").write_text(
        (REPO / "conf" / "model" / "tiny_llama.yaml").read_text().replace("name: tiny_llama", "name: my_tiny"))
    (tmp_path / "search_spaces").mkdir()
    (tmp_path / "search_spaces" / "mine.yaml").write_text("params:\n  lora_r: {type: categorical, choices: [4]}\n")
    monkeypatch.chdir(tmp_path)
    assert "my_tiny" in conf_options("model") and "smollm2" in conf_options("model")
    cfg = load_config(["model=my_tiny", "search_space=mine"])
    assert cfg.model.name == "my_tiny"
    assert search_space.load_for_config(cfg).params[0].choices == (4,)
    assert Path(cfg.data.path).name == "knowledge_train.jsonl"  # the shipped sample, found from here
