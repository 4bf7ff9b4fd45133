"""Model presets: where a model comes from and how it is loaded.

Tiny presets (`tiny_llama`, `tiny_qwen`, `tiny_mistral`) are the real Llama / Qwen2 / Mistral
architectures at toy size, built deterministically (fixed seed) with a byte-level BPE tokenizer
trained in-process on the shipped sample data, saved as a normal HF model folder in the cache
and then loaded through the same `from_pretrained` path as a hub model. Packaged presets
(`smollm2`) are a GGUF file inside a pip package, converted once into the cache
(`sweep.gguf_models`). Real presets are hub ids; one that is neither cached nor downloadable
stops before any work with one line. `fingerprint` says what a model's content is, so a study
never resumes on other weights under the same preset name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from sweep import gguf_models
from sweep.config import SAMPLE_DATA_DIR, ModelConfig, TinyArch, to_plain
from sweep.errors import ConfigError, Problem
from sweep.templates import SPECIAL_TOKENS, TEMPLATES

TINY_SEED = 1234
_EOS = {"llama": "<|eot_id|>", "qwen2": "<|im_end|>", "mistral": "</s>"}
_BOS = {"llama": "<|begin_of_text|>", "qwen2": None, "mistral": "<s>"}
_BUILD_VERSION = "1"


def cache_dir() -> Path:
    root = os.environ.get("SWEEP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lora_sweep")
    return Path(root) / "models"


def _corpus() -> list[str]:
    """The tokenizer's training text: the shipped sample data (deterministic, offline)."""
    texts: list[str] = []
    for path in sorted(SAMPLE_DATA_DIR.glob("*.json*")):
        texts.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    for tpl in TEMPLATES.values():
        if tpl.jinja:
            texts.append(tpl.jinja)
    texts.append("Question: Answer: I don't know. The answer is 0123456789.")
    return texts


def tiny_model_dir(model: ModelConfig) -> Path:
    """The cache folder of a tiny preset; its name hashes everything that shapes it."""
    corpus = _corpus()
    digest = hashlib.sha256(json.dumps(
        [_BUILD_VERSION, to_plain(model.tiny), model.chat_template, corpus]).encode()).hexdigest()[:12]
    return cache_dir() / f"{model.name}-{digest}"


def build_tiny_tokenizer(arch: TinyArch, chat_template: str, corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=arch.vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    bos = _BOS[arch.architecture]
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=_EOS[arch.architecture],
        pad_token="<pad>",
        unk_token=None,
        chat_template=TEMPLATES[chat_template].jinja,
        model_max_length=arch.max_position_embeddings,
    )


def build_tiny_model(arch: TinyArch, tokenizer):
    import torch
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    common = dict(
        vocab_size=len(tokenizer), hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size, num_hidden_layers=arch.num_hidden_layers,
        num_attention_heads=arch.num_attention_heads, num_key_value_heads=arch.num_key_value_heads,
        max_position_embeddings=arch.max_position_embeddings,
        tie_word_embeddings=arch.tie_word_embeddings, initializer_range=arch.initializer_range,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token else tokenizer.eos_token_id,
    )
    rope = {"rope_type": "default", "rope_theta": arch.rope_theta}
    if arch.architecture == "llama":
        config, cls = LlamaConfig(**common, rope_parameters=rope), LlamaForCausalLM
    elif arch.architecture == "qwen2":
        config, cls = Qwen2Config(**common, rope_parameters=rope, use_sliding_window=False), Qwen2ForCausalLM
    else:
        config, cls = MistralConfig(**common, rope_parameters=rope,
                                    sliding_window=arch.sliding_window), MistralForCausalLM
    with torch.random.fork_rng(devices=[]):  # don't reseed the trial's global RNG
        torch.manual_seed(TINY_SEED)
        return cls(config)


