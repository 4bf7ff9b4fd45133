"""The conf's pruner decides, driven with ask/report/should_prune/tell (no training)."""

from __future__ import annotations

import contextlib
import io

import optuna
import pytest
from optuna.trial import TrialState

from sweep import noise, search_space, study
from sweep.config import load_config
from sweep.study import StudyReporter


def _study(tmp_path, *overrides):
    cfg = load_config([f"output_dir={tmp_path}", "search_space=quick", *overrides])
    space = search_space.load(cfg.search_space, targets=cfg.model.target_modules.keys())
    cfg.study_dir.mkdir(parents=True)
    return cfg, space, study.create_or_load(cfg, space, max_steps=30)


def _run(st, curve):
    trial = st.ask()
    rep = StudyReporter(trial)
    for step, v in enumerate(curve, start=1):
        rep.report(step * 10, v)
        if rep.should_prune():
            st.tell(trial, state=TrialState.PRUNED)
            return "PRUNED"
    st.tell(trial, curve[-1])
    return "COMPLETE"


def test_median_pruner_from_conf_prunes_worse_than_median(tmp_path):
    cfg, _, st = _study(tmp_path, "pruner=median", "pruner.n_startup_trials=2")
    assert isinstance(st.pruner, optuna.pruners.MedianPruner)
    assert _run(st, [3.0, 2.5, 2.0]) == "COMPLETE"
    assert _run(st, [3.1, 2.6, 2.1]) == "COMPLETE"
    assert _run(st, [5.0, 4.9, 4.8]) == "PRUNED"
    assert _run(st, [2.9, 2.4, 1.9]) == "COMPLETE"


def test_no_pruning_before_startup_trials(tmp_path):
    _, _, st = _study(tmp_path, "pruner=median", "pruner.n_startup_trials=3")
    assert _run(st, [1.0]) == "COMPLETE"
    assert _run(st, [9.0, 9.0]) == "COMPLETE"


def test_none_pruner_never_prunes(tmp_path):
    _, _, st = _study(tmp_path, "pruner=none")
    for curve in ([1.0, 0.5], [9.0, 9.0], [9.0, 9.0]):
        assert _run(st, curve) == "COMPLETE"


@pytest.mark.parametrize("name, cls", [("hyperband", optuna.pruners.HyperbandPruner),
                                       ("successive_halving", optuna.pruners.SuccessiveHalvingPruner)])
def test_other_pruners_are_built_from_conf(tmp_path, name, cls):
    _, _, st = _study(tmp_path, f"pruner={name}")
    assert isinstance(st.pruner, cls)


def test_reporter_attached_in_another_process_uses_the_same_pruner(tmp_path):
    """What a Ray worker does: rebuild the study from storage + conf and ask the pruner."""
    cfg, space, st = _study(tmp_path, "pruner=median", "pruner.n_startup_trials=1")
    _run(st, [1.0, 0.9])
    trial = st.ask()
    remote = StudyReporter.attach(cfg, space, trial._trial_id, 30)
    remote.report(10, 9.0)
    assert remote.should_prune()
    assert st.trials[-1].intermediate_values == {10: 9.0}


def test_default_pruner_never_judges_a_trial_on_its_first_report(tmp_path):
    """The default (benchmarks/RESULTS.md, table suite): successive halving whose first rung is the
    second eval report, keeping the best third. A trial worst of all at its first report (a high
    learning rate in warm-up) goes on; one still worst at its second report is pruned."""
    _, _, st = _study(tmp_path, "train.eval_every=10")
    assert isinstance(st.pruner, optuna.pruners.SuccessiveHalvingPruner)
    for curve in ([2.2, 2.0, 1.8], [2.1, 1.9, 1.7], [2.0, 1.8, 1.6]):  # each the best so far
        assert _run(st, curve) == "COMPLETE"
    assert _run(st, [9.0, 1.5, 1.2]) == "COMPLETE"  # worst at step 10, best at step 20
    assert _run(st, [9.0, 8.0, 7.0]) == "PRUNED"  # still worst at step 20
    pruned = st.trials[-1]
    assert max(pruned.intermediate_values) == 20


# --------------------------------------------------------------------------- noise-aware pruning


def _rows_trial(study, step, value, rows, tokens, finish=True):
    """A trial (asked for real) with one report and its per-row NLL sums, as sweep.training records them."""
    t = study.ask()
    t.suggest_float("x", 0, 1)
    t.report(value, step)
    for key, attr in noise.as_attrs({"tokens": tokens, f"main:{step}": rows}).items():
        t.set_user_attr(key, attr)
    if finish:
        assert not t.should_prune()  # through the rung, as a real trial goes: successive halving counts it
        study.tell(t, value)
    return next(f for f in study.get_trials(deepcopy=False) if f.number == t.number)


