"""What a sweep leaves in its study folder, rebuilt from the study after each trial.

    <output_dir>/<study_name>/
        study.db          Optuna storage (default; any Optuna URL works)
        trials.csv        one row per trial: number, state, value, params, recorded attributes
        best.yaml         the chosen trial's full training settings (`select`: sweep.selection;
                          input of sweep.retrain and sweep.export)
        best_adapter/     the chosen trial's LoRA adapter (PEFT format) + tokenizer
        trials/N/adapter  adapters of the top `keep_adapters` trials by eval loss, and of the
                          trials `select` may still choose (see `keep_adapters`)

Everything here is derived from the study (the single source of truth), so it can be
rewritten at any time, also by another process, and a killed sweep loses none of it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from sweep import finalists, noise, selection, trial_settings
from sweep.config import SweepConfig, to_plain
from sweep.search_space import SearchSpace

HIDDEN_ATTRS = ("eval_history", "oom_fallbacks", "config", "eval_rows", "prefix_history")
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are ordinary files
    os.replace(tmp, path)


def _cell(v: Any) -> Any:
    if isinstance(v, list | dict | tuple):
        return json.dumps(v)
    return v


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name,
                               "value": t.value if t.state == TrialState.COMPLETE else None}
        row.update(t.params)
        for k, v in t.user_attrs.items():
            if k not in HIDDEN_ATTRS and not k.startswith(noise.ROWS_PREFIX):
                row[k] = _cell(v)
        if t.user_attrs.get("oom_fallbacks"):
            row["oom_fallbacks"] = json.dumps(t.user_attrs["oom_fallbacks"])
        iv = t.intermediate_values
        row["last_step"] = max(iv) if iv else None
        row["last_eval_loss"] = iv[max(iv)] if iv else None
        row["duration_s"] = round(t.duration.total_seconds(), 2) if t.duration else None
        rows.append(row)
    return rows


def write_trials_csv(study: optuna.Study, path: Path, cfg: SweepConfig | None = None) -> None:
    """trials.csv; with `cfg`, also each asked trial's `behaviour_score`, which trial `select`
    chose (`chosen`) and, for finalists trained with more seeds, `seed_mean_eval_loss`, `seed_sd`
    and `n_seeds` (sweep.finalists)."""
    rows = trial_rows(study)
    chosen = selection.choose(cfg, study) if cfg is not None else None
    means = finalists.seed_means(cfg, study) if cfg is not None else {}
    for row in rows:
        if row["number"] in means:
            mean, sd, n = means[row["number"]]
            row.update(seed_mean_eval_loss=round(mean, 6), seed_sd=round(sd, 6), n_seeds=n)
    if chosen is not None:
        for row in rows:
            if row["number"] in chosen.scores:
                row["behaviour_score"] = chosen.scores[row["number"]]
            row["chosen"] = row["number"] == chosen.trial.number
    head = ["number", "state", "value"]
    params = sorted({k for t in study.get_trials(deepcopy=False) for k in t.params})
    rest = sorted({k for r in rows for k in r} - set(head) - set(params))
    columns = head + params + [c for c in rest if c not in params]
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write(path, buf.getvalue())


def write_best(cfg: SweepConfig, space: SearchSpace, study: optuna.Study) -> FrozenTrial | None:
    """best.yaml: the settings of the trial the `select` step chooses (sweep.selection)."""
    best = selection.chosen_trial(cfg, study)
    if best is None:
        return None
    atomic_write(cfg.study_dir / "best.yaml",
                 yaml.safe_dump(to_plain(trial_settings.from_trial(cfg, space, best)), sort_keys=False))
    return best


def adapter_marker(trial: FrozenTrial) -> str:
    """Which trial an adapter folder holds: number and start time (numbers repeat across studies)."""
    return f"{trial.number} {trial.datetime_start.isoformat() if trial.datetime_start else ''}"


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a finished adapter file (never written again) where the filesystem allows."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def keep_adapters(cfg: SweepConfig, study: optuna.Study) -> None:
    """Keep the top-K trial adapters by eval loss and those of the trials `select` may still
    choose (asked the behaviour questions and within its loss guard: the best loss only falls, so
    a trial outside the guard never comes back; with `finalists.seeds`, the finalists tied within
    noise), publish the chosen trial's as best_adapter/, delete other adapters.

    best_adapter/ hard-links the chosen trial's files (one adapter's bytes on disk).
    A trial's folder keeps its error.log and its answers (behaviour.jsonl); only `adapter/`
    folders are removed.
    """
    trials = study.get_trials(deepcopy=False)  # one snapshot for ranking and for "running"
    top = selection.complete(study)
    picked = selection.choose(cfg, study)
    chosen = picked.trial if picked else None
    running = {t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)}
    trials_dir = cfg.study_dir / "trials"
    dst = cfg.study_dir / "best_adapter"
    if chosen is not None:
        src = trials_dir / str(chosen.number) / "adapter"
        marker = dst / "TRIAL"
        if not src.is_dir():
            # e.g. trained on another host: never show another trial's adapter as the chosen one
            if not marker.is_file() or marker.read_text().strip() != adapter_marker(chosen):
                shutil.rmtree(dst, ignore_errors=True)
        elif not marker.is_file() or marker.read_text().strip() != adapter_marker(chosen):
            tmp = cfg.study_dir / f".best_adapter.{os.getpid()}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp, copy_function=_link_or_copy)  # one copy on disk, not two
            (tmp / "TRIAL").write_text(adapter_marker(chosen) + "\n")
            shutil.rmtree(dst, ignore_errors=True)
            os.replace(tmp, dst)
    keep = {t.number for t in top[: cfg.keep_adapters]}
    if picked is not None:
        keep |= {picked.trial.number, *picked.candidates}
    if cfg.finalists.seeds > 0:  # any finalist may be chosen once its reruns are in (select=loss)
        keep |= {t.number for t in finalists.finalists(cfg, study)}
    if trials_dir.is_dir():
        for d in trials_dir.iterdir():
            if d.name.isdigit() and int(d.name) not in keep and int(d.name) not in running:
                shutil.rmtree(d / "adapter", ignore_errors=True)
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()


DERIVED = ("trials.csv", "best.yaml", "best_adapter", "axolotl.yaml", "report.html", "behaviour.csv",
           "behaviour.md", "behaviour_generations.jsonl", "lm_eval", "trials", "axolotl_data")


def clear_derived(cfg: SweepConfig) -> None:
    """Remove outputs left by an older study of the same name (its storage is gone)."""
    for name in DERIVED:
        path = cfg.study_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def refresh(cfg: SweepConfig, space: SearchSpace, study: optuna.Study) -> None:
    """Rewrite every derived output; called after each trial ends."""
    write_trials_csv(study, cfg.study_dir / "trials.csv", cfg)
    write_best(cfg, space, study)
    keep_adapters(cfg, study)
