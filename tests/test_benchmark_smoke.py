"""Smoke test of the benchmark (benchmarks/): the shipped table, replay, the output line.

The benchmark itself (`python -m benchmarks.run --quick|--full`) is not a timed test; CI only
checks that its machinery works on a slice of the cached reference table: the table matches the
benchmark's search space, two contenders replay deterministically over 3 seeds, and the CLI ends
with the one-line summary in the documented format. One figure is checked too: over 30 replayed
seeds of the whole table the engine beats random search, and the published ratio (README,
RESULTS.md: 500 seeds) lies in the 30-seed interval (replay is exact: no flakiness).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the repo root on the path
    sys.path.insert(0, str(ROOT))

from benchmarks import replay, run, task  # noqa: E402

LINE = re.compile(r"^compute_ratio_vs_random=(\S+) compute_ratio_vs_asha=(\S+) "
                  r"top5_pruned_pct=(\S+) overhead_pct=(\S+)$")


@pytest.fixture(scope="module")
def table() -> replay.Table:
    return replay.Table.load(task.REFERENCE_FILE)


@pytest.fixture(scope="module")
def small(table: replay.Table, tmp_path_factory: pytest.TempPathFactory) -> tuple[replay.Table, Path]:
    """12 configurations of the cached table: 2 lr x 3 r x 2 schedules (alpha 2, batch 8)."""
    keys = [k for k, c in table.configs.items()
            if c["values"]["learning_rate"] in (5e-4, 2e-3) and c["values"]["lora_alpha_ratio"] == 2.0
            and c["values"]["effective_batch_size"] == 8]
    sub = table.subset(keys)
    raw = json.loads(task.REFERENCE_FILE.read_text())
    raw["configs"] = {k: raw["configs"][k] for k in keys}
    path = tmp_path_factory.mktemp("bench") / "small.json"
    path.write_text(json.dumps(raw))
    return sub, path


def test_cached_table_covers_the_benchmark_space(table: replay.Table) -> None:
    cfg = task.task_config()
    space = task.task_space(cfg)
    keys = {task.config_key(v, [p.name for p in space.params]) for v in task.all_configs(space)}
    assert keys == set(table.configs), "benchmarks/data/reference.json does not match benchmarks/space.yaml"
    assert table.names == tuple(p.name for p in space.params)
    assert table.meta["built"]["versions"]["torch"] and table.meta["built"]["machine"]["cpu"]
    # the frozen model, data and space are the ones the curves were recorded on
    assert table.meta["task_fingerprint"] == task.fingerprint()
    for key in list(table.configs)[:5]:
        assert task.parse_key(key) == table.configs[key]["values"]
    # the oracle: a hit is rare, the best configuration is one, regret is normalised
    hits = table.hits()
    assert 1 <= len(hits) <= 0.1 * len(table.configs)
    assert table.regret(table.top(1)[0]) == 0.0
    assert all(table.regret(k) > replay.THRESHOLD for k in set(table.configs) - hits)


def test_replay_is_deterministic_and_counts_compute(small: tuple[replay.Table, Path]) -> None:
    sub, _ = small
    for contender in (run.ENGINE, replay.AshaContender()):
        first = replay.run_many(contender, sub, [0, 1, 2])
        again = replay.run_many(contender, sub, [0, 1, 2])
        assert replay.fingerprint(first) == replay.fingerprint(again)
        for r in first:
            assert r.hit_key in sub.hits()
            # compute to the hit = samples of every trial up to and including the hit
            upto = r.trials[: r.trials_to_hit]
            assert r.cost_to_hit == sum(t.cost for t in upto)
            assert upto[-1].state == "COMPLETE" and upto[-1].steps == sub.max_steps
            for t in upto:
                assert t.cost == t.steps * sub.batch(t.key)


def test_cli_quick_prints_the_summary_line(small: tuple[replay.Table, Path]) -> None:
    _, path = small
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--skip-live", "--seeds", "3", "--workers", "1",
         "--table", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m, last
    ratio_random, ratio_asha, pruned, overhead = (float(x) for x in m.groups())
    assert ratio_random > 0 and ratio_asha > 0 and 0 <= pruned <= 100
    assert math.isnan(overhead)  # --skip-live: no real sweep was run


@pytest.mark.slow
def test_engine_beats_random_search_and_the_published_figure_is_in_its_interval(table: replay.Table) -> None:
    seeds = list(range(30))
    random_search = next(c for c in run.BASELINES if c.name == "random")
    engine = [r.cost_to_hit for r in replay.run_many(run.ENGINE, table, seeds)]
    rnd = [r.cost_to_hit for r in replay.run_many(random_search, table, seeds)]
    assert not any(math.isinf(c) for c in engine)  # every engine run found a near-best configuration
    figure = run.ratio(replay.quantile(engine, 0.5), replay.quantile(rnd, 0.5))
    low, high = run.ratio_ci(engine, rnd)
    assert low <= figure <= high < 1.0, (figure, low, high)  # less compute than random, 90% interval
    published = json.loads(run.RESULTS_JSON.read_text())["summaries"]["engine"]
    assert published["seeds"] == 500
    assert low <= published["ratio_vs_random"] <= high, (published["ratio_vs_random"], low, high)
