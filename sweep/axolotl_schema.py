"""Axolotl's vocabulary as this exporter writes it, and the rules an exported config must pass.

Every key the exporter may write (`TOP_LEVEL_KEYS`, `DATASET_KEYS`, `USER_DEFINED_KEYS`, checked by
tests against Axolotl's own schema), our optimizer and scheduler names mapped to Axolotl's, the
chat templates Axolotl knows, and `check_axolotl`: stricter than Axolotl's validator, which drops
unknown keys silently and takes any scheduler or dataset type string (DESIGN.md decision 8).
"""

from __future__ import annotations

import json
from typing import Any

from sweep.errors import Problems

# Our optimizer names -> Axolotl's (`optimizer` is passed to HF TrainingArguments' `optim`).
AXOLOTL_OPTIMIZERS = {
    "adamw_torch": "adamw_torch",
    "adamw_torch_fused": "adamw_torch_fused",
    "adamw_8bit": "adamw_8bit",
    "paged_adamw_8bit": "paged_adamw_8bit",
    "sgd": "sgd",
}
# Our scheduler names -> Axolotl's (`lr_scheduler` is passed to HF `lr_scheduler_type`).
AXOLOTL_SCHEDULERS = {
    "cosine": "cosine",
    "linear": "linear",
    "constant": "constant",
    "constant_with_warmup": "constant_with_warmup",
    "wsd": "warmup_stable_decay",  # with lr_scheduler_kwargs: the decay's steps, linear (sweep.schedules)
}
# Axolotl 0.19's `chat_template` values (its ChatTemplate enum); `jinja` is left out on
# purpose: it needs `chat_template_jinja`, which we never write.
AXOLOTL_CHAT_TEMPLATES = frozenset({
    "alpaca", "chatml", "mistral_v1", "mistral_v2v3", "mistral_v3_tekken", "mistral_v7_tekken",
    "gemma", "cohere", "llama3", "llama3_2_vision", "llama4", "phi_3", "phi_35", "deepseek_v2",
    "deepseek_v3", "jamba", "qwen_25", "qwen3", "qwen3_5", "falcon_h1", "nemotron_h",
    "tokenizer_default", "exaone", "exaone4", "metharme", "pixtral", "llava", "qwen2_vl", "gemma3",
    "gemma3n", "gemma4", "gemma4_unified", "command_a", "command_a_tool_use", "command_a_rag", "aya",
})
FALLBACK_PREFIX = "tokenizer_default_fallback_"

# Every key the exporter may write, in the order it writes them.
TOP_LEVEL_KEYS = (
    "base_model", "revision_of_model", "trust_remote_code",
    "adapter", "load_in_4bit", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
    "lora_target_linear", "peft_use_rslora", "peft_use_dora",
    "chat_template", "datasets", "test_datasets", "val_set_size", "sequence_len", "sample_packing",
    "train_on_inputs",
    "learning_rate", "lr_scheduler", "lr_scheduler_kwargs", "warmup_steps", "warmup_ratio", "weight_decay",
    "optimizer",
    "max_grad_norm", "micro_batch_size", "gradient_accumulation_steps", "num_epochs", "max_steps",
    "seed", "bf16", "gradient_checkpointing", "output_dir",
    "wandb_project", "wandb_entity", "wandb_name", "wandb_mode",
)
DATASET_KEYS = (
    "path", "ds_type", "split", "type", "chat_template", "field_messages",
    "message_property_mappings", "roles_to_train", "train_on_eos", "field",
)
USER_DEFINED_KEYS = ("field_instruction", "field_output", "format", "no_input_format")
CHAT_TYPE = "chat_template"
NO_TEMPLATE_TYPES = ("alpaca", "completion", "input_output")  # never with a chat_template key


