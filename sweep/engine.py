"""The whole pipeline, top to bottom: config -> checks -> study -> trials -> outputs.

`run(cfg)` is everything `python -m sweep` does:
1. load the search space and check every input (data, model, backend, disk) before anything
   is written (bad input -> ConfigError -> exit status 2), then say which rows train and which
   evaluate ("eval: 10% of my_chat.jsonl, 26 rows, seed 0");
2. open (or resume) the Optuna study in its storage, retry trials a killed sweep left running,
   and enqueue the space's known-good configurations once;
3. hand trials to the executor (inline or Ray); after each trial the study folder is refreshed
   (trials.csv, best.yaml, best adapter) and the tracker told;
4. print the best trials and where everything is.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import optuna

from sweep import (
    axolotl_export,
    backends,
    behaviour,
    data,
    datasource,
    executors,
    finalists,
    html_report,
    memory,
    models,
    pruning,
    results,
    resume,
    retraining,
    sampling,
    search_space,
    selection,
    storage,
    study,
    study_tracking,
    templates,
    tracking,
    trial_counts,
)
from sweep.config import SweepConfig, redact_url
from sweep.errors import ConfigError, Problem
from sweep.executors import ray as ray_executor
from sweep.executors.contract import SweepContext
from sweep.progress import Progress
from sweep.search_space import SearchSpace, TrialParams


@dataclass
class SweepSummary:
    cfg: SweepConfig
    study: optuna.Study
    chosen: optuna.trial.FrozenTrial | None  # the trial `select` returns (best.yaml, best_adapter/)
    counts: dict[str, int]
    problems: list[str] = field(default_factory=list)  # what went wrong after the trials (tracker)


def preflight(cfg: SweepConfig, space: SearchSpace) -> int:
    """Every check that can fail on user input, before anything is written to the study folder.

    Returns the longest encoded example (tokens, any template the space can pick): trials pad a
    micro batch to its longest example, so this, not `data.max_seq_len`, sizes the memory plan."""
    backends.resolve_name(cfg.backend.name)
    tracking.check(cfg)
    executor = executors.resolve_name(cfg)
    if executor == "inline" and cfg.executor.address:
        raise ConfigError(Problem("executor.address", cfg.executor.address,
                                  "a cluster address needs executor=ray (or auto)"))
    if executor == "ray":
        ray_executor.check_cluster_can_run(cfg)  # CPUs/GPUs per trial, an unreachable address: before any write
    if cfg.sampler.name == "grid":
        space.grid()  # raises for continuous dimensions
    joined = executor == "ray" and (cfg.executor.address or os.environ.get("RAY_ADDRESS"))
    if not joined:  # a joined cluster's workers may have what this machine lacks (QLoRA, fp16)
        backends.check_model_runs_here(cfg.model)
    if cfg.data.layout not in ("chat", "preference") and any(p.name == "chat_template" for p in space.params):
        raise ConfigError(Problem("search_space", cfg.search_space,
                                  f"it searches chat_template, but data.format={cfg.data.format} rows are not "
                                  "rendered with a chat template (every trial would be the same); use chat "
                                  "data (e.g. data=sample_chat) or drop chat_template from the space"))
    pruning.make_pruner(cfg)  # bad pruner arguments -> ConfigError
    steps = _possible_float(space, "max_steps")  # the longest trial has the longest warm-up
    warning = pruning.warmup_warning(cfg, int(max(steps)) if steps else None,
                                     max(_possible_float(space, "warmup_ratio")))
    if warning:
        print(warning, file=sys.stderr)
    selection.check(cfg)  # select.weights name behaviour metrics
    storage.check_storage(cfg)
    if any(o in ("adamw_8bit", "paged_adamw_8bit") for o in _possible(space, "optimizer")):
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(Problem("optimizer", "adamw_8bit", "8-bit optimizers need bitsandbytes: "
                                      "pip install 'lora-sweep[qlora]' on a GPU machine; or use adamw_torch"))
    train_rows, eval_rows = data.load_splits(cfg.data, cfg.seed)
    location = models.resolve(cfg.model)
    longest = _check_encoding(cfg, space, location, train_rows, eval_rows)
    if cfg.eval.behaviour:
        behaviour.check_inputs(cfg)
    _check_disk(cfg)
    return longest


def describe_data(cfg: SweepConfig) -> str:
    """The line said at the start: which file trains, which rows evaluate (the preflight's split)."""
    train_rows, eval_rows = data.load_splits(cfg.data, cfg.seed)
    return (f"data: {datasource.short_name(cfg.data.path)} ({cfg.data.format}), {len(train_rows)} rows to train on; "
            + data.describe_eval(cfg.data, cfg.seed, len(eval_rows)))


def _possible(space: SearchSpace, name: str) -> set[Any]:
    """Every value a setting can take in this space (fixed, or a categorical's choices)."""
    for p in space.params:
        if p.name == name:
            return set(p.choices)
    return {space.fixed.get(name, getattr(TrialParams(), name))}


def _possible_float(space: SearchSpace, name: str) -> set[float]:
    """`_possible` as numbers, with a searched range's ends; empty when a value is unset (None)."""
    for p in space.params:
        if p.name == name and p.type != "categorical":
            return {float(p.low), float(p.high)}
    values = _possible(space, name)
    return set() if None in values else {float(v) for v in values}


def _check_encoding(cfg: SweepConfig, space: SearchSpace, location: str, train_rows, eval_rows) -> int:
    """Encode the data with every chat template the space can pick (catches length problems);
    returns the longest encoded sequence."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(location, trust_remote_code=cfg.model.trust_remote_code,
                                        revision=cfg.model.revision)
    own = tok.chat_template
    names = {space.fixed.get("chat_template") or cfg.data.chat_template}
    for p in space.params:
        if p.name == "chat_template":
            names = set(p.choices)
    longest = 1
    for name in sorted(n for n in names if n):
        tok.chat_template = own
        tpl = templates.apply_template(tok, name)
        if cfg.data.layout in ("chat", "preference") and not tok.chat_template:
            raise ConfigError(Problem("data.chat_template", name, "the tokenizer has no chat template; "
                                      "name one (chatml, llama3, ...)"))
        train, evals = data.encode_splits(data.Encoder(tok, cfg.data, tpl.end_of_turn), cfg.objective,
                                          train_rows, eval_rows)
        longest = max(longest, *(len(e[k]) for e in train + evals
                                 for k in ("input_ids", "rejected_input_ids") if k in e))
    return longest


def _check_disk(cfg: SweepConfig) -> None:
    from pathlib import Path

    probe = Path(cfg.output_dir)
    while not probe.exists():
        probe = probe.parent
    free_gb = shutil.disk_usage(probe).free / 2**30
    if free_gb < cfg.min_free_disk_gb:
        raise ConfigError(Problem("output_dir", cfg.output_dir,
                                  f"only {free_gb:.2f} GiB free (< min_free_disk_gb={cfg.min_free_disk_gb:g}); "
                                  "free space or point output_dir elsewhere"))


def open_or_resume(cfg: SweepConfig, space: SearchSpace) -> optuna.Study:
    """The sweep's study: created with its identity and enqueued configurations, or, when it
    exists, checked to be resumable with this config (refused otherwise)."""
    # one process at a time creates (or checks and resumes) the study and its enqueued trials
    with storage.study_lock(cfg):
        existing = storage.load_existing(cfg)
        if existing is not None:
            resume.check_resumable(existing, cfg, space)
        else:
            results.clear_derived(cfg)  # outputs of an older study of the same name
        n_existing = len(existing.trials) if existing is not None else 0
        st = study.create_or_load(cfg, space, seed=sampling.sampler_seed(cfg, n_existing))
        if "identity" not in st.user_attrs:
            st.set_user_attr("identity", resume.identity(cfg, space))
            st.set_user_attr("config", cfg.to_dict())
            st.set_user_attr("search_space", space.to_dict())
            for values in space.enqueue:
                st.enqueue_trial(values, user_attrs={"enqueued": True}, skip_if_exists=True)
        if st.metric_names != [study.OBJECTIVE]:  # also a study created before names were set
            with warnings.catch_warnings():  # "experimental" since Optuna 3.2; public and stable in use
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                st.set_metric_names([study.OBJECTIVE])
    return st


def run(cfg: SweepConfig) -> SweepSummary:
    space = search_space.load_for_config(cfg)
    longest = preflight(cfg, space)
    data_line = describe_data(cfg)
    st = open_or_resume(cfg, space)  # a resume on other data or another space is refused here
    print(data_line, file=sys.stderr)
    st.set_user_attr("data_summary", data_line)  # the report's header shows it
    with storage.study_lock(cfg):
        recovered = resume.recover_interrupted(st)
    if recovered:
        print(f"resuming: trials {recovered} were interrupted; retrying their configurations", file=sys.stderr)
    before = trial_counts.counts(st)
    progress = Progress(cfg.n_trials, already=before["finished"])
    if before["finished"] >= cfg.n_trials:
        print(f"study {cfg.study_name} already has {before['finished']} finished trials "
              f"(n_trials={cfg.n_trials}); nothing to run", file=sys.stderr)

    def on_trial_end(frozen: optuna.trial.FrozenTrial) -> None:
        with storage.study_lock(cfg):
            results.refresh(cfg, space, st)

    # memory_cap: the largest micro batch whose estimated peak fits the GPU (None without one)
    ctx = SweepContext(cfg=cfg, space=space, study=st, progress=progress, on_trial_end=on_trial_end,
                       memory_cap=memory.Planner(cfg, seq_len=longest))
    executors.get(executors.resolve_name(cfg)).run(ctx)
    retraining.train_finalists(cfg, space, st)  # finalists.seeds > 0: more seeds for those tied within noise
    with storage.study_lock(cfg):
        results.refresh(cfg, space, st)
    problems = finish(cfg, space, st)
    summary = SweepSummary(cfg, st, selection.chosen_trial(cfg, st), trial_counts.counts(st), problems)
    print_summary(summary)
    return summary


def finish(cfg: SweepConfig, space: SearchSpace, st: optuna.Study) -> list[str]:
    """After the last trial: behaviour eval, tracker summary, report, Axolotl export.

    Returns what could not be logged to the tracker; also kept on the study
    (user attr `tracker_problems`) and printed with the summary."""
    problems: list[str] = []
    if cfg.eval.behaviour and selection.chosen_trial(cfg, st) is not None:
        subjects = behaviour.evaluate_after_sweep(cfg, space, st)
        problems += study_tracking.log_behaviour(cfg, st, subjects)
    problems += study_tracking.finish_study(cfg, space, st)
    st.set_user_attr("tracker_problems", problems)
    html_report.write_report(cfg, st)
    if selection.chosen_trial(cfg, st) is not None:
        axolotl_export.write_axolotl(cfg, space, st)
    return problems


def print_summary(s: SweepSummary, top: int = 5) -> None:
    out = sys.stdout
    c = s.counts
    print(f"\nstudy {s.cfg.study_name}: {c['finished']} finished trials "
          f"({c['COMPLETE']} complete, {c['PRUNED']} pruned, {c['FAIL']} failed)", file=out)
    kept = pruning.kept_trials(s.study)
    if kept:
        shown = ", ".join(f"{t.number} (kept at step {', '.join(map(str, t.user_attrs[pruning.KEPT_ATTR]))}; "
                          f"{t.state.name.lower()})" for t in kept[:10])
        print(f"noise rule (pruner.noise_z): {len(kept)} trial(s) the pruner would have stopped were within noise "
              f"of the rung's survivors (paired standard errors on the same eval rows) and went on: {shown}"
              + (f" and {len(kept) - 10} more (trials.csv: kept_within_noise)" if len(kept) > 10 else ""), file=out)
    chosen = selection.choose(s.cfg, s.study)
    ranked = selection.complete(s.study)[:top]
    if chosen is not None and chosen.trial.number not in {t.number for t in ranked}:
        ranked.append(chosen.trial)
    if ranked:
        names = sorted({k for t in ranked for k in t.params})
        head = ["#", "eval_loss", "behaviour", *names]
        scores = chosen.scores if chosen else {}
        rows = [[str(t.number) + ("*" if chosen and t.number == chosen.trial.number else ""), f"{t.value:.4f}",
                 f"{scores[t.number]:.3f}" if t.number in scores else "-",
                 *[_fmt(t.params.get(n)) for n in names]] for t in ranked]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), file=out)
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)), file=out)
    if chosen is not None:
        print(f"* chosen (select={s.cfg.select.name}): trial {chosen.trial.number}, {chosen.reason}; "
              "behaviour = its score on the behaviour questions (- not asked)", file=out)
    best, *tied = finalists.finalists(s.cfg, s.study) or [None]
    if tied:
        print(f"statistically tied with the lowest eval loss (trial {best.number}, within {s.cfg.finalists.z:g} "
              f"paired standard errors on the same eval rows): trials {', '.join(str(t.number) for t in tied)}"
              + ("" if s.cfg.finalists.seeds else "; finalists.seeds=2 trains them with more seeds"), file=out)
    for line in finalists.summary_lines(s.cfg, s.study):
        print(line, file=out)
    for problem in s.problems:
        print(f"NOT LOGGED: {problem}", file=out)
    d = s.cfg.study_dir
    print(f"\noutputs in {d}:", file=out)
    for name in ("trials.csv", "best.yaml", "best_adapter", "report.html", "axolotl.yaml", "behaviour.csv"):
        if (d / name).exists():
            print(f"  {d / name}", file=out)
    print(f"storage: {redact_url(s.cfg.storage_url())}", file=out)
    print(*html_report.inspect_lines(s.cfg), sep="\n", file=out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)
