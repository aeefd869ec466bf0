"""A run stopped with a graceful stop and resumed must end exactly as one that ran
through: the same metrics bytes and the same event tables."""

from __future__ import annotations

import duckdb
import pytest

from townsquare.runner import Run, RunInterrupted


def assert_resume_is_exact(scenario, tmp_path, stop_after: int, tables=("posts",)) -> None:
    """Run ``scenario`` through, and again stopped after step ``stop_after`` and resumed;
    the two run directories must hold the same metrics and ``tables``."""
    reference = tmp_path / "ref"
    Run.start(scenario, reference).execute()
    out = tmp_path / "stopped"
    run = Run.start(scenario, out)

    def stop(row):
        if row["step"] == stop_after:
            run.request_stop()

    with pytest.raises(RunInterrupted):
        run.execute(on_step=stop)
    Run.resume(out).execute()
    assert (out / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()
    with (
        duckdb.connect(str(reference / "events.duckdb"), read_only=True) as a,
        duckdb.connect(str(out / "events.duckdb"), read_only=True) as b,
    ):
        for table in tables:
            q = f"SELECT * FROM {table} ORDER BY ALL"
            assert a.execute(q).fetchall() == b.execute(q).fetchall(), table