def test_paired_standard_error_cancels_what_the_rows_share():
    tokens = [10] * 6
    hard_and_easy = [30.0, 5.0, 25.0, 8.0, 40.0, 12.0]
    shifted = [x + 1.0 for x in hard_and_easy]  # every row 1 nat worse: a clear, noiseless gap
    assert noise.paired_se(shifted, hard_and_easy, tokens) == pytest.approx(0.0, abs=1e-12)
    jitter = [x + d for x, d in zip(hard_and_easy, (1.0, -1.0, 1.0, -1.0, 1.0, -1.0), strict=True)]
    se = noise.paired_se(jitter, hard_and_easy, tokens)
    assert se == pytest.approx(((6 / 5 * 6) ** 0.5) / 60)  # sqrt(m/(m-1) sum (d - 0)^2) / N
    assert noise.within_noise(1.03, 1.0, se, z=1.0) and not noise.within_noise(1.2, 1.0, se, z=1.0)


def test_a_trial_within_noise_of_the_rung_is_kept_and_a_clear_loser_is_pruned():
    from sweep.pruning import NoiseAwarePruner

    tokens = [10] * 8
    base_rows = [20.0, 4.0, 15.0, 9.0, 30.0, 6.0, 11.0, 17.0]  # sum 112 -> loss 1.40
    pruner = NoiseAwarePruner(optuna.pruners.SuccessiveHalvingPruner(min_resource=4, reduction_factor=2),
                              z=2.0, reduction_factor=2)
    study = optuna.create_study(pruner=pruner)
    _rows_trial(study, 4, 1.40, base_rows, tokens)  # the rung's survivor
    # a trial 0.05 worse with row-level scatter (paired SE 0.15): within 2 SE, kept
    noisy = [x + d for x, d in zip(base_rows, (5, -3, 4, -4, 6, -3, 3, -4), strict=True)]
    close = _rows_trial(study, 4, sum(noisy) / 80, noisy, tokens, finish=False)
    assert pruner.base.prune(study, close)  # successive halving alone stops it
    assert not pruner.prune(study, close)
    # a trial 0.30 worse on every row (SE 0): pruned
    worse = [x + 3.0 for x in base_rows]
    far = _rows_trial(study, 4, sum(worse) / 80, worse, tokens, finish=False)
    assert pruner.prune(study, far)


