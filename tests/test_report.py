"""The offline study report, its command line, and optuna-dashboard opening our studies."""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep import html_report
from sweep import report as report_command
from sweep.config import load_config
from sweep.search_space import load as load_space

REPO = Path(__file__).resolve().parent.parent


BEHAVIOUR = ({"privacy_refusal_rate": 0.25, "probe_idk_rate": 0.0, "answerable_idk_rate": 0.0},
             {"privacy_refusal_rate": 0.75, "probe_idk_rate": 0.5, "answerable_idk_rate": 0.1},
             {"privacy_refusal_rate": 0.0, "probe_idk_rate": 1.0, "answerable_idk_rate": 0.9})


def make_study(tmp_path: Path, n_complete: int = 3, extras: bool = True, name: str = "rep",
               behaviour: bool = False):
    """A study in the sweep's own storage, filled by hand: no training needed. `behaviour`: the
    complete trials carry behaviour metrics, as trials asked the questions in their own process."""
    cfg = load_config([f"output_dir={tmp_path}", f"study_name={name}", "search_space=quick"])
    cfg.study_dir.mkdir(parents=True)
    study = optuna.create_study(study_name=name, storage=cfg.storage_url(), direction="minimize")
    study.set_user_attr("search_space", load_space("quick").to_dict())
    study.set_user_attr("config", cfg.to_dict())

    def trial(lr: float, r: int, losses: list[float]) -> optuna.Trial:
        t = study.ask()
        t.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
        t.suggest_categorical("lora_r", [4, 8, 16])
        t.suggest_categorical("effective_batch_size", [4, 8])
        study._storage.set_trial_param(t._trial_id, "learning_rate", lr, t.distributions["learning_rate"])
        for step, loss in zip((10, 20, 30), losses, strict=False):
            t.report(loss, step)
        return t

    for i in range(n_complete):
        t = trial(10 ** (-4 + i * 0.9), (4, 8, 16)[i % 3], [3.0 - 0.1 * i, 2.8 - 0.2 * i, 2.7 - 0.3 * i])
        t.set_user_attr("micro_batch_size", 4)
        t.set_user_attr("tokens_per_s", 12345.6)
        if behaviour:
            for k, v in {**BEHAVIOUR[i % 3], "n_probes": 22, "hallucination_rate": 0.5}.items():
                t.set_user_attr(f"behaviour_{k}", v)
        study.tell(t, 2.7 - 0.3 * i)
    if extras:
        t = trial(9e-3, 16, [4.5])
        t.set_user_attr("prune_reason", "pruned at step 10 (eval loss 4.5000)")
        study.tell(t, state=TrialState.PRUNED)
        t = trial(2e-3, 8, [])
        t.set_user_attr("fail_reason", "oom")
        t.set_user_attr("fail_detail", "out of memory at micro batch 1 (step 3)")
        study.tell(t, state=TrialState.FAIL)
        t = trial(3e-3, 8, [3.3])
        t.set_user_attr("fail_reason", "interrupted")
        study.tell(t, state=TrialState.FAIL)
        trial(4e-3, 4, [3.1])  # still running: the report is rebuilt mid-sweep
    return cfg, study


