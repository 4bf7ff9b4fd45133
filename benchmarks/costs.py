"""What the engine costs beyond training: overhead of a real sweep, ask+tell at 1,000 trials,
and our trainer's throughput against HF Trainer + PEFT on the same model and data.

Every function here does real work on this machine (no replay) with one torch thread, so the
numbers are as noisy as the machine: compare them only within one run of `benchmarks.run`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import task

# --------------------------------------------------------------------------- engine overhead


def engine_overhead(n_trials: int = 3, max_steps: int = 300, output_dir: str | None = None,
                    extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run a real `sweep.engine.run` on the task and split its wall time.

    Call it in a fresh process (`engine_overhead_subprocess`) so that it pays what
    `python -m sweep` pays (lazy imports of transformers / peft included).

    Training = the trials' `train_time_s` (optimizer steps) + `eval_time_s` (eval-loss passes).
    Everything else is overhead: sampling, study storage writes (attrs, reports, pruning
    queries), model loading and LoRA attachment, data encoding, adapter saving, output refresh,
    and once per sweep preflight, report and export. Reported:

    - `overhead_pct`: steady state, per trial: from the end of the first trial to the end of the
      last, the share not spent training or evaluating (what each further trial costs; the
      figure for the goal "overhead < 3% for trials of 30 s or more");
    - `overhead_pct_whole`: the whole `engine.run`, fixed per-sweep costs and first-use imports
      included (shrinks with more trials);
    - per-trial and per-sweep seconds, and projections to other trial lengths.

    The pruner is off and the effective batch pinned to 8, so every trial runs `max_steps` steps
    of the same size; lr, rank, alpha and schedule are sampled from the task's space as usual.
    """
    import torch

    from sweep import engine

    torch.set_num_threads(1)
    tmp = Path(output_dir or tempfile.mkdtemp(prefix="lora_sweep_overhead_"))
    cfg = task.task_config(seed=0, output_dir=str(tmp), study_name="overhead",
                           extra=(f"n_trials={n_trials}", "pruner=none", f"+fixed.max_steps={max_steps}",
                                  "+fixed.effective_batch_size=8", *extra))
    sink = io.StringIO()
    start = dt.datetime.now()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        summary = engine.run(cfg)
    wall = time.perf_counter() - t0
    end = start + dt.timedelta(seconds=wall)
    trials = sorted(summary.study.get_trials(deepcopy=False), key=lambda t: t.number)
    train = [t.user_attrs.get("train_time_s", 0.0) for t in trials]
    evals = [t.user_attrs.get("eval_time_s", 0.0) for t in trials]
    twall = [t.user_attrs.get("wall_time_s", 0.0) for t in trials]
    out: dict[str, Any] = {
        "n_trials": len(trials), "states": sorted({t.state.name for t in trials}), "max_steps": max_steps,
        "wall_s": round(wall, 2), "train_s": round(sum(train), 2), "eval_s": round(sum(evals), 2),
        "trial_wall_s": [round(x, 2) for x in twall],
        "mean_trial_s": round(statistics.mean(twall), 2) if twall else 0.0,
        "overhead_pct_whole": round(100.0 * (wall - sum(train) - sum(evals)) / wall, 2),
    }
    if len(trials) >= 2:
        loop = (trials[-1].datetime_complete - trials[0].datetime_complete).total_seconds()
        busy = sum(train[1:]) + sum(evals[1:])
        per_trial = (loop - busy) / (len(trials) - 1)
        # once per sweep: preflight, study, first-use imports (in trial 0), report, export
        fixed_total = wall - loop - train[0] - evals[0] - per_trial
        out.update(
            overhead_pct=round(100.0 * (loop - busy) / loop, 2),
            overhead_per_trial_s=round(per_trial, 3),
            overhead_per_sweep_s=round(fixed_total, 2),
            steady_trial_s=round(statistics.mean(twall[1:]), 2),
            before_first_trial_s=round((trials[0].datetime_start - start).total_seconds(), 2),
            after_last_trial_s=round((end - trials[-1].datetime_complete).total_seconds(), 2),
            projected_pct={
                f"{L}s_x{n}": round(100 * (n * per_trial + fixed_total) / (n * (L + per_trial) + fixed_total), 2)
                for L in (30, 60, 300) for n in (10, 50)},
        )
    if output_dir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def engine_overhead_subprocess(n_trials: int = 3, max_steps: int = 300, timeout_s: float = 1800) -> dict[str, Any]:
    """`engine_overhead` in a fresh Python process (as `python -m sweep` runs), one torch thread."""
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.costs", "overhead", "--n-trials", str(n_trials),
                           "--max-steps", str(max_steps)], capture_output=True, text=True, env=env,
                          timeout=timeout_s, cwd=str(task.BENCH_DIR.parent))
    if proc.returncode != 0:
        raise RuntimeError(f"overhead run failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(time.perf_counter() - t0, 2)
    return out


# --------------------------------------------------------------------------- ask + tell


def _dummy_curve(rng: Any, params: dict[str, Any], n: int) -> list[float]:
    """A plausible, params-dependent decreasing curve (no training)."""
    lr = float(params.get("learning_rate", 1e-3))
    level = 6.2 + 0.1 * (math.log10(lr) + 3) ** 2 + rng.gauss(0, 0.02)
    return [level + (6.9 - level) * math.exp(-3 * (i + 1) / n) for i in range(n)]


def ask_tell_timing(n_trials: int = 1000, measure_last: int = 20, prefill: bool = True,
                    workdir: str | None = None, storage: str = "sqlite") -> dict[str, Any]:
    """Sampler + pruner + SQLite storage time per trial with a dummy objective, at `n_trials`.

    Each trial does what the engine's driver and reporter do around training: `ask`, sample the
    space, set the driver/derived user attrs, report 9 eval losses with `should_prune` after each,
    and `tell`. With `prefill`, the first `n_trials - measure_last` trials are written with
    `add_trials` (fast), so only the last `measure_last` are timed; without it every trial runs
    through ask/tell and the per-trial times at the end are reported. `storage`: "sqlite" (the
    engine's default) or "journal" (`journal:///...`, a candidate default).
    """
    import random

    import optuna

    from sweep import study as sweep_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="lora_sweep_asktell_"))
    extra = (f"storage=journal://{tmp / 'asktell.journal'}",) if storage == "journal" else ()
    cfg = task.task_config(seed=0, output_dir=str(tmp), study_name="asktell", extra=extra)
    space = task.task_space(cfg)
    cfg.study_dir.mkdir(parents=True, exist_ok=True)
    st = sweep_study.create_or_load(cfg, space)
    rng = random.Random(0)
    steps = list(range(task.EVAL_EVERY, task.MAX_STEPS + 1, task.EVAL_EVERY))
    n_timed = measure_last if prefill else n_trials
    t_fill = 0.0
    if prefill and n_trials > measure_last:
        t0 = time.perf_counter()
        dists = {p.name: optuna.distributions.CategoricalDistribution(list(p.choices)) for p in space.params}
        frozen = []
        for _ in range(n_trials - measure_last):
            params = {n: rng.choice(d.choices) for n, d in dists.items()}
            curve = _dummy_curve(rng, params, len(steps))
            pruned = rng.random() < 0.5
            cut = rng.randrange(1, len(steps)) if pruned else len(steps)
            frozen.append(optuna.trial.create_trial(
                params=params, distributions=dists,
                value=None if pruned else curve[-1],
                state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
                intermediate_values=dict(zip(steps[:cut], curve[:cut], strict=True)),
                user_attrs={"driver_pid": 1, "driver_node": "prefill"}))
        st.add_trials(frozen)
        t_fill = time.perf_counter() - t0
    times: list[float] = []
    ask_s: list[float] = []
    for _ in range(n_timed):
        t0 = time.perf_counter()
        trial = st.ask()
        params = space.suggest(trial)
        t1 = time.perf_counter()
        for k, v in {"driver_pid": os.getpid(), "driver_node": "bench", "effective_batch_size":
                     params.effective_batch_size, "micro_batch_size": min(8, params.effective_batch_size),
                     "lora_alpha_value": params.alpha, "total_steps": task.MAX_STEPS}.items():
            trial.set_user_attr(k, v)
        state, value = optuna.trial.TrialState.COMPLETE, None
        curve = _dummy_curve(rng, dict(trial.params), len(steps))
        for step, v in zip(steps, curve, strict=True):
            trial.report(v, step)
            if step < steps[-1] and trial.should_prune():
                state = optuna.trial.TrialState.PRUNED
                break
        else:
            value = curve[-1]
        st.tell(trial, value, state=state)
        times.append(time.perf_counter() - t0)
        ask_s.append(t1 - t0)
    tail = times[-measure_last:]
    out = {
        "n_trials": len(st.get_trials(deepcopy=False)), "storage": f"{storage} (sweep.storage.make_storage)",
        "sampler": type(st.sampler).__name__, "pruner": type(st.pruner).__name__,
        "prefilled": prefill, "prefill_s": round(t_fill, 1),
        "per_trial_ms_median": round(1000 * statistics.median(tail), 1),
        "per_trial_ms_p90": round(1000 * sorted(tail)[int(0.9 * (len(tail) - 1))], 1),
        "ask_ms_median": round(1000 * statistics.median(ask_s[-measure_last:]), 1),
        "total_s": round(sum(times), 1),
    }
    if not prefill:
        out["per_trial_ms_first_20"] = round(1000 * statistics.median(times[:20]), 1)
    # what the engine also does after every trial: rewrite trials.csv / best.yaml from the study
    from sweep import results

    t0 = time.perf_counter()
    results.refresh(cfg, space, st)
    out["results_refresh_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    if workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- throughput


def _encoded_task_data(cfg: Any, space: Any) -> tuple[Any, Any, list[dict], list[dict], Any]:
    from sweep import backends, data, models, templates
    from sweep.trial import lora_settings

    params = space.from_values({"learning_rate": 1e-3, "lora_r": 16, "lora_alpha_ratio": 2.0,
                                "effective_batch_size": 8, "lr_scheduler": "cosine"})
    model, tok = backends.get("peft").load(models.resolve(cfg.model), cfg.model, lora_settings(cfg, params),
                                           False, cfg.data.max_seq_len)
    tpl = templates.apply_template(tok, params.chat_template or cfg.data.chat_template)
    train_rows, eval_rows = data.load_splits(cfg.data, cfg.seed)
    enc = data.Encoder(tok, cfg.data, tpl.end_of_turn)
    return model, tok, data.encode_rows(enc, train_rows, "data.path"), data.encode_rows(enc, eval_rows, "e"), params


def ours_tokens_per_s(steps: int = 60, batch: int = 8) -> dict[str, Any]:
    """Our `Trainer` (the loop every trial runs): tokens/s over `steps` optimizer steps."""
    import torch

    from sweep.training import Trainer, TrainSpec
    from sweep.trial import seed_everything

    torch.set_num_threads(1)
    cfg = task.task_config()
    seed_everything(0)
    model, tok, train_ds, eval_ds, p = _encoded_task_data(cfg, task.task_space(cfg))
    spec = TrainSpec(learning_rate=p.learning_rate, weight_decay=0.0, warmup_ratio=0.05, lr_scheduler="cosine",
                     optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=batch, micro_batch_size=batch,
                     total_steps=steps, eval_every=10**9, seed=0)
    res = Trainer(model, train_ds, eval_ds[:8], spec, tok.pad_token_id, task.RecordingReporter(),
                  torch.device("cpu")).fit()
    return {"tokens": res.train_tokens, "seconds": round(res.train_time_s, 3),
            "tokens_per_s": round(res.train_tokens / res.train_time_s, 1), "steps": steps, "batch": batch}


def hf_tokens_per_s(steps: int = 60, batch: int = 8) -> dict[str, Any]:
    """HF `transformers.Trainer` + PEFT on the same model, LoRA, data and batch: tokens/s.

    Tokens are counted the same way as ours (every input token of the examples collated, padding
    excluded); time runs from `on_train_begin` to `on_train_end`.
    """
    import torch
    from transformers import Trainer as HFTrainer
    from transformers import TrainerCallback, TrainingArguments

    from sweep.batches import collate
    from sweep.trial import seed_everything

    torch.set_num_threads(1)
    cfg = task.task_config()
    seed_everything(0)
    model, tok, train_ds, _, p = _encoded_task_data(cfg, task.task_space(cfg))
    counted = {"tokens": 0}

    def collator(examples: list[dict]) -> dict[str, torch.Tensor]:
        counted["tokens"] += sum(len(e["input_ids"]) for e in examples)
        return collate(examples, tok.pad_token_id)

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):  # noqa: ANN001 - HF callback API
            self.t0 = time.perf_counter()

        def on_train_end(self, args, state, control, **kw):  # noqa: ANN001
            self.seconds = time.perf_counter() - self.t0

    clock = Clock()
    out_dir = tempfile.mkdtemp(prefix="lora_sweep_hf_")
    args = TrainingArguments(
        output_dir=out_dir, per_device_train_batch_size=batch, max_steps=steps, learning_rate=p.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=int(round(0.05 * steps)), weight_decay=0.0, max_grad_norm=1.0,
        optim="adamw_torch", use_cpu=True, report_to=[], save_strategy="no", eval_strategy="no",
        logging_strategy="no", dataloader_num_workers=0, seed=0, disable_tqdm=True,
        remove_unused_columns=False)
    trainer = HFTrainer(model=model, args=args, train_dataset=train_ds, data_collator=collator, callbacks=[clock])
    with contextlib.redirect_stdout(io.StringIO()):  # HF prints its metrics dict
        trainer.train()
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"tokens": counted["tokens"], "seconds": round(clock.seconds, 3),
            "tokens_per_s": round(counted["tokens"] / clock.seconds, 1), "steps": steps, "batch": batch}


