"""The bad-input corpus: each case ends with exit status 2, one line naming the problem, no
traceback, and nothing written to the study folder."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

GOOD_CHAT = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _space(path, text):
    path.write_text(text)
    return path


def case_files(tmp):
    """Files the cases point at; built per test in tmp."""
    return {
        "malformed": _jsonl(tmp / "malformed.jsonl", [GOOD_CHAT, "{oops"]),
        "no_assistant": _jsonl(tmp / "no_assistant.jsonl", [{"messages": [{"role": "user", "content": "q"}]}]),
        "empty": _jsonl(tmp / "empty.jsonl", []),
        "alpaca_bad": tmp / "alpaca.json",
        "pref_same": _jsonl(tmp / "pref.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "a"}]),
        "wrong_format": _jsonl(tmp / "text.jsonl", [{"text": "just text"}]),
        "low_high": _space(tmp / "s1.yaml", "params:\n  learning_rate: {type: float, low: 0.1, high: 0.001}\n"),
        "log0": _space(tmp / "s2.yaml", "params:\n  learning_rate: {type: float, low: 0, high: 0.1, log: true}\n"),
        "empty_choices": _space(tmp / "s3.yaml", "params:\n  lora_r: {type: categorical, choices: []}\n"),
        "bad_type": _space(tmp / "s4.yaml", "params:\n  lora_r: {type: uniform, low: 1, high: 8}\n"),
        "bad_param": _space(tmp / "s5.yaml", "params:\n  rank: {type: int, low: 1, high: 8}\n"),
        "neg_rank": _space(tmp / "s6.yaml", "params:\n  lora_r: {type: int, low: -4, high: 8}\n"),
        "bad_yaml": _space(tmp / "s7.yaml", "params:\n  lora_r: {type: int, low: [\n"),
        "bad_enqueue": _space(tmp / "s8.yaml", "params:\n  lora_r: {type: categorical, choices: [4, 8]}\n"
                                               "enqueue:\n  - {lora_r: -1}\n"),
        "no_params": _space(tmp / "s9.yaml", "fixed:\n  lora_r: 8\n"),
        "bad_section": _space(tmp / "s10.yaml", "parameters:\n  lora_r: {type: int, low: 4, high: 8}\n"),
        "enqueue_outside": _space(tmp / "s11.yaml", "params:\n  lora_r: {type: categorical, choices: [4, 8]}\n"
                                                    "enqueue:\n  - {lora_r: 12}\n"),
        "int_half_step": _space(tmp / "s12.yaml", "params:\n  lora_r: {type: int, low: 4, high: 8, step: 0.5}\n"),
        "str_choice": _space(tmp / "s13.yaml", "params:\n  effective_batch_size: {type: categorical, choices: [4, 6.5]}\n"),
        "assistant_first": _jsonl(tmp / "af.jsonl", [{"messages": [{"role": "assistant", "content": "a"},
                                                                    {"role": "user", "content": "q"}]}]),
        "latin1": tmp / "latin1.jsonl",
        # your own data (issue 14): every reader, the split, the format detection
        "six": _jsonl(tmp / "six.jsonl", [GOOD_CHAT] * 6),
        "twenty": _jsonl(tmp / "twenty.jsonl", [GOOD_CHAT] * 20),
        "mixed": _jsonl(tmp / "mixed.jsonl", [GOOD_CHAT, {"instruction": "q", "output": "a"}]),
        "unknown_shape": _jsonl(tmp / "qa.jsonl", [{"question": "q", "answer": "a"}]),
        "bad_role": _jsonl(tmp / "sg.jsonl", [{"conversations": [{"from": "tool", "value": "x"}]}]),
        "csv_columns": _text(tmp / "qa.csv", "question,answer\nq,a\n"),
        "bad_parquet": _text(tmp / "broken.parquet", "not parquet at all"),
        "txt": _text(tmp / "notes.txt", "hello\n"),
        "plain_dir": _folder(tmp / "plain_dir"),
    }


def _text(path, text):
    path.write_text(text)
    return path


def _folder(path):
    path.mkdir()
    (path / "readme.md").write_text("not a dataset\n")
    return path


def _saved_dataset(path, rows):
    import datasets

    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path


# (id, module, args, words the one line must contain)
CASES = [
    ("unknown-preset", "sweep", ["model=llama4"], ["model", "llama4", "tiny_llama"]),
    ("unknown-key", "sweep", ["n_trial=3"], ["n_trial", "unknown"]),
    ("unknown-nested-key", "sweep", ["train.lr=0.1"], ["train.lr", "unknown"]),
    ("zero-trials", "sweep", ["n_trials=0"], ["n_trials", "at least 1"]),
    ("non-int-trials", "sweep", ["n_trials=lots"], ["n_trials", "integer"]),
    ("study-escape", "sweep", ["study_name=../x"], ["study_name", "output_dir"]),
    ("study-slash", "sweep", ["study_name=a/b"], ["study_name"]),
    ("bad-objective", "sweep", ["objective=dpo"], ["objective", "dpo"]),
    ("orpo-needs-preferences", "sweep", ["objective=orpo"], ["objective", "preference"]),
    ("preferences-need-orpo", "sweep", ["data=sample_preferences"], ["data.format", "orpo"]),
    ("tiny-seq-len", "sweep", ["data.max_seq_len=2"], ["data.max_seq_len"]),
    ("seq-len-cuts-all-answers", "sweep", ["data.max_seq_len=12"], ["data.max_seq_len", "raise"]),
    ("eval-every-0", "sweep", ["train.eval_every=0"], ["train.eval_every"]),
    ("grid-continuous", "sweep", ["sampler=grid", "search_space=quick"], ["grid sampler", "learning_rate"]),
    ("inline-with-address", "sweep", ["executor=inline", "executor.address=ray://h:10001"], ["executor.address"]),
    ("unsloth-without-gpu", "sweep", ["backend=unsloth"], ["backend", "unsloth"]),
    ("disk-full", "sweep", ["min_free_disk_gb=1e9"], ["GiB free", "min_free_disk_gb"]),
    ("override-without-equals", "sweep", ["n_trials"], ["n_trials"]),
    ("hub-preset-offline", "sweep", ["model=qwen"], ["Qwen/Qwen2.5-0.5B-Instruct", "model.path"]),
    ("fixed-unknown-setting", "sweep", ["+fixed.lora_rank=4"], ["fixed.lora_rank", "unknown setting"]),
    ("fixed-negative-rank", "sweep", ["+fixed.lora_r=-4"], ["fixed.lora_r", "positive"]),
    ("fixed-not-a-number", "sweep", ["+fixed.learning_rate=fast"], ["fixed.learning_rate", "number"]),
    ("fixed-bad-template", "sweep", ["+fixed.chat_template=gpt"], ["chat_template", "chatml"]),
    ("data-missing-file", "sweep", ["data.path=/nonexistent/train.jsonl"], ["data.path", "not found"]),
    ("data-malformed-line", "sweep", ["data.path={malformed}"], ["malformed.jsonl:2", "JSON"]),
    ("data-no-assistant", "sweep", ["data.path={no_assistant}"], ["assistant"]),
    ("data-empty-eval", "sweep", ["data.eval_path={empty}"], ["data.eval_path", "empty.jsonl", "empty"]),
    ("data-wrong-format", "sweep", ["data.format=chat", "data.path={wrong_format}"],
     ["text.jsonl:1", "messages", "data.format=completion"]),
    ("data-empty-file", "sweep", ["data.path={empty}"], ["data.path", "empty.jsonl", "add rows"]),
    ("data-too-few-rows-to-split", "sweep", ["data.path={six}"], ["six.jsonl", "has 6 rows", "data.eval_path"]),
    ("data-split-share-zero", "sweep", ["data.path={twenty}", "data.val_set_size=0"], ["data.val_set_size", "(0, 1)"]),
    ("data-split-share-negative", "sweep", ["data.path={twenty}", "data.val_set_size=-0.1"],
     ["data.val_set_size", "(0, 1)"]),
    ("data-mixed-shapes", "sweep", ["data.path={mixed}"], ["mixed.jsonl:2", "alpaca", "mixed.jsonl:1", "chat",
                                                           "one format per file"]),
    ("data-unknown-shape", "sweep", ["data.path={unknown_shape}"], ["qa.jsonl:1", "answer, question",
                                                                    "no known format", "data.format"]),
    ("data-sharegpt-unknown-role", "sweep", ["data.path={bad_role}"], ["sg.jsonl:1", "'tool'", "human"]),
    ("data-csv-without-columns", "sweep", ["data.path={csv_columns}"], ["qa.csv:2", "answer, question",
                                                                         "instruction/input/output"]),
    ("data-csv-missing-column-for-format", "sweep", ["data.path={csv_columns}", "data.format=alpaca"],
     ["qa.csv:2", "instruction", "output"]),
    ("data-parquet-unreadable", "sweep", ["data.path={bad_parquet}"], ["broken.parquet", "Parquet", "JSONL"]),
    ("data-unsupported-file-type", "sweep", ["data.path={txt}"], ["notes.txt", ".txt", ".parquet"]),
    ("data-folder-not-a-dataset", "sweep", ["data.path={plain_dir}"], ["plain_dir", "save_to_disk"]),
    ("data-folder-other-shape", "sweep", ["data.path={saved_other}"], ["saved_other[0]", "no known format"]),
    ("data-folder-missing-split", "sweep", ["data.path={saved_dict}"], ["saved_dict", "validation",
                                                                         "data.split"]),
    ("data-hub-id-offline", "sweep", ["data.path=someorg/some_dataset"], ["data.path", "someorg/some_dataset",
                                                                          "hub", "local file"]),
    ("data-alpaca-missing-output", "sweep", ["data=sample_alpaca", "data.path={alpaca_bad}"], ["output"]),
    ("data-preference-identical", "sweep", ["data=sample_preferences", "objective=orpo",
                                            "data.path={pref_same}"], ["identical"]),
    ("data-val-size", "sweep", ["data.eval_path=null", "data.val_set_size=1.5"], ["data.val_set_size"]),
    ("space-low-high", "sweep", ["search_space={low_high}"], ["learning_rate", "low <= high"]),
    ("space-log-zero", "sweep", ["search_space={log0}"], ["learning_rate", "low > 0"]),
    ("space-empty-choices", "sweep", ["search_space={empty_choices}"], ["lora_r", "choices"]),
    ("space-unknown-type", "sweep", ["search_space={bad_type}"], ["type", "categorical"]),
    ("space-unknown-param", "sweep", ["search_space={bad_param}"], ["rank", "unknown parameter"]),
    ("space-negative-rank", "sweep", ["search_space={neg_rank}"], ["lora_r", "positive"]),
    ("space-invalid-yaml", "sweep", ["search_space={bad_yaml}"], ["s7.yaml", "YAML"]),
    ("space-missing", "sweep", ["search_space=nope"], ["search_space", "default"]),
    ("space-bad-enqueue", "sweep", ["search_space={bad_enqueue}"], ["enqueue", "lora_r"]),
    ("space-nothing-searched", "sweep", ["search_space={no_params}"], ["at least one searched"]),
    ("space-unknown-section", "sweep", ["search_space={bad_section}"], ["parameters", "unknown section"]),
    ("space-enqueue-not-a-choice", "sweep", ["search_space={enqueue_outside}"], ["enqueue", "choices"]),
    ("space-int-fractional-step", "sweep", ["search_space={int_half_step}"], ["step", "integer"]),
    ("space-choice-wrong-type", "sweep", ["search_space={str_choice}"], ["effective_batch_size", "integer"]),
    ("data-assistant-first", "sweep", ["data.path={assistant_first}"], ["user message before"]),
    ("data-not-utf8", "sweep", ["data.path={latin1}"], ["UTF-8"]),
    ("unknown-chat-template", "sweep", ["data.chat_template=gpt"], ["data.chat_template", "chatml"]),
    ("cpus-not-a-number", "sweep", ["executor.cpus_per_trial=abc"], ["executor.cpus_per_trial", "number"]),
    ("divergence-factor", "sweep", ["train.divergence_factor=0"], ["train.divergence_factor", "> 1"]),
    ("pruner-arguments", "sweep", ["pruner=median", "pruner.interval_steps=0"], ["interval_steps"]),
    ("storage-not-a-url", "sweep", ["storage=notaurl"], ["storage", "sqlite:////"]),
    ("storage-missing-folder", "sweep", ["storage=sqlite:////nonexistent_dir/x.db"], ["does not exist"]),
    ("eight-bit-optimizer-without-bnb", "sweep", ["+fixed.optimizer=adamw_8bit"], ["bitsandbytes"]),
    ("multirun", "sweep", ["-m", "n_trials=2"], ["--multirun", "search space"]),
    ("qlora-without-gpu", "sweep", ["model.load_in_4bit=true"], ["model.load_in_4bit", "CUDA GPU"]),
    ("templates-need-chat-data", "sweep", ["data=sample_alpaca", "search_space=templates"],
     ["search_space", "chat_template", "data.format=alpaca"]),
]


@pytest.mark.parametrize("case_id, module, args, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(case_id, module, args, words, tmp_path, monkeypatch, capsys):
    files = case_files(tmp_path)
    files["alpaca_bad"].write_text(json.dumps([{"instruction": "q", "output": "a"}, {"instruction": "q"}]))
    files["latin1"].write_bytes(json.dumps(GOOD_CHAT).replace("q", "caf\u00e9").encode("latin-1") + b"\n")
    if "{saved_other}" in args[-1]:
        files["saved_other"] = _saved_dataset(tmp_path / "saved_other", [{"foo": "x", "bar": "y"}] * 20)
    if "{saved_dict}" in args[-1]:
        import datasets

        files["saved_dict"] = tmp_path / "saved_dict"
        datasets.DatasetDict({"validation": datasets.Dataset.from_list([GOOD_CHAT] * 20)}).save_to_disk(
            str(files["saved_dict"]))
    out = tmp_path / "out"
    argv = [f"output_dir={out}", "study_name=s", "eval.behaviour=false"] + [a.format(**files) for a in args]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the corpus is for a CPU machine
    monkeypatch.setattr(sys, "argv", [module, *argv])
    main = importlib.import_module("sweep.__main__").main
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exit_.value.code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists() or not any(out.iterdir())


def test_corpus_has_at_least_25_cases():
    assert len(CASES) >= 25


# Commands that read what a sweep wrote: a missing study, trial or file, a corrupt best.yaml.
TOOL_CASES = [
    ("export-no-study", "sweep.export", ["study_name=nope", "output_dir={out}"], ["nope"]),
    ("report-no-study", "sweep.report", ["study_name=nope", "output_dir={out}"], ["nope"]),
    ("retrain-missing-file", "sweep.retrain", ["from={out}/best.yaml"], ["best.yaml"]),
    ("retrain-not-yaml", "sweep.retrain", ["from={bad_yaml}"], ["s7.yaml"]),
    ("retrain-wrong-schema", "sweep.retrain", ["from={low_high}"], ["s1.yaml"]),
]


@pytest.mark.parametrize("case_id, module, args, words", TOOL_CASES, ids=[c[0] for c in TOOL_CASES])
def test_bad_input_to_tools_exits_2_with_one_line(case_id, module, args, words, tmp_path, monkeypatch, capsys):
    files = case_files(tmp_path)
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", [module, *[a.format(out=out, **files) for a in args]])
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exit_.value.code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists() or not any(out.rglob("*"))