def ensure_tiny(model: ModelConfig) -> Path:
    """Build the tiny preset once into the cache (atomically) and return its folder."""
    target = tiny_model_dir(model)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(model.tiny, model.chat_template, _corpus())
    net = build_tiny_model(model.tiny, tokenizer)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model.name}-", dir=target.parent))
    try:
        net.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, target)  # atomic: concurrent builders (Ray workers) race safely
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve(model: ModelConfig) -> str:
    """A loadable location (local folder or hub id), checked before any work starts."""
    if model.tiny is not None:
        return str(ensure_tiny(model))
    if model.path:
        if not (Path(model.path) / "config.json").is_file():
            raise ConfigError(Problem("model.path", model.path,
                                      "no config.json there; point it at a HF model folder"))
        return str(Path(model.path).resolve())
    if model.gguf is not None:
        return str(gguf_models.ensure_converted(model, cache_dir())[0])
    return _check_hub(model)


def fingerprint(model: ModelConfig, location: str) -> str:
    """What the model's content is, cheaply: the GGUF's sha256 for a packaged preset; for a local
    folder (tiny, converted or `model.path`) a hash of its config, tokenizer files and each weight
    file's name, size, first and last MiB; for a hub id, the id and the cached snapshot's commit."""
    folder = Path(location)
    if model.gguf is not None and not model.path:
        marker = gguf_models.read_marker(folder) or {}
        return f"gguf-sha256:{marker.get('gguf_sha256')}"
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(location, "config.json", revision=model.revision)
        commit = Path(cached).parent.name if isinstance(cached, str) else model.revision
        return f"hub:{location}@{commit}"
    h = hashlib.sha256()
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        h.update(f.name.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read(1 << 20))
    return f"folder:{h.hexdigest()[:16]}"


def _check_hub(model: ModelConfig) -> str:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model.hub_id, "config.json", revision=model.revision)
    if isinstance(cached, str):
        return model.hub_id
    fix = (f"download it where the hub is reachable (`hf download {model.hub_id}`) and copy the "
           f"HF cache here, or set model.path to a local folder; offline, use model=tiny_{model.family}")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConfigError(Problem("model", model.name, f"{model.hub_id} is not in the local HF cache and "
                                  f"HF_HUB_OFFLINE=1; {fix}"))
    unreachable = _hub_unreachable()
    if unreachable:  # fail in seconds, not after huggingface_hub's retries
        raise ConfigError(Problem("model", model.name, f"{model.hub_id} is not in the local HF cache and "
                                  f"the hub is unreachable ({unreachable}); {fix}"))
    import logging

    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # no "Retrying in 1s" lines before our one line
    try:
        from huggingface_hub import hf_hub_download

        hf_hub_download(model.hub_id, "config.json", revision=model.revision)
    except Exception as exc:  # network, auth (gated repo), missing repo
        raise ConfigError(Problem("model", model.name, f"{model.hub_id} is neither cached nor "
                                  f"downloadable ({type(exc).__name__}); {fix}")) from None
    finally:
        hub_log.setLevel(level)
    return model.hub_id


def _hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the hub's host cannot be reached by TCP, or None (also None behind an HTTP proxy,
    where only the proxy can tell)."""
    import socket
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    proxies = getproxies()  # *_proxy variables (and the OS settings)
    if (proxies.get(url.scheme) or proxies.get("all")) and not proxy_bypass(host):
        return None
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or type(exc).__name__}"
    return None


def cpu_bf16_native() -> bool:
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX). There bfloat16 weights
    train a real model ~1.5x faster than float32; without it (e.g. an AVX2-only AMD EPYC) torch
    emulates bf16 matmuls, 6.4x slower than float32 (benchmarks/cpu_real_model.py)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def auto_dtype(on_cuda: bool, cuda_bf16: bool = True) -> str:
    """What `dtype: auto` means: bfloat16 on a GPU that has it (else float16); on CPU bfloat16
    only where the CPU has it natively, else float32."""
    if on_cuda:
        return "bfloat16" if cuda_bf16 else "float16"
    return "bfloat16" if cpu_bf16_native() else "float32"


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