def throughput(steps: int = 60, batch: int = 8, repeats: int = 2) -> dict[str, Any]:
    """Ours vs HF Trainer, alternating (A B A B ...) so load changes hit both alike; medians."""
    ours, hf = [], []
    for _ in range(repeats):
        ours.append(ours_tokens_per_s(steps, batch))
        hf.append(hf_tokens_per_s(steps, batch))
    o = statistics.median(r["tokens_per_s"] for r in ours)
    h = statistics.median(r["tokens_per_s"] for r in hf)
    return {"ours_tokens_per_s": round(o, 1), "hf_tokens_per_s": round(h, 1), "ratio": round(o / h, 3),
            "ours_runs": ours, "hf_runs": hf}


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmarks.costs")
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("overhead", help="a real sweep; prints its time split as JSON")
    o.add_argument("--n-trials", type=int, default=3)
    o.add_argument("--max-steps", type=int, default=300)
    a = sub.add_parser("asktell", help="ask+tell per trial at N trials (SQLite)")
    a.add_argument("--n", type=int, default=1000)
    a.add_argument("--no-prefill", action="store_true")
    a.add_argument("--storage", choices=("sqlite", "journal"), default="sqlite")
    t = sub.add_parser("throughput", help="tokens/s: our Trainer vs HF Trainer + PEFT")
    t.add_argument("--steps", type=int, default=60)
    t.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    if args.cmd == "overhead":
        res = engine_overhead(args.n_trials, args.max_steps)
    elif args.cmd == "asktell":
        res = ask_tell_timing(args.n, prefill=not args.no_prefill, storage=args.storage)
    else:
        res = throughput(args.steps, repeats=args.repeats)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
