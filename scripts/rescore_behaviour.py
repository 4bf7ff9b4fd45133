"""Score saved behaviour generations again with the CURRENT rules, and print one table.

    python scripts/rescore_behaviour.py STUDY_DIR_OR_JSONL [...] [--out table.md] [--csv rows.csv]

Every behaviour evaluation keeps every answer in `<study>/behaviour_generations.jsonl`
(question, reference, key fact, raw generation, whether it stopped). When the scoring rules in
`sweep/scoring.py` change (e.g. a wrong fact must never count as correct), the numbers of
old runs are recomputed from those files with no model and no GPU: each line is rebuilt into a
`scoring.Generation` and judged again by `scoring.summarise`. Several studies make one
table (e.g. the knowledge-injection table: an SFT study's adapter, base and base+RAG rows next
to an ORPO study's adapter row). Rows are (study folder, subject) in file order.

Lines written before the key fact was saved (no "keys") get it from `key_facts.key_terms`,
which equals what the evaluation used for rows without an explicit `key` field.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path

from sweep import key_facts, scoring

COLUMNS = ("study", "subject", "kind", "chat_template", "n", "accuracy", "hallucination_rate",
           "idk_rate", "unanswerable_idk_rate", "privacy_rate", "stop_rate", "runon_rate",
           "empty_rate", "mean_new_tokens")


def _file(arg: str) -> Path:
    p = Path(arg)
    return p / "behaviour_generations.jsonl" if p.is_dir() else p


def _generation(d: dict) -> scoring.Generation:
    keys = d.get("keys")
    if keys is None:
        keys = key_facts.key_terms(d["question"], d["reference"])
    fields = {f.name for f in dataclasses.fields(scoring.Example)}
    values = {"row": {}, "question": d["question"], "reference": d["reference"],
              "answerable": bool(d["answerable"]), "keys": tuple(keys), "probe": d.get("probe")}
    example = scoring.Example(**{k: v for k, v in values.items() if k in fields})
    return scoring.Generation(example, d.get("raw", d["answer"]), d["answer"], bool(d["stopped"]),
                                bool(d.get("runon", False)), int(d.get("new_tokens", 0)))


def rescore(paths: list[str]) -> list[dict]:
    """One dict per (file, subject): the subject's metrics under the current rules."""
    rows: list[dict] = []
    for arg in paths:
        path = _file(arg)
        if not path.is_file():
            raise SystemExit(f"error: {path}: no behaviour_generations.jsonl there (run a sweep with "
                             "eval.behaviour=true first)")
        groups: dict[str, list[dict]] = {}
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"error: {path}:{n}: not JSON ({e.msg})") from None
                groups.setdefault(d["subject"], []).append(d)
        for subject, lines in groups.items():
            metrics = scoring.summarise([_generation(d) for d in lines])
            rows.append({"study": path.parent.name, "subject": subject,
                         "kind": lines[0].get("kind", ""), "chat_template": lines[0].get("chat_template", ""),
                         **metrics})
    return rows


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{100 * v:.0f}%"
    return str(v)


def markdown(rows: list[dict]) -> str:
    cols = [c for c in COLUMNS if c != "mean_new_tokens"] + ["mean_new_tokens"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) if c == "mean_new_tokens" else _cell(r.get(c, ""))
                                     for c in cols) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="study folders or behaviour_generations.jsonl files")
    ap.add_argument("--out", help="also write the markdown table here")
    ap.add_argument("--csv", help="also write the rows as CSV here")
    a = ap.parse_args(argv)
    rows = rescore(a.paths)
    table = markdown(rows)
    sys.stdout.write(table)
    if a.out:
        Path(a.out).write_text(table)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(COLUMNS), extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
