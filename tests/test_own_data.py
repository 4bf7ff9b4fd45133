"""Your own data (issue 14): every reader, format detection, the seeded eval split, the refusal
to resume on other data or another space, and one real sweep per format on a user's file whose
log, report and export name the eval split."""

from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweep import axolotl_export, data, datasource, retraining, trial_settings
from sweep.config import SHIPPED_EVAL, load_config
from sweep.errors import ConfigError
from tests.conftest import REPO


def chat(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"What is the code of box {i}?"},
                         {"role": "assistant", "content": f"Box {i} has code {i * 7}."}]}


def sharegpt(i: int) -> dict:
    return {"conversations": [{"from": "system", "value": "Be brief."},
                              {"from": "human", "value": f"What is the code of box {i}?"},
                              {"from": "gpt", "value": f"Box {i} has code {i * 7}."}]}


def alpaca(i: int) -> dict:
    return {"instruction": f"Give the code of box {i}.", "input": "" if i % 2 else "as digits",
            "output": f"Box {i} has code {i * 7}."}


def completion(i: int) -> dict:
    return {"prompt": f"Q: code of box {i}?\nA:", "completion": f" {i * 7}."}


def text(i: int) -> dict:
    return {"text": f"Box {i} has code {i * 7}."}


def preference(i: int) -> dict:
    return {"prompt": f"What is the code of box {i}?", "chosen": f"Box {i} has code {i * 7}.",
            "rejected": f"Box {i} has code {i * 7 + 1}."}


FORMS = {"chat": chat, "sharegpt": sharegpt, "alpaca": alpaca, "completion": completion, "text": text,
         "preference": preference}


def write(path: Path, rows: list[dict]) -> str:
    """Rows in the file type the suffix names, written as users' tools write them."""
    import datasets

    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1))
    elif path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    elif path.suffix == ".parquet":
        datasets.Dataset.from_list(rows).to_parquet(str(path))
    else:
        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return str(path)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("form, expected", [("chat", "chat"), ("sharegpt", "sharegpt"), ("alpaca", "alpaca"),
                                            ("completion", "completion"), ("text", "completion"),
                                            ("preference", "preference")])
def test_format_is_detected_from_the_rows(tmp_path, form, expected):
    p = write(tmp_path / "mine.jsonl", [FORMS[form](i) for i in range(20)])
    assert datasource.detect_format(datasource.read_records(p, "data.path"), p, "data.path") == expected
    objective = ["objective=orpo"] if expected == "preference" else []
    cfg = load_config([f"data.path={p}", *objective])
    assert cfg.data.format == expected and cfg.data.eval_path is None  # a split of the user's file


def test_text_and_prompt_completion_rows_are_one_format(tmp_path):
    p = write(tmp_path / "c.jsonl", [text(0), completion(1)] * 10)
    assert load_config([f"data.path={p}"]).data.format == "completion"


def test_an_explicit_format_wins_and_a_wrong_one_names_what_the_row_is(tmp_path):
    p = write(tmp_path / "a.jsonl", [alpaca(i) for i in range(20)])
    with pytest.raises(ConfigError, match=r"a.jsonl:1.*instruction/input/output \(alpaca\).*data.format=alpaca"):
        data.read_rows(p, "chat", "data.path")