def test_a_trial_kept_by_the_noise_rule_says_so_and_the_summary_names_it(tmp_path):
    from sweep.pruning import KEPT_ATTR, NoiseAwarePruner, kept_trials

    tokens = [10] * 8
    base_rows = [20.0, 4.0, 15.0, 9.0, 30.0, 6.0, 11.0, 17.0]
    pruner = NoiseAwarePruner(optuna.pruners.SuccessiveHalvingPruner(min_resource=4, reduction_factor=2),
                              z=2.0, reduction_factor=2)
    study = optuna.create_study(pruner=pruner)
    _rows_trial(study, 4, 1.40, base_rows, tokens)

    def reported(rows):
        t = study.ask()
        t.suggest_float("x", 0, 1)
        rep = StudyReporter(t)
        rep.report(4, sum(rows) / 80)
        for key, attr in noise.as_attrs({"tokens": tokens, "main:4": rows}).items():
            t.set_user_attr(key, attr)
        return t, rep

    noisy = [x + d for x, d in zip(base_rows, (5, -3, 4, -4, 6, -3, 3, -4), strict=True)]
    close, rep = reported(noisy)
    assert not rep.should_prune()  # successive halving alone would stop it (the test above)
    assert study.trials[close.number].user_attrs[KEPT_ATTR] == [4]
    assert pruner.kept == {}  # moved onto the trial, not kept in the process
    pruner.kept[close.number] = 8  # kept again at a later rung: the steps add up
    assert not rep.should_prune() and study.trials[close.number].user_attrs[KEPT_ATTR] == [4, 8]
    far, rep = reported([x + 3.0 for x in base_rows])
    assert rep.should_prune() and KEPT_ATTR not in study.trials[far.number].user_attrs
    assert [t.number for t in kept_trials(study)] == [close.number]
    study.tell(close, sum(noisy) / 80)
    study.tell(far, state=TrialState.PRUNED)
    # the summary names it (the trials themselves are bare asks: no params to print)
    from sweep import engine

    cfg = load_config([f"output_dir={tmp_path}", "pruner.noise_z=2"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        engine.print_summary(engine.SweepSummary(cfg, study, None, {"finished": 3, "COMPLETE": 2, "PRUNED": 1,
                                                                    "FAIL": 0}))
    assert "noise rule (pruner.noise_z): 1 trial(s) the pruner would have stopped were within noise" in out.getvalue()
    assert f"went on: {close.number} (kept at step 4, 8; complete)" in out.getvalue()


def test_one_eval_row_leaves_the_decision_to_the_base_pruner():
    """One row has no standard error: the noise check steps aside instead of failing the trial."""
    from sweep.pruning import NoiseAwarePruner

    pruner = NoiseAwarePruner(optuna.pruners.SuccessiveHalvingPruner(min_resource=4, reduction_factor=2),
                              z=2.0, reduction_factor=2)
    study = optuna.create_study(pruner=pruner)
    _rows_trial(study, 4, 1.0, [10.0], [10])
    worse = _rows_trial(study, 4, 1.1, [11.0], [10], finish=False)
    assert pruner.prune(study, worse)  # as successive halving alone decides


@pytest.mark.parametrize(("overrides", "message"), [
    (["pruner.noise_z=-1"], "pruner.noise_z"),
    (["pruner=hyperband", "pruner.noise_z=2"], "not supported with pruner=hyperband"),
    (["eval.top_k=-1"], "eval.top_k"),
])
def test_bad_noise_or_top_k_settings_are_refused(overrides, message):
    from sweep.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(overrides)


def test_noise_z_comes_from_conf_and_is_off_by_default():
    from sweep.pruning import NoiseAwarePruner, make_pruner

    assert not isinstance(make_pruner(load_config([])), NoiseAwarePruner)
    p = make_pruner(load_config(["pruner.noise_z=1.5"]))
    assert isinstance(p, NoiseAwarePruner) and p.z == 1.5 and p.reduction_factor == 3


def test_every_trial_of_a_study_sees_the_same_data_order_and_eval_rows():
    """Common random numbers: the eval split is drawn once with `seed` and a trial's batch order
    depends on the seed only, so two trials differ by their settings, not by their data."""
    import torch

    from sweep import data
    from sweep.training import Trainer, TrainSpec

    cfg = load_config([])
    assert [r.where for r in data.load_splits(cfg.data, cfg.seed)[1]] == \
        [r.where for r in data.load_splits(cfg.data, cfg.seed)[1]]
    rows = [{"input_ids": [1, 2], "labels": [1, 2]}] * 37
    orders = []
    for lr, batch in ((1e-4, 4), (5e-3, 4)):
        spec = TrainSpec(learning_rate=lr, weight_decay=0.0, warmup_ratio=0.1, lr_scheduler="cosine",
                         optimizer="adamw_torch", max_grad_norm=1.0, effective_batch_size=batch, micro_batch_size=2,
                         total_steps=16, eval_every=4, seed=cfg.seed)
        orders.append(Trainer(None, rows, [], spec, 0, None, torch.device("cpu"))._order())
    assert orders[0] == orders[1]


def test_finalists_within_noise_of_the_best_are_reported_tied():
    study = optuna.create_study()
    tokens = [10] * 6
    best_rows = [12.0, 3.0, 9.0, 15.0, 6.0, 11.0]  # 56 / 60

    def finished(value, rows):
        t = study.ask()
        for key, attr in noise.as_attrs({"tokens": tokens, "main:16": rows}).items():
            t.set_user_attr(key, attr)
        study.tell(t, value)
        return next(f for f in study.trials if f.number == t.number)

    best = finished(56 / 60, best_rows)
    close_rows = [x + d for x, d in zip(best_rows, (1, -1, 2, -2, 1, 0), strict=True)]  # +1 nat, scattered
    close = finished(sum(close_rows) / 60, close_rows)
    far = finished(sum(x + 2 for x in best_rows) / 60, [x + 2 for x in best_rows])  # +0.2 on every row
    assert noise.tied_with(best, [best, close, far]) == [close.number]


def test_rows_of_reads_one_attr_per_report_and_the_older_single_dict():
    legacy = {"eval_rows": {"tokens": [3, 4], "main:4": [1.0, 2.0]}}
    split = noise.as_attrs({"tokens": [3, 4], "main:4": [1.0, 2.0], "main:8": [0.5, 1.5]})
    assert set(split) == {"eval_rows/tokens", "eval_rows/main:4", "eval_rows/main:8"}
    assert noise.final_rows(legacy) == ([1.0, 2.0], [3, 4])
    assert noise.final_rows(split) == ([0.5, 1.5], [3, 4])
    assert noise.report_rows(split, 4) == [1.0, 2.0] and noise.report_rows(split, 6) is None


def test_a_first_rung_inside_the_warm_up_is_pointed_out(tmp_path, capsys):
    """Short-horizon bias: trials compared before they reach their learning rate. The shipped CPU
    demo's first rung (step 8 of 16, warm-up 2 steps) is after it; a 30% warm-up with a first
    rung at the first report is not, and the preflight says so with the fix."""
    from sweep import engine, pruning, search_space

    demo = load_config(["model=smollm2"])  # the CPU demo budget: eval every 4, first rung at 2 reports
    assert pruning.first_rung(demo) == 8 and pruning.warmup_warning(demo, 16, 0.1) is None
    late = load_config(["pruner.min_resource=1", "train.eval_every=4", "+fixed.warmup_ratio=0.3", "+fixed.max_steps=16"])
    line = pruning.warmup_warning(late, 16, 0.3)
    assert "first rung (step 4) is inside the learning-rate warm-up (steps 1-5 of 16" in line
    assert "pruner.n_warmup_steps=6" in line
    assert pruning.warmup_warning(load_config(["pruner=none"]), 16, 0.3) is None
    engine.preflight(late, search_space.load_for_config(late))
    assert "inside the learning-rate warm-up" in capsys.readouterr().err
