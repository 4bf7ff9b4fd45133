"""The live progress view: plain lines with trial k/N, step, eval loss, counts and an ETA."""

from __future__ import annotations

import io
import re

from sweep.progress import Progress, _fmt_s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(n_trials: int, already: int = 0) -> tuple[Progress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return Progress(n_trials, already, out, clock=clock), out, clock


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_lines_show_trial_k_of_n_step_eval_loss_counts_and_eta():
    p, out, clock = make(4)
    p.trial_started(0, {"learning_rate": 0.00125, "lora_r": 8})
    clock.now += 10
    p.update(0, {"step": 10, "total_steps": 40, "eval_loss": 2.345678, "train_loss": 2.4})
    clock.now += 30
    p.trial_finished(0, "COMPLETE", 1.5)
    p.trial_started(1, {"learning_rate": 0.1, "lora_r": 8})
    clock.now += 5
    p.update(1, {"step": 10, "total_steps": 40, "eval_loss": 9.0})
    p.trial_finished(1, "PRUNED", None, "pruned at step 10 (eval loss 9.0000)")
    p.trial_started(2, {"learning_rate": 0.2, "lora_r": 4})
    p.trial_finished(2, "FAIL", None, "oom")
    got = lines(out)
    assert got[0] == "[trial 0 | 1/4] start learning_rate=0.00125 lora_r=8"
    assert got[1].startswith("[trial 0 | 1/4] step 10/40 eval_loss=2.3457 | done 0 pruned 0 failed 0 | ETA ")
    assert got[2].startswith("[trial 0 | 1/4] COMPLETE value=1.5000 in 40s | done 1 pruned 0 failed 0 | ETA ")
    assert got[4].startswith("[trial 1 | 2/4] step 10/40 eval_loss=9.0000 | done 1 pruned 0 failed 0")
    assert "[trial 1 | 2/4] PRUNED pruned at step 10 (eval loss 9.0000) in 5s | done 1 pruned 1 failed 0" in got[5]
    assert "[trial 2 | 3/4] FAIL oom in 0s | done 1 pruned 1 failed 1" in got[7]
    # plain lines for CI logs: no colours, no carriage returns
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_eta_from_current_trial_progress_before_any_trial_finished():
    p, out, clock = make(3)
    p.trial_started(0, {})
    assert p.eta() == "?"  # nothing measured yet
    clock.now += 20
    p.update(0, {"step": 5, "total_steps": 20, "eval_loss": 1.0})
    # a quarter of one trial took 20 s -> 80 s per trial; 2.75 trials left
    assert p.eta_seconds() == 20 / 0.25 * 2.75
    assert lines(out)[-1].endswith("ETA 3m40s")


def test_eta_uses_time_per_finished_trial_including_pruned_ones():
    p, _, clock = make(4)
    p.trial_started(0, {})
    clock.now += 30
    p.trial_finished(0, "COMPLETE", 1.0)
    p.trial_started(1, {})
    clock.now += 10  # pruned early: cheap
    p.trial_finished(1, "PRUNED", None, "pruned")
    # 40 s for 2 trials -> 20 s each; 2 left
    assert p.eta_seconds() == 40.0
    p.trial_started(2, {})
    clock.now += 10
    p.update(2, {"step": 1, "total_steps": 2, "eval_loss": 1.0})
    # 50 s for 2.5 trials of work -> 20 s each; 1.5 left
    assert p.eta_seconds() == 30.0
    p.trial_finished(2, "COMPLETE", 0.9)
    p.trial_started(3, {})
    p.trial_finished(3, "COMPLETE", 0.8)
    assert p.eta_seconds() == 0.0 and p.eta() == "0s"


def test_resumed_sweep_counts_earlier_trials_in_k_but_not_in_the_rate():
    p, out, clock = make(5, already=3)
    p.trial_started(7, {"lora_r": 16})
    clock.now += 12
    p.trial_finished(7, "COMPLETE", 0.5)
    assert lines(out)[0].startswith("[trial 7 | 4/5] start")
    assert lines(out)[1].startswith("[trial 7 | 4/5] COMPLETE")
    assert p.eta_seconds() == 12.0  # one trial left at 12 s per trial of this run


def test_parallel_trials_keep_their_own_k_and_the_eta_counts_both():
    p, out, clock = make(4)
    p.trial_started(0, {})
    p.trial_started(1, {})
    clock.now += 10
    p.update(1, {"step": 5, "total_steps": 10, "eval_loss": 2.0})
    p.update(0, {"step": 5, "total_steps": 10, "eval_loss": 1.0})
    got = lines(out)
    assert got[2].startswith("[trial 1 | 2/4] step 5/10")
    assert got[3].startswith("[trial 0 | 1/4] step 5/10")
    # two half trials in 10 s -> 10 s per trial of work; 3 trials of work left
    assert p.eta_seconds() == 30.0


def test_running_trials_without_step_reports_count_by_age():
    # under Ray the driver sees starts and ends only; workers print their own step lines
    p, _, clock = make(4)
    p.trial_started(0, {})
    p.trial_started(1, {})
    clock.now += 20
    p.trial_finished(0, "COMPLETE", 1.0)  # 20 s per trial
    p.trial_started(2, {})
    # trial 1 is 20 s old: ~done (capped at 0.9); trial 2 just started; trial 3 not started
    done, left = 1 + 0.9 + 0.0, 0.1 + 1.0 + 1.0
    assert p.eta_seconds() == 20 / done * left
    clock.now += 5
    assert p.eta() != "?"


def test_update_without_eval_loss_and_unknown_trial_do_not_crash():
    p, out, _ = make(2)
    p.update(5, {"step": 3, "total_steps": 9, "train_loss": 1.25})
    p.trial_finished(5, "COMPLETE", 1.0)
    assert re.match(r"\[trial 5 \| 1/2\] step 3/9 train_loss=1.2500 \|", lines(out)[0])
    assert lines(out)[1].startswith("[trial 5 | 1/2] COMPLETE value=1.0000 |")


def test_duration_format():
    assert [_fmt_s(x) for x in (0, 59.4, 61, 3599, 3725)] == ["0s", "59s", "1m01s", "59m59s", "1h02m"]
