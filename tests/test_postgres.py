"""Several machines on one PostgreSQL study, with a real PostgreSQL server.

The fixture starts a throw-away server (Debian's postgresql package: initdb + pg_ctl, as the
`postgres` user when run as root, in a temp folder, on a free loopback port) and stops it after
the module. Two sweep processes with different output folders share nothing but the database,
as on two machines: the study folder's lock does not serialise them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep.fault_injection import CLAIM_BARRIER_ENV
from tests.conftest import REPO, with_test_model

pytest.importorskip("psycopg2", reason="psycopg2-binary (the test extra) talks to PostgreSQL")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries not installed (bash scripts/setup_test_system.sh)")
    base = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
                                 "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
                                 "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_two_machines_on_one_postgresql_study_run_exactly_n_trials(postgres_url, tmp_path):
    """Every claim is entered by both processes at once (test hook), so at the last trial both
    count one missing and both ask: the later-numbered trial stands down ("surplus")."""
    n_trials = 3
    args = ["search_space=quick", f"n_trials={n_trials}", "study_name=pg", f"storage={postgres_url}",
            "eval.behaviour=false", "train.num_threads=1", "+fixed.max_steps=4", "train.eval_every=2",
            "pruner=none", "executor=inline"]
    env = {**os.environ, CLAIM_BARRIER_ENV: f"{tmp_path / 'barrier'}:2"}
    procs, logs = [], []
    for machine in ("a", "b"):
        logs.append(tmp_path / f"{machine}.log")
        with open(logs[-1], "w") as err:
            cmd = [sys.executable, "-m", "sweep", *with_test_model(args), f"output_dir={tmp_path / machine}"]
            procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err))
    for p in procs:
        p.wait(timeout=500)
    errs = [log.read_text() for log in logs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for e in errs]

    st = optuna.load_study(study_name="pg", storage=postgres_url)
    trials = st.get_trials()
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == n_trials + 1, numbers
    surplus = [t for t in trials if t.user_attrs.get("fail_reason") == "surplus"]
    assert [t.number for t in surplus] == [n_trials] and surplus[0].state == TrialState.FAIL
    ran = [t for t in trials if t not in surplus]
    assert [t.state for t in ran] == [TrialState.COMPLETE] * n_trials
    assert len({t.user_attrs["driver_pid"] for t in trials}) == 2  # both machines asked
    assert sum(f"trial {n_trials} not run" in e for e in errs) == 1  # one stood down, and said so
    from sweep import trial_counts

    assert trial_counts.counts(st)["finished"] == n_trials
    for machine in ("a", "b"):  # each machine writes its own study folder from the shared study
        rows = (tmp_path / machine / "pg" / "trials.csv").read_text().splitlines()
        assert len(rows) >= 2
