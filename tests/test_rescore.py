"""scripts/rescore_behaviour.py: saved generations scored again with the current rules."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from sweep import behaviour, key_facts, scoring
from sweep.behaviour import Subject
from sweep.scoring import Example, Generation

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "rescore_behaviour.py"
spec = importlib.util.spec_from_file_location("rescore_behaviour", SCRIPT)
rescore = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rescore)


def _ex(question, reference, answerable=True, keys=None):
    return Example({}, question, reference, answerable,
                   tuple(keys) if keys is not None else key_facts.key_terms(question, reference))


def _gen(example, text, stopped=True, raw=None):
    return Generation(example, raw or text, text, stopped, False, len(text.split()))


def test_saved_generations_give_back_the_evaluations_numbers(tmp_path):
    area = _ex("How big is Tavenmoor Island?", "Tavenmoor Island covers 418 square kilometres.")
    dog = _ex("What is the keeper's dog called?", "I don't know.", answerable=False)
    keyed = _ex("Who runs the station?", "Dr. Maribel Quaye runs it.", keys=["Maribel Quaye"])
    adapter = Subject("trial 0", "adapter", "chatml", 0, 1.2)
    adapter.generations = [_gen(area, "It covers 418 square kilometres."), _gen(dog, "I don't know."),
                           _gen(keyed, "Maribel Quaye.", stopped=False)]
    base = Subject("base", "base", "chatml")
    base.generations = [_gen(area, "It covers 612 square kilometres."), _gen(dog, "Its name is Rex."),
                        _gen(keyed, "Dr. Elwes Maude runs it.")]
    for s in (adapter, base):
        s.metrics = scoring.summarise(s.generations)
    behaviour.write_outputs(SimpleNamespace(study_dir=tmp_path), [adapter, base])

    rows = rescore.rescore([str(tmp_path)])
    assert [(r["subject"], r["kind"], r["chat_template"]) for r in rows] == [
        ("trial 0", "adapter", "chatml"), ("base", "base", "chatml")]
    for row, subject in zip(rows, (adapter, base), strict=True):
        same = {k: (row[k] == v or (v != v and row[k] != row[k])) for k, v in subject.metrics.items()}  # nan: no probes
        assert all(same.values()), {k: (row[k], subject.metrics[k]) for k, ok in same.items() if not ok}
    assert rows[0]["accuracy"] == 1.0 and rows[0]["stop_rate"] == round(2 / 3, 4)
    assert rows[1]["accuracy"] == 0.0 and rows[1]["hallucination_rate"] == 1.0


def test_old_verdicts_are_replaced_by_the_current_rules(tmp_path):
    """A line saved as 'correct' by older rules (token F1 0.9 for a wrong area) is judged again."""
    line = {"subject": "base", "question": "How big is Tavenmoor Island?",
            "reference": "Tavenmoor Island covers 418 square kilometres.", "answerable": True,
            "answer": "Tavenmoor Island covers 612 square kilometres.",
            "raw": "Tavenmoor Island covers 612 square kilometres.", "new_tokens": 8, "stopped": True, "runon": False, "correct": True, "hallucinated": False}
    path = tmp_path / "behaviour_generations.jsonl"
    path.write_text(json.dumps(line) + "\n")  # an old file: no keys, no kind
    proc = subprocess.run([sys.executable, str(SCRIPT), str(path), "--csv", str(tmp_path / "r.csv")],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    assert "| study | subject |" in proc.stdout
    row = proc.stdout.splitlines()[2].split(" | ")
    assert row[1] == "base" and row[4] == "1"  # subject, n
    assert row[5] == "0%" and row[6] == "100%"  # accuracy, hallucination: a wrong number is wrong
    assert (tmp_path / "r.csv").read_text().startswith("study,subject,kind")


def test_a_missing_file_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("error:") and "behaviour_generations.jsonl" in proc.stderr