def check_axolotl(cfg: dict[str, Any]) -> None:
    """Our rules for an Axolotl config, stricter than Axolotl's own validator.

    Raises:
        ConfigError: naming every broken rule (keys prefixed `axolotl.`).
    """
    problems = Problems()
    for k in cfg:
        if k not in TOP_LEVEL_KEYS:
            problems.add(f"axolotl.{k}", cfg[k], "not a key this exporter knows; Axolotl would drop "
                         "an unknown key silently")
    for k in ("base_model", "datasets", "learning_rate", "micro_batch_size",
              "gradient_accumulation_steps", "sequence_len"):
        if cfg.get(k) in (None, "", []):
            problems.add(f"axolotl.{k}", cfg.get(k), "is required")
    if cfg.get("adapter") not in ("lora", "qlora"):
        problems.add("axolotl.adapter", cfg.get("adapter"), "must be lora or qlora")
    if (cfg.get("adapter") == "qlora") != bool(cfg.get("load_in_4bit")):
        problems.add("axolotl.load_in_4bit", cfg.get("load_in_4bit"),
                     "adapter qlora goes with load_in_4bit: true, and lora without it")
    r = cfg.get("lora_r")
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        problems.add("axolotl.lora_r", r, "must be a positive integer")
    alpha = cfg.get("lora_alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, int) or alpha <= 0:
        problems.add("axolotl.lora_alpha", alpha, "must be a positive integer")
    dropout = cfg.get("lora_dropout")
    if not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
        problems.add("axolotl.lora_dropout", dropout, "must be in [0, 1)")
    if ("lora_target_modules" in cfg) == bool(cfg.get("lora_target_linear")):
        problems.add("axolotl.lora_target_modules", cfg.get("lora_target_modules"),
                     "set lora_target_modules or lora_target_linear: true (exactly one)")
    if ("warmup_steps" in cfg) == ("warmup_ratio" in cfg):
        problems.add("axolotl.warmup_steps", cfg.get("warmup_steps"),
                     "write warmup_steps or warmup_ratio, exactly one")
    if "warmup_ratio" in cfg and not 0.0 <= cfg["warmup_ratio"] < 1.0:
        problems.add("axolotl.warmup_ratio", cfg["warmup_ratio"], "must be in [0, 1)")
    if ("max_steps" in cfg) == ("num_epochs" in cfg):
        problems.add("axolotl.max_steps", cfg.get("max_steps"), "write max_steps or num_epochs, exactly one")
    if cfg.get("optimizer") not in AXOLOTL_OPTIMIZERS.values():
        problems.add("axolotl.optimizer", cfg.get("optimizer"),
                     f"choose one of {', '.join(AXOLOTL_OPTIMIZERS.values())}")
    if cfg.get("lr_scheduler") not in AXOLOTL_SCHEDULERS.values():
        problems.add("axolotl.lr_scheduler", cfg.get("lr_scheduler"),
                     f"choose one of {', '.join(AXOLOTL_SCHEDULERS.values())}")
    if cfg.get("test_datasets") and cfg.get("val_set_size"):
        problems.add("axolotl.val_set_size", cfg["val_set_size"], "must be 0 with test_datasets")
    all_ds = [*(cfg.get("datasets") or []), *(cfg.get("test_datasets") or [])]
    types = {json.dumps(d.get("type"), sort_keys=True) for d in all_ds}
    if len(types) > 1:
        problems.add("axolotl.test_datasets", sorted(types), "train and eval datasets must share one type")
    for i, d in enumerate(all_ds):
        key = f"axolotl.datasets[{i}]"
        for k in d:
            if k not in DATASET_KEYS:
                problems.add(f"{key}.{k}", d[k], "not a dataset key this exporter knows")
        t = d.get("type")
        if isinstance(t, dict):
            for k in t:
                if k not in USER_DEFINED_KEYS:
                    problems.add(f"{key}.type.{k}", t[k], "not a user-defined type key this exporter knows")
        elif t not in (CHAT_TYPE, *NO_TEMPLATE_TYPES):
            problems.add(f"{key}.type", t, f"choose one of {CHAT_TYPE}, {', '.join(NO_TEMPLATE_TYPES)} "
                         "or a user-defined type")
        if t != CHAT_TYPE and "chat_template" in d:
            problems.add(f"{key}.chat_template", d["chat_template"],
                         f"only {CHAT_TYPE} datasets take a chat_template")
        if t == CHAT_TYPE and d.get("chat_template") != cfg.get("chat_template"):
            problems.add(f"{key}.chat_template", d.get("chat_template"),
                         f"must equal the top-level chat_template {cfg.get('chat_template')!r}")
    if "chat_template" in cfg:
        name = cfg["chat_template"]
        if not all_ds or any(d.get("type") != CHAT_TYPE for d in all_ds):
            problems.add("axolotl.chat_template", name,
                         "written only for chat_template datasets (never with alpaca, completion, "
                         "input_output or user-defined data)")
        if name not in AXOLOTL_CHAT_TEMPLATES and not str(name).startswith(FALLBACK_PREFIX):
            problems.add("axolotl.chat_template", name, "not a chat template Axolotl knows")
    problems.raise_if_any()
