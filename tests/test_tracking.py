"""What each trial logs (config, eval-loss history, summary), W&B offline runs, no secrets."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import optuna
import pytest

from sweep import probes, redaction, study_tracking, tracking, wandb_setup
from sweep.config import TrackerConfig, load_config
from sweep.errors import ConfigError

# A space where pruning is certain: the median pruner (n_startup_trials=1) compares the second,
# enqueued trial (lr 1e-6: the loss barely moves) with the first (lr 5e-3) at step 2.
PRUNING_SPACE = """\
params:
  learning_rate: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
fixed: {max_steps: 4, lora_r: 4, lora_alpha_ratio: 2.0, effective_batch_size: 4, warmup_ratio: 0.0}
enqueue:
  - {learning_rate: 5.0e-3}
  - {learning_rate: 1.0e-6}
"""

CONFIG_KEYS = {"model", "learning_rate", "lora_r", "lora_alpha", "alpha_over_r", "lora_dropout",
               "effective_batch_size", "target_modules", "target_module_names", "use_rslora",
               "chat_template", "backend", "study_name", "trial"}


def overrides(tmp_path: Path, *extra: str) -> list[str]:
    space = tmp_path / "space.yaml"
    space.write_text(PRUNING_SPACE)
    return [f"search_space={space}", "n_trials=2", f"output_dir={tmp_path / 'out'}", "study_name=track",
            "eval.behaviour=false", "train.num_threads=1", "train.eval_every=2", "train.micro_batch_size=4",
            "executor=inline", "pruner=median", "pruner.n_startup_trials=1", "data.max_eval_examples=8", *extra]


def run_sweep(cfg):
    from sweep import engine

    return engine.run(cfg)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --------------------------------------------------------------------------- unit


def test_scrub_drops_secret_keys_and_redacts_secret_values(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefgh123")
    monkeypatch.setenv("MY_DB_PASSWORD", "hunter2hunter2")
    out = redaction.scrub({
        "hf_token": "x", "wandb_api_key": "y", "aws_secret": "z", "db_password": "w",
        "tokens_per_s": 12.5, "target_modules": "all_linear", "pad_token_id": 0,
        "note": "model from hf_abcdefgh123", "storage": "postgresql://me:hunter2hunter2@db/optuna",
        "other_storage": "postgresql://me:s3cr3t@db/x", "nested": {"api_key": "k", "ok": 1},
    })
    assert "hf_token" not in out and "wandb_api_key" not in out and "aws_secret" not in out
    assert "db_password" not in out and "pad_token_id" not in out
    assert out["tokens_per_s"] == 12.5 and out["target_modules"] == "all_linear"
    assert out["note"] == "model from ***"
    assert out["storage"] == "postgresql://me:***@db/optuna"
    assert out["other_storage"] == "postgresql://me:***@db/x"
    assert out["nested"] == {"ok": 1}


def test_mode_auto_is_online_only_with_an_api_key(tmp_path):
    auto = TrackerConfig(name="wandb", mode="auto")
    home = {"HOME": str(tmp_path), "NETRC": str(tmp_path / "missing")}
    assert wandb_setup.resolve_mode(auto, home) == "offline"
    assert wandb_setup.resolve_mode(auto, {**home, "WANDB_API_KEY": "k" * 40}) == "online"
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "a" * 40 + "\n")
    assert wandb_setup.resolve_mode(auto, {**home, "NETRC": str(netrc)}) == "online"
    other = {**home, "NETRC": str(netrc), "WANDB_BASE_URL": "https://wandb.example.com"}
    assert wandb_setup.resolve_mode(auto, other) == "offline"  # key for another host
    assert wandb_setup.resolve_mode(auto, {**home, "WANDB_API_KEY": "k", "WANDB_MODE": "offline"}) == "offline"
    assert wandb_setup.resolve_mode(TrackerConfig(name="wandb", mode="online"), home) == "online"
    assert wandb_setup.resolve_mode(TrackerConfig(name="wandb", mode="disabled"), home) == "disabled"


def test_wandb_folders_default_to_the_study_folder(tmp_path, monkeypatch):
    for name in ("WANDB_DIR", wandb_setup.AUTO_DIRS_ENV, *wandb_setup.WANDB_DIR_ENVS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "mine"))  # the user's choice is kept
    cfg = load_config([f"output_dir={tmp_path}", "study_name=s", "tracker=wandb"])
    root = wandb_setup.wandb_environment(cfg)
    assert root == tmp_path / "s" / "wandb"
    import os

    assert os.environ["WANDB_CONFIG_DIR"] == str(root / "config")
    assert os.environ["WANDB_DATA_DIR"] == str(root / "data")
    assert os.environ["WANDB_CACHE_DIR"] == str(tmp_path / "mine")
    # a second study in the same process moves the folders this module chose, not the user's
    cfg2 = load_config([f"output_dir={tmp_path}", "study_name=s2", "tracker=wandb"])
    wandb_setup.wandb_environment(cfg2)
    assert os.environ["WANDB_CONFIG_DIR"] == str(tmp_path / "s2" / "wandb" / "config")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "elsewhere"))
    assert wandb_setup.wandb_dir(cfg) == tmp_path / "elsewhere"


def test_wandb_not_installed_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    cfg = load_config([f"output_dir={tmp_path}", "tracker=wandb", "tracker.mode=offline"])
    with pytest.raises(ConfigError, match="pip install"):
        tracking.check(cfg)
    with pytest.raises(ConfigError, match="wandb is not installed"):
        tracking.start_trial(cfg, 0, {"learning_rate": 1e-3})
    tracking.check(load_config([f"output_dir={tmp_path}"]))  # tracker=none needs nothing


def test_recording_run_logs_full_settings_history_and_summary(tmp_path, monkeypatch):
    record = tmp_path / "rec.jsonl"
    monkeypatch.setenv(tracking.RECORD_ENV, str(record))
    monkeypatch.setenv("HF_TOKEN", "hf_zyxwvu987654")
    cfg = load_config([f"output_dir={tmp_path}", "tracker=recording", "search_space=quick", "study_name=u"])
    run = tracking.start_trial(cfg, 3, {"learning_rate": 1e-3, "lora_r": 8, "effective_batch_size": 4,
                                        "hf_token": "hf_zyxwvu987654"})
    run.log_config({"micro_batch_size": 2, "gradient_accumulation_steps": 2, "backend": "peft"})
    run.log(10, {"step": 10, "total_steps": 30, "eval_loss": 2.5, "train_loss": 2.6})
    run.log(20, {"step": 20, "total_steps": 30, "eval_loss": 2.25, "train_loss": 2.3})
    run.finish("PRUNED", {"value": None, "reason": "pruned at step 20 (eval loss 2.2500)"})
    run.finish("PRUNED", {})  # a second finish is ignored
    events = read_jsonl(record)
    assert [e["event"] for e in events] == ["start", "config", "log", "log", "finish"]
    start = events[0]
    assert start["trial"] == 3 and start["group"] == "u" and start["job_type"] == "trial"
    assert start["name"] == "trial-3"
    config = start["config"]
    assert CONFIG_KEYS <= set(config)
    # pinned by the quick space, not sampled: still in the config
    assert config["lora_alpha"] == 16.0 and config["alpha_over_r"] == 2.0 and config["max_steps"] == 30
    assert config["lora_dropout"] == 0.0 and config["target_modules"] == "all_linear"
    assert "q_proj" in config["target_module_names"] and config["use_rslora"] is False
    assert "hf_token" not in config and "hf_zyxwvu987654" not in record.read_text()
    assert events[2]["step"] == 10 and events[2]["metrics"]["eval_loss"] == 2.5
    summary = events[-1]["summary"]
    assert events[-1]["state"] == "PRUNED" and summary["state"] == "PRUNED"
    assert summary["reason"].startswith("pruned at step 20")
    assert summary["final_eval_loss"] is None and summary["best_eval_loss"] == 2.25
    assert summary["last_step"] == 20 and summary["steps"] == 20


def test_tracker_errors_never_fail_a_trial(tmp_path, capsys):
    cfg = load_config([f"output_dir={tmp_path}", "tracker=recording", "search_space=quick"])
    run = tracking.start_trial(cfg, 0, {"learning_rate": 1e-3})

    def broken(*_):
        raise RuntimeError("tracker down")

    run._log = broken
    run.log(1, {"eval_loss": 1.0})
    run.log(2, {"eval_loss": 1.0})
    err = capsys.readouterr().err
    assert err.count("tracker down") == 1  # one warning, not one per call


def test_wandb_init_failure_leaves_the_trial_untracked(tmp_path, monkeypatch, capsys):
    pytest.importorskip("wandb")

    def refuse(*args, **kwargs):
        raise RuntimeError("no W&B server")

    monkeypatch.setattr(tracking, "WandbTrialRun", refuse)
    cfg = load_config([f"output_dir={tmp_path}", "tracker=wandb", "tracker.mode=online"])
    run = tracking.start_trial(cfg, 5, {"learning_rate": 1e-3})
    assert isinstance(run, tracking.NullTrialTracker)
    assert "W&B run for trial 5 not created" in capsys.readouterr().err


# --------------------------------------------------------------------------- end to end


def test_recording_sweep_logs_every_trial_incl_a_pruned_one(tmp_path, monkeypatch):
    from sweep import noise

    record = tmp_path / "record.jsonl"
    monkeypatch.setenv(tracking.RECORD_ENV, str(record))
    cfg = load_config(overrides(tmp_path, "tracker=recording"))
    summary = run_sweep(cfg)
    study = summary.study
    states = {t.number: t.state.name for t in study.trials}
    assert states == {0: "COMPLETE", 1: "PRUNED"}, states

    events = read_jsonl(record)
    by_trial: dict[int, list[dict]] = {}
    for e in events:
        if e["event"] != "study":
            by_trial.setdefault(e["trial"], []).append(e)
    assert sorted(by_trial) == [0, 1]
    for number, evs in by_trial.items():
        frozen = study.trials[number]
        assert evs[0]["event"] == "start" and evs[-1]["event"] == "finish"
        config = {k: v for e in evs if e["event"] in ("start", "config") for k, v in e["config"].items()}
        assert CONFIG_KEYS | {"micro_batch_size", "gradient_accumulation_steps"} <= set(config)
        assert config["learning_rate"] == frozen.params["learning_rate"]
        assert config["backend"] == "peft" and config["micro_batch_size"] == 4
        assert config["gradient_accumulation_steps"] == 1 and config["lora_alpha"] == 8.0
        # per-row eval NLLs are in the study (sweep.noise), not in the run's config
        assert noise.rows_of(frozen.user_attrs) and not [k for k in config if "eval_rows" in k]
        # the history is exactly what the pruner saw
        history = {e["step"]: e["metrics"]["eval_loss"] for e in evs if e["event"] == "log"}
        assert history == frozen.intermediate_values
        assert evs[-1]["summary"]["state"] == frozen.state.name

    done = by_trial[0][-1]["summary"]
    assert done["final_eval_loss"] == pytest.approx(study.trials[0].value)
    assert done["best_eval_loss"] == pytest.approx(min(study.trials[0].intermediate_values.values()))
    assert done["steps"] == 4 and done["tokens_per_s"] > 0 and done["peak_memory_mb"] > 0
    pruned = by_trial[1][-1]["summary"]
    assert pruned["final_eval_loss"] is None and pruned["reason"].startswith("pruned at step 2")
    assert pruned["last_step"] == 2
    # a pruned trial records what it ran, in the study and in its run's summary
    ran = study.trials[1].user_attrs
    assert ran["steps"] == 2 and ran["tokens_per_s"] > 0 and ran["peak_memory_mb"] > 0 and ran["wall_time_s"] > 0
    assert pruned["tokens_per_s"] == ran["tokens_per_s"]

    (table,) = [e for e in events if e["event"] == "study"]
    assert table["job_type"] == "summary" and table["study_name"] == "track"
    rows = [dict(zip(table["columns"], r, strict=True)) for r in table["rows"]]
    assert [(r["trial"], r["state"]) for r in rows] == [(0, "COMPLETE"), (1, "PRUNED")]
    assert rows[0]["eval_loss"] == pytest.approx(study.trials[0].value) and rows[1]["eval_loss"] is None
    assert rows[1]["learning_rate"] == pytest.approx(1e-6) and rows[1]["reason"].startswith("pruned")
    assert table["summary"]["best_trial"] == 0 and table["summary"]["n_pruned"] == 1
    assert (cfg.study_dir / "report.html").is_file()


def _wandb_records(path: Path):
    """Records of a `.wandb` file (LevelDB log format; W&B ships no public reader)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, n, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if n == 0 and kind == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + n], pos + 7 + n
        if kind == 2:
            buf = chunk
            continue
        if kind == 3:
            buf += chunk
            continue
        rec = pb.Record()
        rec.ParseFromString(buf + chunk if kind == 4 else chunk)
        buf = b""
        yield rec


