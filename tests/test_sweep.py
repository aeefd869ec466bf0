"""`townsquare sweep` (experiments/sweep.py): every combination of grid values and seeds
as Ray tasks, each run exactly what `townsquare run` makes, resumable, one table."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from cli_checks import invoke, one_line_error
from conftest import SMALL
from townsquare.config import validate
from townsquare.metrics.realism import BANDS
from townsquare.runner import Run

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def swept(small_sweep):
    return small_sweep


@pytest.fixture(scope="module")
def scenario_file(swept):
    """The scenario file the sweep ran."""
    return swept[1].parent / "small.yaml"


def test_every_combination_runs_once_into_one_table(swept):
    result, out = swept
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "sweep.parquet").to_pylist()
    assert [(r["opinion.epsilon"], r["seed"]) for r in table] == [
        (0.2, 1), (0.2, 2), (0.4, 1), (0.4, 2),
    ]  # fmt: skip
    assert [r["run"] for r in table] == ["r0000-s1", "r0000-s2", "r0001-s1", "r0001-s2"]
    for r in table:
        assert r["posts"] > 0 and 0 <= r["metric_posting_top10_share"] <= 1
        # beside each metric the scorecard's verdict: inside its real band or not
        for band in BANDS:
            assert r[f"inside_{band.metric}"] == band.contains(r[f"metric_{band.metric}"])


def test_every_sweep_run_is_byte_identical_to_the_same_run_made_alone(swept, tmp_path):
    _, out = swept
    for name, epsilon, seed in (("r0000-s1", 0.2, 1), ("r0000-s2", 0.2, 2),
                                ("r0001-s1", 0.4, 1), ("r0001-s2", 0.4, 2)):  # fmt: skip
        alone = tmp_path / name
        Run.start(
            validate({**SMALL, "seed": seed, "opinion": {"epsilon": epsilon}}), alone
        ).execute()
        assert (out / "runs" / name / "metrics.parquet").read_bytes() == (
            alone / "metrics.parquet"
        ).read_bytes(), name


def test_a_second_call_skips_finished_runs_and_other_settings_are_refused(swept, scenario_file):
    _, out = swept
    metrics = out / "runs" / "r0000-s1" / "metrics.parquet"
    stamp = metrics.stat().st_mtime_ns
    result = invoke("sweep", scenario_file, "--grid", "opinion.epsilon=0.2,0.4",
                    "--seeds", "1-2", "--workers", "2", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert metrics.stat().st_mtime_ns == stamp
    other = invoke("sweep", scenario_file, "--grid", "opinion.epsilon=0.3", "--out", out)
    one_line_error(other, "holds a sweep of other settings")


@pytest.mark.parametrize(
    ("grid", "fragment"),
    [
        ("opinion.nope=1,2", "--grid opinion.nope: opinion has no key 'nope'"),
        ("opinion.epsilon=0.2,9", "--grid opinion.epsilon: the scenario refuses 9"),
        ("opinion.epsilon", "expected KEY=V1,V2"),
        ("opinion.epsilon=0.2,0.2", "a value is given twice"),
        ("seed=1,2", "sweep seeds with --seeds"),
    ],
)
def test_bad_grids_are_one_line_and_write_nothing(scenario_file, tmp_path, grid, fragment):
    out = tmp_path / "never"
    one_line_error(invoke("sweep", scenario_file, "--grid", grid, "--out", out), fragment)
    assert not out.exists()


def test_an_address_with_no_ray_cluster_is_one_line(scenario_file, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke("sweep", scenario_file, "--grid", "opinion.epsilon=0.2",
                    "--address", f"127.0.0.1:{port}", "--out", tmp_path / "s")  # fmt: skip
    one_line_error(result, f"--address 127.0.0.1:{port}: no Ray cluster there")


def test_the_report_of_a_sweep_draws_every_metric_with_its_seed_band(swept, tmp_path):
    from townsquare.metrics.intervals import mean_interval
    from townsquare.report.sweep import metric_columns, read_sweep, series

    _, out = swept
    result = invoke("report", out)
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    plan, rows = read_sweep(out)
    columns = metric_columns(rows)
    assert "metric_posting_top10_share" in columns and "posts" in columns
    assert page.count("<figure>") == len(columns)
    [(label, points)] = series(rows, ["opinion.epsilon"], "opinion.epsilon", "posts")
    assert label == "" and [p[3] for p in points] == [2, 2]
    seeds_of_04 = [r["posts"] for r in rows if r["opinion.epsilon"] == 0.4]
    assert points[1][:3] == mean_interval(seeds_of_04)


def test_the_report_of_an_unfinished_sweep_is_one_line(swept, tmp_path):
    import shutil

    _, out = swept
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(out / "sweep.json", half / "sweep.json")
    one_line_error(invoke("report", half), "sweep.parquet: missing; the sweep has not finished")


def test_a_damaged_sweep_json_is_one_line_for_sweep_report_and_dashboard(
    swept, scenario_file, tmp_path
):
    import shutil

    pytest.importorskip("dash")
    out = tmp_path / "damaged"
    shutil.copytree(swept[1], out)
    (out / "sweep.json").write_text("{not json")
    result = invoke("sweep", scenario_file, "--grid", "opinion.epsilon=0.2", "--out", out)
    one_line_error(result, "sweep.json: unreadable")
    one_line_error(invoke("report", out), "sweep.json: not a sweep's settings")
    one_line_error(invoke("dashboard", out, "--port", "8050"), "sweep.json: not a sweep's settings")
    assert (out / "sweep.json").read_text() == "{not json"


def test_a_ray_task_runs_numba_on_the_cpus_ray_gave_it():
    """numba starts a thread per core in every worker: two workers on two cores ran four
    threads. A task runs on as many threads as CPUs it was given (one)."""
    import operator

    import numba

    from townsquare.experiments.ray_tasks import run_on_ray

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here: nothing to cut")
    got = {}
    run_on_ray(operator.call, [numba.get_num_threads] * 2, got.__setitem__, workers=2)
    assert got == {0: 1, 1: 1}