def script_srcs(page: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc\s*=", page, flags=re.IGNORECASE)


def test_report_is_self_contained_with_all_sections(tmp_path):
    cfg, study = make_study(tmp_path)
    path = html_report.write_report(cfg, study)
    assert path == cfg.study_dir / "report.html"
    page = path.read_text()
    assert script_srcs(page) == []  # no CDN, no external script: opens offline
    assert page.count("plotly.js v") == 1  # the library once, not per figure
    assert page.count('class="plotly-graph-div"') == 4  # parcoords, importance, history, intermediate
    assert '"type":"parcoords"' in page
    for title in ("Parallel coordinates", "Parameter importance", "Optimisation history", "Intermediate values",
                  "Best trials", "Pruned and failed trials"):
        assert f"<h2>{title}" in page
    # state counts, reasons of pruned and failed trials
    assert "interrupted (retried)" in page and "<td>oom</td>" in page
    # complete, pruned, failed, interrupted, running, waiting
    assert "<tr><td>3</td><td>1</td><td>1</td><td>1</td><td>1</td><td>0</td></tr>" in page
    assert "pruned at step 10 (eval loss 4.5000)" in page and "out of memory at micro batch 1" in page
    assert "optuna-dashboard sqlite:///" in page


def test_parallel_coordinates_use_a_log_axis_for_learning_rate(tmp_path):
    _, study = make_study(tmp_path, extras=False)
    section = html_report.parallel_coordinates(study)
    (trace,) = section.figure.data
    assert trace.type == "parcoords"
    dims = {d.label: d for d in trace.dimensions}
    assert list(dims) == ["learning_rate (log)", "lora_r", "effective_batch_size", "eval_loss"]
    lr = dims["learning_rate (log)"]
    lrs = [t.params["learning_rate"] for t in study.trials]
    assert list(lr.values) == pytest.approx([math.log10(v) for v in lrs])
    assert tuple(lr.range) == pytest.approx((-4.0, -2.0))
    assert "1e-4" in lr.ticktext and "1e-3" in lr.ticktext and "5e-3" in lr.ticktext
    assert list(dims["lora_r"].ticktext) == ["4", "8", "16"]
    assert list(dims["eval_loss"].values) == pytest.approx([t.value for t in study.trials])


def test_intermediate_values_mark_pruned_trials(tmp_path):
    _, study = make_study(tmp_path)
    fig = html_report.intermediate_values(study).figure
    names = {tr.name: tr for tr in fig.data}
    assert names["trial 3 (pruned)"].line.dash == "dot"
    assert names["trial 0 (complete)"].line.dash is None


@pytest.mark.parametrize("n_complete", [0, 1])
def test_report_with_fewer_than_two_complete_trials(tmp_path, n_complete):
    cfg, study = make_study(tmp_path, n_complete=n_complete, extras=n_complete == 1)
    page = html_report.write_report(cfg, study).read_text()
    assert f"Needs at least 2 complete trials (have {n_complete})" in page
    assert script_srcs(page) == []
    if n_complete == 0:
        assert "No complete trial yet." in page and "plotly.js v" not in page
    else:
        assert page.count("plotly.js v") == 1 and '"type":"parcoords"' in page


def test_cli_rebuilds_the_report_from_storage(tmp_path):
    from conftest import run_cli

    cfg, _ = make_study(tmp_path)
    out = run_cli("sweep.report", [f"study_name={cfg.study_name}", f"output_dir={tmp_path}"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"report: {cfg.study_dir / 'report.html'}"
    assert '"type":"parcoords"' in (cfg.study_dir / "report.html").read_text()


def test_cli_unknown_study_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sweep.report", "study_name=nope", f"output_dir={tmp_path}"])
    with pytest.raises(SystemExit) as exc:
        report_command.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "study_name='nope'" in err and "no such study" in err
    assert not any(tmp_path.iterdir())  # nothing created


def test_inspect_lines_name_the_dashboard_command(tmp_path):
    cfg = load_config([f"output_dir={tmp_path}", "study_name=s"])
    lines = html_report.inspect_lines(cfg)
    assert lines[0] == f"dashboard: optuna-dashboard sqlite:///{tmp_path}/s/study.db"
    assert lines[1] == f"report: python -m sweep.report study_name=s output_dir={tmp_path}"
    journal = load_config([f"output_dir={tmp_path}", f"storage=journal://{tmp_path}/j.log"])
    assert html_report.inspect_lines(journal)[0] == f"dashboard: optuna-dashboard {tmp_path}/j.log"
    pg = load_config([f"output_dir={tmp_path}", "storage=postgresql://me:secret@db/optuna"])
    assert all("secret" not in line for line in html_report.inspect_lines(pg))


def dashboard_study(storage: str, name: str) -> dict:
    """What the real optuna-dashboard serves about study `name` (its JSON API, over HTTP)."""
    dashboard = pytest.importorskip("optuna_dashboard")
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, dashboard.wsgi(storage), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/api/studies", timeout=20) as resp:
            studies = json.load(resp)["study_summaries"]
        (ours,) = [s for s in studies if s["study_name"] == name]
        with urllib.request.urlopen(f"{base}/api/studies/{ours['study_id']}", timeout=20) as resp:
            return json.load(resp)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_optuna_dashboard_opens_our_study(tmp_path):
    cfg, study = make_study(tmp_path)
    storage = html_report.inspect_lines(cfg)[0].split("optuna-dashboard ", 1)[1]  # the printed command
    detail = dashboard_study(storage, "rep")
    states = sorted(t["state"] for t in detail["trials"])
    assert states == sorted(t.state.name.capitalize() for t in study.trials)
    assert len(detail["trials"]) == 7


def test_optuna_dashboard_names_the_objective_eval_loss(tmp_path):
    """The sweep names its objective on the study (Optuna's `set_metric_names`): the real
    dashboard says eval_loss, not "Objective 0", as the report and W&B do."""
    from sweep import engine, search_space

    cfg = load_config([f"output_dir={tmp_path}", "study_name=named", "search_space=quick"])
    st = engine.open_or_resume(cfg, search_space.load_for_config(cfg))
    assert st.metric_names == ["eval_loss"]
    detail = dashboard_study(cfg.storage_url(), "named")
    assert detail["objective_names"] == ["eval_loss"]  # without it the dashboard shows "Objective 0"


def test_the_report_plots_eval_loss_against_behaviour_and_marks_the_chosen_trial(tmp_path):
    """select=behaviour: the Pareto plot shows the asked trials, the front and the chosen one,
    and parallel coordinates get a behaviour axis."""
    from sweep import selection

    cfg, study = make_study(tmp_path, extras=False, behaviour=True)
    chosen = selection.choose(cfg, study)
    # eval losses 2.7, 2.4, 2.1: only trial 2 is within 5% of the best, whatever the others' scores
    assert chosen.rule == "behaviour" and chosen.trial.number == 2
    section = html_report.pareto_plot(study, chosen)
    names = [trace.name for trace in section.figure.data]
    assert names == ["asked", "Pareto front", "chosen"] and "select=behaviour: trial 2" in section.note
    (pcoords,) = html_report.parallel_coordinates(study, chosen.scores).figure.data
    assert "behaviour score" in [d.label for d in pcoords.dimensions]
    page = html_report.write_report(cfg, study).read_text()
    assert page.count('class="plotly-graph-div"') == 5 and "<h2>Eval loss against behaviour" in page
    assert "chosen (select=behaviour): trial 2" in page
