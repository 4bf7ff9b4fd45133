"""Why does the `alpaca` template stop on SmolLM2, and what does a FAITHFUL Alpaca prompt do?

    python -m benchmarks.alpaca_faithful                       # model=smollm2, 24 held-out questions
    python -m benchmarks.alpaca_faithful eval.max_examples=null  # all 58

The course notes say a model prompted with Alpaca "did not stop after answer". The engine's
`alpaca` chat template, rendered by SmolLM2's tokenizer, is not plain Alpaca: it starts with the
tokenizer's bos token, which for SmolLM2-Instruct is the ChatML token `<|im_start|>`, and its
end token `</s>` is mapped to the tokenizer's eos, `<|im_end|>`: the token this ChatML model
writes after every answer anyway. This script answers the held-out questions with the BASE model
(greedy, no adapter) under three prompts:

1. `engine_alpaca`: the engine's alpaca template as the behaviour evaluation renders it
   (`<|im_start|>` + system prompt + `### Instruction:` ... `### Response:`);
2. `engine_alpaca_no_bos`: the same text without the leading `<|im_start|>`;
3. `faithful_alpaca`: the Stanford Alpaca prompt ("Below is an instruction ...", `### Instruction:`
   / `### Response:`), plain text, no chat special token at all.

Generation does NOT stop at `<|im_end|>`: it runs to `<|endoftext|>` (id 0, the document end of
SmolLM2's pretraining vocabulary: the eos a plain-text Alpaca fine-tune of the base model uses)
or `max_new_tokens`, so the script sees what comes first: `<|im_end|>`, `<|endoftext|>`, or a
new `### Instruction:` / `<|im_start|>` turn written as text. For each prompt it reports:

- `stop_im_end`: answers that end with `<|im_end|>` before any new turn (the engine's stop rule
  for the alpaca template: eos = the tokenizer's declared eos `<|im_end|>`);
- `stop_endoftext`: answers that end with `<|endoftext|>` before any new turn and before
  `<|im_end|>` (stop rule of a faithful Alpaca setup whose eos is the document end);
- `runon_before_end`: answers that start a new turn before any end token;
- `continues_after_im_end`: answers that write more text after `<|im_end|>` (what a stop rule
  that ignores `<|im_end|>` would show to a user);
- accuracy / hallucination / "I don't know" of the answer text (cut at the first end token or
  turn marker), by `sweep.scoring`'s current rules.

Writes benchmarks/data/alpaca_faithful.json (the table and a few answers) and
benchmarks/data/alpaca_faithful_generations.jsonl (every answer, in the format of
behaviour_generations.jsonl, so `scripts/rescore_behaviour.py` can score it again).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"
STANFORD = ("Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\n{q}\n\n### Response:\n")
MARKERS = ("### Instruction", "### Response", "### Input", "<|im_start|>")


def main(argv: list[str]) -> int:
    import torch
    from transformers import AutoModelForCausalLM

    from sweep import behaviour, data, models, questions, scoring, templates
    from sweep.backends.peft import from_pretrained_kwargs
    from sweep.config import load_config

    cfg = load_config(["model=smollm2", *argv])
    torch.set_num_threads(cfg.train.num_threads or 1)
    location = models.resolve(cfg.model)
    ev = behaviour.Evaluator(cfg, [])
    tok = ev.tokenizer()
    model = AutoModelForCausalLM.from_pretrained(location, **from_pretrained_kwargs(cfg.model, torch.device("cpu")))
    model.eval()
    tpl = templates.apply_template(tok, "alpaca")
    enc = data.Encoder(tok, cfg.data, tpl.end_of_turn)
    examples = questions.make_examples(data.load_splits(cfg.data, cfg.seed)[1], enc, cfg.eval.max_examples)
    im_end, eot = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    engine = [enc.prompt_text(e.row) for e in examples]
    bos = tok.bos_token or ""
    variants = {
        "engine_alpaca": engine,
        "engine_alpaca_no_bos": [p[len(bos):] if bos and p.startswith(bos) else p for p in engine],
        "faithful_alpaca": [STANFORD.format(q=e.question) for e in examples],
    }
    n_new = cfg.eval.max_new_tokens
    table, samples, lines = {}, {}, []
    for name, prompts in variants.items():
        t0 = time.perf_counter()
        outs = []
        for start in range(0, len(prompts), 16):
            chunk = prompts[start:start + 16]
            ids = [tok(p, add_special_tokens=False)["input_ids"] for p in chunk]
            width = max(map(len, ids))
            x = torch.full((len(ids), width), im_end, dtype=torch.long)
            mask = torch.zeros_like(x)
            for i, row in enumerate(ids):
                x[i, width - len(row):] = torch.tensor(row)
                mask[i, width - len(row):] = 1
            with torch.no_grad():
                g = model.generate(input_ids=x, attention_mask=mask, max_new_tokens=n_new, do_sample=False,
                                   eos_token_id=[eot], pad_token_id=im_end, use_cache=True)
            outs += g[:, width:].tolist()
        counts = dict.fromkeys(("stop_im_end", "stop_endoftext", "runon_before_end",
                                "continues_after_im_end", "no_end"), 0)
        gens = []
        for ex, row, prompt in zip(examples, outs, prompts, strict=True):
            if eot in row:
                row = row[: row.index(eot) + 1]
            full = tok.decode(row, skip_special_tokens=False)
            ends = [(full.index(s), s) for s in ("<|im_end|>", "<|endoftext|>") if s in full]
            marks = [full.index(m) for m in MARKERS if m in full]
            first_end = min(ends) if ends else None
            first_mark = min(marks) if marks else None
            if first_mark is not None and (first_end is None or first_mark < first_end[0]):
                counts["runon_before_end"] += 1
                cut, stopped = first_mark, False
            elif first_end is not None:
                counts["stop_im_end" if first_end[1] == "<|im_end|>" else "stop_endoftext"] += 1
                cut, stopped = first_end[0], True
            else:
                counts["no_end"] += 1
                cut, stopped = len(full), False
            after = full[full.index("<|im_end|>") + len("<|im_end|>"):] if "<|im_end|>" in full else ""
            if after.replace("<|endoftext|>", "").strip():
                counts["continues_after_im_end"] += 1
            text = " ".join(full[:cut].split())
            gens.append(scoring.Generation(ex, full, text, stopped, first_mark is not None, len(row)))
            lines.append(json.dumps({"subject": name, "kind": "base", "chat_template": name,
                                     "question": ex.question, "reference": ex.reference,
                                     "answerable": ex.answerable, "keys": list(ex.keys), "answer": text,
                                     "raw": full, "prompt": prompt, "new_tokens": len(row),
                                     "stopped": stopped, "runon": first_mark is not None},
                                    ensure_ascii=False))
        m = scoring.summarise(gens)
        n = len(gens)
        table[name] = {**{k: round(v / n, 4) for k, v in counts.items()},
                       **{k: m[k] for k in ("accuracy", "hallucination_rate", "idk_rate", "privacy_rate")},
                       "n": n, "seconds": round(time.perf_counter() - t0, 1)}
        samples[name] = [{"prompt_start": repr(p[:60]), "question": g.example.question, "raw": g.raw}
                         for p, g in list(zip(prompts, gens, strict=True))[:3]]
    OUT.mkdir(exist_ok=True)
    (OUT / "alpaca_faithful.json").write_text(json.dumps(
        {"model": cfg.model.name, "max_new_tokens": n_new, "dtype": str(model.dtype),
         "table": table, "samples": samples}, indent=1, ensure_ascii=False) + "\n")
    (OUT / "alpaca_faithful_generations.jsonl").write_text("\n".join(lines) + "\n")
    cols = ("stop_im_end", "stop_endoftext", "runon_before_end", "no_end", "continues_after_im_end",
            "accuracy", "hallucination_rate", "idk_rate")
    print("| prompt | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 1))
    for name, r in table.items():
        print(f"| {name} | " + " | ".join(f"{100 * r[c]:.0f}%" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