def _items(items) -> dict:
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


@pytest.mark.parametrize("where", ["study_folder", "WANDB_DIR"])
def test_wandb_offline_sweep_writes_one_run_per_trial_and_a_summary_run(tmp_path, monkeypatch, where):
    pytest.importorskip("wandb")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    for name in ("WANDB_DIR", "WANDB_API_KEY", "NETRC", wandb_setup.AUTO_DIRS_ENV, *wandb_setup.WANDB_DIR_ENVS):
        monkeypatch.delenv(name, raising=False)
    if where == "WANDB_DIR":
        monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    cfg = load_config(overrides(tmp_path, "tracker=wandb", "tracker.project=test-sweep"))
    try:
        summary = run_sweep(cfg)
    finally:
        import wandb

        wandb.teardown()
    runs = wandb_setup.offline_runs(cfg)
    assert len(runs) == 3, runs  # 2 trials + 1 study summary
    root = tmp_path / "wb" if where == "WANDB_DIR" else cfg.study_dir / "wandb"
    assert all(r.parent == root / "wandb" for r in runs)
    seen = {}
    for d in runs:
        (file,) = d.glob("*.wandb")
        recs = list(_wandb_records(file))
        (run,) = [r.run for r in recs if r.WhichOneof("record_type") == "run"]
        assert run.run_group == "track" and run.project == "test-sweep"
        config = _items(run.config.update)
        for r in recs:
            if r.WhichOneof("record_type") == "config":
                config.update(_items(r.config.update))
        history = [_items(r.history.item) for r in recs if r.WhichOneof("record_type") == "history"]
        summaries = {}
        for r in recs:
            if r.WhichOneof("record_type") == "summary":
                summaries.update(_items(r.summary.update))
        seen[run.display_name] = (run.job_type, config, history, summaries, d)
    assert sorted(seen) == ["track-summary", "trial-0", "trial-1"]
    for number in (0, 1):
        job_type, config, history, summ, _ = seen[f"trial-{number}"]
        frozen = summary.study.trials[number]
        assert job_type == "trial"
        assert CONFIG_KEYS | {"micro_batch_size", "gradient_accumulation_steps"} <= set(config)
        assert config["learning_rate"] == pytest.approx(frozen.params["learning_rate"])
        assert {h["_step"]: h["eval_loss"] for h in history} == pytest.approx(frozen.intermediate_values)
        assert summ["state"] == frozen.state.name
    assert seen["trial-0"][3]["final_eval_loss"] == pytest.approx(summary.study.trials[0].value)
    assert seen["trial-1"][3]["reason"].startswith("pruned at step 2")
    job_type, _, _, summ, d = seen["track-summary"]
    assert job_type == "summary" and summ["best_trial"] == 0
    (table_file,) = (d / "files" / "media" / "table").glob("trials_*.table.json")
    table = json.loads(table_file.read_text())
    assert "learning_rate" in table["columns"] and "eval_loss" in table["columns"]
    assert len(table["data"]) == 2
    # $HOME stays clean and the user is told how to upload
    assert not any(home.rglob("*wandb*")), list(home.rglob("*"))
    from sweep.html_report import inspect_lines

    assert any(f"wandb sync {runs[0].parent}/offline-run-*" in line for line in inspect_lines(cfg))


