"""`townsquare reproduce meylahn2024`: outputs, shape of the result, errors."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq
from typer.testing import CliRunner

from townsquare.cli import app
from townsquare.experiments.meylahn2024 import Settings, consensus_times, quantile_table

runner = CliRunner()


def test_reproduce_writes_every_output(tmp_path):
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        [
            "reproduce",
            "meylahn2024",
            "--runs",
            "6",
            "--cap",
            "1e5",
            "--radii",
            "0.3,0.5",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "consensus_times.parquet")
    assert table.column_names == ["r_g", "run", "consensus_time", "censored"]
    assert table.num_rows == 12
    assert set(table.column("r_g").to_pylist()) == {0.3, 0.5}
    with open(out / "quantiles.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["r_g"] for r in rows] == ["0.3", "0.5"]
    assert {"median", "p90", "p_gt_1e4", "p_gt_1e6", "polarised_at_cap"} <= set(rows[0])
    import json

    summary = json.loads((out / "trace_rg025.json").read_text())
    assert {"interactions", "consensus", "time_polarised", "plateaus"} <= set(summary)
    for png in ("survival.png", "trace_rg025.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_consensus_is_slower_on_sparser_graphs():
    s = Settings(runs=80, cap=10**6, radii=(0.25, 0.5), workers=1)
    rows = {r["r_g"]: r for r in quantile_table(consensus_times(s), s.cap)}
    assert rows[0.25]["p_gt_1e4"] > rows[0.5]["p_gt_1e4"] + 0.3
    assert rows[0.25]["polarised_at_cap"] > 0.1
    assert rows[0.5]["polarised_at_cap"] == 0.0


def test_results_do_not_depend_on_the_number_of_workers():
    s1 = Settings(runs=6, cap=10**5, radii=(0.35,), workers=1)
    s2 = Settings(runs=6, cap=10**5, radii=(0.35,), workers=2)
    assert consensus_times(s1)["consensus_time"] == consensus_times(s2)["consensus_time"]


def test_reproduce_errors(tmp_path):
    bad = runner.invoke(app, ["reproduce", "nobody2020"])
    assert bad.exit_code == 2 and "unknown experiment" in bad.stderr
    bad = runner.invoke(app, ["reproduce", "meylahn2024", "--radii", "x"])
    assert bad.exit_code == 2 and "--radii" in bad.stderr
    bad = runner.invoke(app, ["reproduce", "meylahn2024", "--radii", "0,0.3"])
    assert bad.exit_code == 2 and "r_g" in bad.stderr
