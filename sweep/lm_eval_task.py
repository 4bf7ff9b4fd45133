"""The held-out set as an lm-evaluation-harness task, for users who benchmark with `lm_eval`.

`write_task` puts into `<study folder>/lm_eval/`:

    <task>.yaml   a `generate_until` task over the JSONL below (prompt -> reference answer)
    <task>.jsonl  one row per held-out question: prompt (rendered with the chat template the
                  best adapter trained with), target (the reference), question, answerable
    README.md     the command that runs it on the best adapter

The prompts are already rendered with the trained template, so run WITHOUT
`--apply_chat_template`. `until` holds that template's end-of-turn strings: lm-eval cuts
generations there (and at eos), which is also why its scores hide run-ons; `behaviour.csv`
measures stopping on raw generation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sweep import data, models, templates
from sweep.questions import make_examples
from sweep.results import atomic_write

__all__ = ["task_name", "task_config", "write_task"]


def task_name(study_name: str) -> str:
    """An lm-eval task name for a study (letters, digits and underscores)."""
    return "sweep_" + re.sub(r"[^A-Za-z0-9_]", "_", study_name)


def task_config(name: str, data_file: Path, until: Sequence[str], max_gen_toks: int) -> dict[str, Any]:
    """The task YAML as a mapping (lm-eval 0.4 task schema)."""
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file.resolve())}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "{{target}}",
        "target_delimiter": "",
        "generation_kwargs": {"until": list(until), "max_gen_toks": int(max_gen_toks),
                              "do_sample": False, "temperature": 0.0},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                         "ignore_case": True, "ignore_punctuation": True}],
        "metadata": {"version": 1.0},
    }


def write_task(cfg: Any, eval_rows: Sequence[Any], chat_template: str | None = None) -> Path:
    """Write the task for the study's held-out rows; returns the task YAML path.

    The prompts use the tokenizer of `best_adapter/` when it exists (it carries the template
    the best trial trained with), else the base model's, with `chat_template` applied.
    """
    from transformers import AutoTokenizer

    location = models.resolve(cfg.model)
    adapter = cfg.study_dir / "best_adapter"
    source = adapter if (adapter / "tokenizer_config.json").is_file() else Path(location)
    tok = AutoTokenizer.from_pretrained(str(source), trust_remote_code=cfg.model.trust_remote_code)
    template = templates.apply_template(tok, chat_template or cfg.data.chat_template)
    encoder = data.Encoder(tok, cfg.data, template.end_of_turn)
    examples = make_examples(eval_rows, encoder)

    out = cfg.study_dir / "lm_eval"
    name = task_name(cfg.study_name)
    data_file = out / f"{name}.jsonl"
    lines = [json.dumps({"id": i, "question": e.question, "prompt": encoder.prompt_text(e.row),
                         "target": e.reference, "answerable": e.answerable}, ensure_ascii=False)
             for i, e in enumerate(examples)]
    atomic_write(data_file, "\n".join(lines) + "\n")
    until = [s for s in dict.fromkeys((*template.end_of_turn, tok.eos_token)) if s]
    config = task_config(name, data_file, until, cfg.eval.max_new_tokens)
    task_file = out / f"{name}.yaml"
    atomic_write(task_file, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    peft = f",peft={adapter.resolve()},tokenizer={adapter.resolve()}" if source == adapter else ""
    # lm-eval stops a batch only when every row is done and decodes without special tokens, so
    # a row that ended on a special end-of-turn token other than eos gets the text generated
    # after it (measured with lm-eval 0.4.13); one row per batch keeps answers exact.
    batch = 8 if set(until) <= {tok.eos_token} else 1
    atomic_write(out / "README.md", (
        f"# lm-evaluation-harness task `{name}`\n\n"
        f"The study's {len(examples)} held-out questions, prompts rendered with the "
        f"`{template.name}` chat template (do not add `--apply_chat_template`).\n\n"
        "```bash\n"
        f"lm_eval --model hf --model_args pretrained={location}{peft} \\\n"
        f"  --include_path {out.resolve()} --tasks {name} --batch_size {batch}\n"
        "```\n\n"
        "lm-eval stops generations at the `until` strings, so its scores hide answers that do "
        "not stop; `../behaviour.csv` measures stopping on raw generation."
        + ("" if batch == 8 else
           f" Keep `--batch_size 1`: with larger batches lm-eval appends to a row that ended on "
           f"{until[0]} (not the tokenizer's eos) the text generated after it.") + "\n"))
    return task_file