def test_finish_study_without_tracker_does_nothing(tmp_path):
    cfg = load_config([f"output_dir={tmp_path}"])
    study = optuna.create_study()
    study_tracking.finish_study(cfg, None, study)
    assert study_tracking.summary_lines(cfg) == []
    assert not any(tmp_path.iterdir())


def test_behaviour_metrics_reach_the_tracker(tmp_path, monkeypatch):
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv(tracking.RECORD_ENV, str(record))
    cfg = load_config(overrides(tmp_path, "tracker=recording", "eval.behaviour=true", "eval.max_examples=4",
                                "eval.max_new_tokens=8"))
    study = run_sweep(cfg).study
    events = read_jsonl(record)
    runs = {e["name"]: e for e in events if e["event"] == "behaviour"}
    assert sorted(runs) == ["base+rag-behaviour", "base-behaviour", "trial-0-behaviour"]
    trial_run = runs["trial-0-behaviour"]
    assert trial_run["job_type"] == "behaviour" and trial_run["group"] == "track"
    # the trial's settings, so it sits in the same parallel-coordinates panel
    assert trial_run["config"]["learning_rate"] == pytest.approx(study.trials[0].params["learning_rate"])
    attrs = study.trials[0].user_attrs
    for metric in ("stop_rate", "accuracy", "hallucination_rate", "privacy_rate"):
        assert trial_run["summary"][metric] == pytest.approx(attrs[f"behaviour_{metric}"], nan_ok=True)
    # the 4 held-out answers and the shipped probes' (sweep/probes.jsonl)
    assert len(trial_run["rows"]) == 4 + len(probes.load()) and "hallucinated" in trial_run["columns"]
    assert runs["base-behaviour"]["config"]["trial"] is None
    # and the summary run's table carries the same numbers as columns
    (table,) = [e for e in events if e["event"] == "study"]
    rows = [dict(zip(table["columns"], r, strict=True)) for r in table["rows"]]
    assert rows[0]["behaviour_stop_rate"] == pytest.approx(attrs["behaviour_stop_rate"])
    assert rows[1]["behaviour_stop_rate"] is None  # the pruned trial was not evaluated