def test_sharegpt_roles_map_to_chat_roles(tmp_path):
    p = write(tmp_path / "sg.json", [sharegpt(i) for i in range(3)] + [
        {"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}])
    rows = data.read_rows(p, "sharegpt", "data.path")
    assert rows[0].data == {"messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "What is the code of box 0?"},
                                         {"role": "assistant", "content": "Box 0 has code 0."}]}
    assert rows[3].data["messages"][1] == {"role": "assistant", "content": "hello"}  # Unsloth's role/content turns
    assert rows[0].where == f"{p}[0]"


def test_sharegpt_trains_like_the_same_chat_rows(tmp_path):
    """A ShareGPT row encodes to exactly the token ids and labels of its chat twin."""
    from transformers import AutoTokenizer

    from sweep import models, templates

    cfg_sg = load_config([f"data.path={write(tmp_path / 'sg.jsonl', [sharegpt(i) for i in range(20)])}"])
    twin = [{"messages": [{"role": "system", "content": "Be brief."}, *chat(i)["messages"]]} for i in range(20)]
    cfg_chat = load_config([f"data.path={write(tmp_path / 'c.jsonl', twin)}"])
    tok = AutoTokenizer.from_pretrained(models.resolve(cfg_sg.model))
    eot = templates.apply_template(tok, None).end_of_turn
    a = data.encode_rows(data.Encoder(tok, cfg_sg.data, eot), data.load_splits(cfg_sg.data, 0)[1], "x")
    b = data.encode_rows(data.Encoder(tok, cfg_chat.data, eot), data.load_splits(cfg_chat.data, 0)[1], "x")
    assert a == b


# --------------------------------------------------------------------------- readers


READERS = ["mine.jsonl", "mine.json", "mine.csv", "mine.parquet", "mine_folder"]


@pytest.mark.parametrize("name", READERS)
def test_every_reader_gives_the_same_rows_and_split(tmp_path, name):
    rows = [alpaca(i) for i in range(30)]
    ref = data.load_splits(load_config([f"data.path={write(tmp_path / 'ref.jsonl', rows)}"]).data, 0)
    cfg = load_config([f"data.path={write(tmp_path / name, rows)}"])
    assert cfg.data.format == "alpaca"
    train, held_out = data.load_splits(cfg.data, 0)

    def same(rows):  # an empty CSV cell reads as a missing field, as an empty "input" means
        return [{k: v for k, v in r.data.items() if v != ""} for r in rows]

    assert same(train) == same(ref[0]) and same(held_out) == same(ref[1])


def test_rows_are_named_by_line_or_index(tmp_path):
    p = tmp_path / "gaps.jsonl"
    p.write_text(json.dumps(chat(0)) + "\n\n" + json.dumps(chat(1)) + "\n")
    assert [w for _, w in datasource.read_records(str(p), "data.path")] == [f"{p}:1", f"{p}:3"]
    c = write(tmp_path / "a.csv", [alpaca(i) for i in range(2)])
    assert [w for _, w in datasource.read_records(c, "data.path")] == [f"{c}:2", f"{c}:3"]  # line 1: header
    q = write(tmp_path / "a.parquet", [alpaca(i) for i in range(2)])
    assert [w for _, w in datasource.read_records(q, "data.path")] == [f"{q}[0]", f"{q}[1]"]


def test_csv_cells_stay_text(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text("instruction,input,output\nGive the number,,007\n" * 12)
    rows = data.read_rows(str(p), "alpaca", "data.path")
    assert rows[0].data == {"instruction": "Give the number", "output": "007"}  # empty input: no input


def test_a_folder_with_splits_reads_data_split(tmp_path):
    import datasets

    folder = tmp_path / "dd"
    datasets.DatasetDict({"train": datasets.Dataset.from_list([chat(i) for i in range(20)]),
                          "other": datasets.Dataset.from_list([chat(i) for i in range(100, 120)])}
                         ).save_to_disk(str(folder))
    assert load_config([f"data.path={folder}"]).data.split is None
    first = data.read_rows(str(folder), "chat", "data.path")[0].data
    assert first == chat(0)
    other = load_config([f"data.path={folder}", "data.split=other"])
    train, held_out = data.load_splits(other.data, 0)
    assert sorted(r.data["messages"][0]["content"] for r in train + held_out) == \
        sorted(chat(i)["messages"][0]["content"] for i in range(100, 120))


def test_a_hub_id_offline_is_one_clear_error_and_no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert datasource.is_hub_id("someorg/chat-data") and not datasource.is_hub_id("data/train.jsonl")
    with pytest.raises(ConfigError, match=r"someorg/chat-data.*hub cannot be reached.*local file"):
        load_config(["data.path=someorg/chat-data"])
    with pytest.raises(ConfigError, match="file not found"):
        load_config(["data.path=data/train.jsonl"])


# --------------------------------------------------------------------------- the eval split


def test_split_is_seeded_disjoint_and_complete(tmp_path):
    p = write(tmp_path / "c.jsonl", [chat(i) for i in range(100)])
    cfg = load_config([f"data.path={p}"])
    assert cfg.data.val_set_size == 0.1
    train, held_out = data.load_splits(cfg.data, 0)
    assert (len(train), len(held_out)) == (90, 10)
    assert sorted(r.where for r in train + held_out) == sorted(f"{p}:{n}" for n in range(1, 101))
    assert [r.where for r in data.load_splits(cfg.data, 0)[1]] == [r.where for r in held_out]
    assert [r.where for r in data.load_splits(cfg.data, 1)[1]] != [r.where for r in held_out]
    small = load_config([f"data.path={write(tmp_path / 's.jsonl', [chat(i) for i in range(12)])}"])
    assert [len(x) for x in data.load_splits(small.data, 0)] == [7, data.MIN_EVAL_ROWS]
    assert data.describe_eval(cfg.data, 0, 10) == "eval: 10% of c.jsonl, 10 rows, seed 0"


def test_split_is_the_same_in_another_process(tmp_path):
    """(In a Ray worker too: tests/test_ray.py::test_a_ray_worker_holds_out_the_same_rows.)"""
    p = write(tmp_path / "c.csv", [alpaca(i) for i in range(50)])
    cfg = load_config([f"data.path={p}", "seed=3"])
    here = [r.where for r in data.load_splits(cfg.data, cfg.seed)[1]]
    code = ("import json,sys; from sweep import data; from sweep.config import load_config; "
            f"c = load_config(['data.path={p}', 'seed=3']); "
            "print(json.dumps([r.where for r in data.load_splits(c.data, c.seed)[1]]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here, out.stderr[-2000:]


def test_eval_file_wins_and_the_shipped_eval_is_only_for_the_shipped_sample(tmp_path):
    p = write(tmp_path / "c.jsonl", [chat(i) for i in range(30)])
    e = write(tmp_path / "e.jsonl", [chat(i) for i in range(100, 107)])
    cfg = load_config([f"data.path={p}", f"data.eval_path={e}"])
    train, held_out = data.load_splits(cfg.data, 0)
    assert len(train) == 30 and [r.where for r in held_out] == [f"{e}:{n}" for n in range(1, 8)]
    assert data.describe_eval(cfg.data, 0, 7) == "eval: e.jsonl, 7 rows (data.eval_path)"
    sample = load_config([])
    assert sample.data.eval_path == SHIPPED_EVAL[sample.data.path]
    assert sample.data.eval_path.endswith("sample_data/knowledge_eval.jsonl")
    for preset in ("sample_alpaca", "sample_completion"):  # a user's file in a sample preset: split
        assert load_config([f"data={preset}", f"data.path={p}"]).data.eval_path is None


def test_retrain_from_best_yaml_reads_the_same_split(tmp_path):
    p = write(tmp_path / "c.parquet", [completion(i) for i in range(40)])
    cfg = load_config([f"data.path={p}", "seed=5", f"output_dir={tmp_path}"])
    settings = {"model": cfg.to_dict()["model"], "data": json.loads(json.dumps(cfg.to_dict()["data"])),
                "lora": {"r": 8, "alpha": 8}, "train": {"learning_rate": 1e-3, "seed": 5, "micro_batch_size": 4},
                "objective": "sft"}
    again = retraining.config_from_settings(trial_settings.from_plain(settings, "best.yaml"), tmp_path / "r")
    assert again.data == cfg.data
    assert [r.where for r in data.load_splits(again.data, again.seed)[1]] == \
        [r.where for r in data.load_splits(cfg.data, cfg.seed)[1]]


# --------------------------------------------------------------------------- resume refusal (command line)


def _sweep(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["sweep", *argv])
    main = importlib.import_module("sweep.__main__").main
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


def test_resume_on_other_data_or_space_is_refused_with_the_reason(tmp_path, monkeypatch, capsys):
    a = write(tmp_path / "a.jsonl", [chat(i) for i in range(30)])
    b = write(tmp_path / "b.jsonl", [chat(i) for i in range(30, 60)])
    e = write(tmp_path / "e.jsonl", [chat(i) for i in range(60, 70)])
    base = [f"output_dir={tmp_path / 'out'}", "study_name=s", "search_space=quick", "n_trials=1",
            "eval.behaviour=false", "train.num_threads=1", "+fixed.max_steps=2", "train.eval_every=1"]
    code, err = _sweep(monkeypatch, capsys, [*base, f"data.path={a}"])
    assert code == 0, err
    db = (tmp_path / "out" / "s" / "study.db").read_bytes()
    refused = [
        ([f"data.path={b}"], ["data configuration", "data.path", "a.jsonl", "b.jsonl"]),
        ([f"data.path={a}", "data.val_set_size=0.2"], ["data.val_set_size", "0.1", "0.2"]),
        ([f"data.path={a}", f"data.eval_path={e}"], ["data.eval_path", "e.jsonl"]),
        ([f"data.path={a}", "seed=1"], ["seed"]),
        ([f"data.path={a}", "search_space=default"], ["search space", "learning_rate"]),
        ([f"data.path={a}", "n_trials=2", "+fixed.lora_r=8"], ["search space", "fixed.lora_r"]),
    ]
    for extra, words in refused:
        code, err = _sweep(monkeypatch, capsys, [*base, *extra])
        lines = err.strip().splitlines()
        line = lines[-1]
        assert code == 2 and len(lines) == 1 and line.startswith("error:") and "study_name='s'" in line, err
        for w in words:
            assert w in line, (w, line)
    with open(a, "a") as f:  # same settings, edited file
        f.write(json.dumps(chat(99)) + "\n")
    code, err = _sweep(monkeypatch, capsys, [*base, f"data.path={a}", "n_trials=2"])
    assert code == 2 and "data file content" in err and "edited" in err, err
    assert (tmp_path / "out" / "s" / "study.db").read_bytes() == db  # nothing written by a refused run


# --------------------------------------------------------------------------- one sweep per format


E2E = [  # form, file name (one reader each), extra overrides
    ("chat", "mine.jsonl", []),
    ("sharegpt", "mine.json", ["eval.behaviour=true", "eval.include_base=false", "eval.max_new_tokens=4"]),
    ("alpaca", "mine.csv", ["data.val_set_size=0.2"]),
    ("completion", "mine.parquet", []),
    ("preference", "mine_folder", ["objective=orpo", "search_space=orpo"]),
]


@pytest.mark.parametrize("form, name, extra", E2E, ids=[e[0] for e in E2E])
def test_sweep_on_a_users_file_evaluates_on_its_split(tmp_path, monkeypatch, capsys, form, name, extra):
    path = write(tmp_path / name, [FORMS[form](i) for i in range(40)])
    out = tmp_path / "out"
    code, err = _sweep(monkeypatch, capsys, [
        f"data.path={path}", "model=tiny_llama", "n_trials=2", f"output_dir={out}",
        *([] if any(e.startswith("search_space=") for e in extra) else ["search_space=quick"]),
        "study_name=mine", "eval.behaviour=false", "train.num_threads=1", "+fixed.max_steps=4",
        "train.eval_every=2", *extra])
    assert code == 0, err
    share = "20%" if "data.val_set_size=0.2" in extra else "10%"
    n_eval = 8 if share == "20%" else 5  # ceil(40 x share), at least 5
    line = f"eval: {share} of {name}, {n_eval} rows, seed 0"
    assert line in err.splitlines()[0], err  # said at the start
    study = out / "mine"
    assert line in (study / "report.html").read_text()
    assert f"data: {name} ({form})" in (study / "report.html").read_text()
    best = yaml.safe_load((study / "best.yaml").read_text())
    assert best["data"]["path"] == path and best["data"]["eval_path"] is None
    if form == "preference":  # ORPO trials are not exported to Axolotl
        assert not (study / "axolotl.yaml").exists()
        return
    ax = (study / "axolotl.yaml").read_text()
    assert line in ax
    cfg = yaml.safe_load(ax)
    assert cfg["test_datasets"][0]["path"] == str(study / axolotl_export.DATA_DIR / "eval.jsonl")
    assert len((study / axolotl_export.DATA_DIR / "eval.jsonl").read_text().splitlines()) == n_eval
    assert ("chat_template" in cfg) == (form in ("chat", "sharegpt"))
    if "eval.behaviour=true" in extra:  # held-out questions are the user's split
        held_out = {r.data["messages"][1]["content"] for r in data.load_splits(
            load_config([f"data.path={path}"]).data, 0)[1]}
        gens = [json.loads(x) for x in (study / "behaviour_generations.jsonl").read_text().splitlines()]
        assert {g["question"] for g in gens if not g["probe"]} == held_out  # the shipped probes come on top
        assert {g["probe"] for g in gens if g["probe"]} == {"privacy", "unanswerable"}