def test_wandb_offline_behaviour_runs_and_a_failed_one_is_reported(tmp_path, monkeypatch, capsys):
    """Real offline W&B with behaviour evaluation on: one `behaviour` run per evaluated model
    holding the metrics and every generation. One of them fails in wandb.init: the others are
    still logged, and the failure is in the sweep's outcome (the summary's problems, the study's
    `tracker_problems`, the printed summary), not only a warning."""
    wandb = pytest.importorskip("wandb")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    for name in ("WANDB_API_KEY", "NETRC", wandb_setup.AUTO_DIRS_ENV, *wandb_setup.WANDB_DIR_ENVS):
        monkeypatch.delenv(name, raising=False)
    real_init = wandb.init

    def init(*args, **kwargs):
        if kwargs.get("name") == "base+rag-behaviour":
            raise wandb.errors.CommError("could not write the run (injected)")
        return real_init(*args, **kwargs)

    monkeypatch.setattr(wandb, "init", init)
    cfg = load_config(overrides(tmp_path, "tracker=wandb", "n_trials=1", "eval.behaviour=true",
                                "eval.max_examples=4", "eval.max_new_tokens=8"))
    try:
        summary = run_sweep(cfg)
    finally:
        wandb.teardown()
    runs = {}
    for d in wandb_setup.offline_runs(cfg):
        (file,) = d.glob("*.wandb")
        recs = list(_wandb_records(file))
        (run,) = [r.run for r in recs if r.WhichOneof("record_type") == "run"]
        summ = {}
        for r in recs:
            if r.WhichOneof("record_type") == "summary":
                summ.update(_items(r.summary.update))
        runs[run.display_name] = (run.job_type, _items(run.config.update), summ, d)
    assert sorted(runs) == ["base-behaviour", "track-summary", "trial-0", "trial-0-behaviour"]
    job_type, config, summ, d = runs["trial-0-behaviour"]
    attrs = summary.study.trials[0].user_attrs
    assert job_type == "behaviour" and config["learning_rate"] == pytest.approx(summary.study.trials[0].params["learning_rate"])
    for metric in ("stop_rate", "accuracy", "hallucination_rate", "privacy_rate"):
        assert summ[metric] == pytest.approx(attrs[f"behaviour_{metric}"], nan_ok=True)
    (table_file,) = (d / "files" / "media" / "table").glob("generations_*.table.json")
    table = json.loads(table_file.read_text())
    assert len(table["data"]) == 4 + len(probes.load()) and "hallucinated" in table["columns"]  # + the probes
    assert runs["base-behaviour"][0] == "behaviour"
    # the failure: reported in the outcome, the rest of the sweep's outputs intact
    (problem,) = summary.problems
    assert "base+rag-behaviour" in problem and "CommError" in problem
    assert summary.study.user_attrs["tracker_problems"] == [problem]
    out = capsys.readouterr()
    assert f"NOT LOGGED: {problem}" in out.out and "warning:" in out.err
    assert (cfg.study_dir / "behaviour.csv").is_file()
