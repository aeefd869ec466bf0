"""Run directories: determinism, recording modes, interruption and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from townsquare.config import load_scenario
from townsquare.runner import Run, RunInterrupted
from townsquare.world import World


def run_to(path: Path, scenario: Path, *sets: str) -> Path:
    Run.start(load_scenario(str(scenario), list(sets)), path).execute()
    return path


def test_same_seed_gives_byte_identical_metrics(small_scenario, tmp_path):
    a = run_to(tmp_path / "a", small_scenario)
    b = run_to(tmp_path / "b", small_scenario)
    c = run_to(tmp_path / "c", small_scenario, "seed=4")
    assert (a / "metrics.parquet").read_bytes() == (b / "metrics.parquet").read_bytes()
    assert (a / "metrics.parquet").read_bytes() != (c / "metrics.parquet").read_bytes()
    assert (a / "config.yaml").read_bytes() == (b / "config.yaml").read_bytes()


def test_metrics_have_one_row_per_step(small_scenario, tmp_path):
    out = run_to(tmp_path / "a", small_scenario)
    table = pq.read_table(out / "metrics.parquet")
    assert table.num_rows == 12
    assert table.column("step").to_pylist() == list(range(12))
    for column in (
        "active_users",
        "posts",
        "likes",
        "follows",
        "unfollows",
        "opinion_mean",
        "opinion_std",
        "bimodality",
    ):
        assert column in table.column_names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["posts"] == sum(table.column("posts").to_pylist())
    assert summary["likes"] == sum(table.column("likes").to_pylist())


def test_events_are_queryable_and_match_the_summary(small_scenario, tmp_path):
    out = run_to(tmp_path / "a", small_scenario)
    summary = json.loads((out / "summary.json").read_text())
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        kinds = dict(con.execute("SELECT kind, count(*) FROM posts GROUP BY kind").fetchall())
        assert kinds.get("post", 0) == summary["posts"]
        assert kinds.get("repost", 0) == summary["reposts"]
        assert kinds.get("reply", 0) == summary["replies"]
        assert con.execute("SELECT count(*) FROM likes").fetchone()[0] == summary["likes"]
        actions = dict(
            con.execute("SELECT action, count(*) FROM follows GROUP BY action").fetchall()
        )
        assert actions.get("follow", 0) == summary["follows"]
        assert actions.get("unfollow", 0) == summary["unfollows"]
        # every liked post exists and was written no later than it was liked
        orphan = con.execute(
            "SELECT count(*) FROM likes l LEFT JOIN posts p ON l.post_id = p.id "
            "WHERE p.id IS NULL OR p.step > l.step"
        ).fetchone()[0]
        assert orphan == 0
        assert con.execute("SELECT max(step) FROM posts").fetchone()[0] == 11


def test_sampled_events_keep_whole_user_histories(small_scenario, tmp_path):
    full = run_to(tmp_path / "full", small_scenario)
    sample = run_to(
        tmp_path / "sample", small_scenario, "record.events=sample", "record.sample_rate=0.2"
    )
    none = run_to(tmp_path / "none", small_scenario, "record.events=none")
    # recording never changes the simulation
    assert (full / "metrics.parquet").read_bytes() == (sample / "metrics.parquet").read_bytes()
    assert (full / "metrics.parquet").read_bytes() == (none / "metrics.parquet").read_bytes()
    assert not (none / "events.duckdb").exists()
    with duckdb.connect(str(sample / "events.duckdb"), read_only=True) as con:
        kept = {r[0] for r in con.execute("SELECT DISTINCT author FROM posts").fetchall()}
        n_posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    with duckdb.connect(str(full / "events.duckdb"), read_only=True) as con:
        total = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        placeholders = ",".join(str(u) for u in kept)
        same = con.execute(
            f"SELECT count(*) FROM posts WHERE author IN ({placeholders})"
        ).fetchone()[0]
    assert 0 < n_posts < total
    assert same == n_posts


def _fail_at(monkeypatch, step: int, exc: type[BaseException]):
    original = World.step

    def step_or_fail(self):
        if self.t == step:
            raise exc("boom")
        return original(self)

    monkeypatch.setattr(World, "step", step_or_fail)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_error_mid_run_leaves_a_resumable_directory(small_scenario, tmp_path, monkeypatch, exc):
    reference = run_to(tmp_path / "ref", small_scenario)
    out = tmp_path / "broken"
    run = Run.start(load_scenario(str(small_scenario)), out)
    _fail_at(monkeypatch, 7, exc)
    with pytest.raises(exc):
        run.execute()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    assert summary["steps"] == 5  # the last flush (flush_every: 5)
    assert pq.read_table(out / "metrics.parquet").num_rows == 5
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        assert con.execute("SELECT max(step) FROM posts").fetchone()[0] == 4
    monkeypatch.undo()
    final = Run.resume(out).execute()
    assert final["complete"] is True
    assert (out / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()
    ref = json.loads((reference / "summary.json").read_text())
    for key in ("posts", "likes", "reposts", "follows", "unfollows", "steps", "events_rows"):
        assert final[key] == ref[key]
    with (
        duckdb.connect(str(out / "events.duckdb"), read_only=True) as a,
        duckdb.connect(str(reference / "events.duckdb"), read_only=True) as b,
    ):
        for table in ("posts", "likes", "follows", "detections"):
            q = f"SELECT * FROM {table} ORDER BY ALL"
            assert a.execute(q).fetchall() == b.execute(q).fetchall()


def test_graceful_stop_finishes_the_step_and_resumes(small_scenario, tmp_path):
    reference = run_to(tmp_path / "ref", small_scenario)
    out = tmp_path / "stopped"
    run = Run.start(load_scenario(str(small_scenario)), out)

    def stop_at_three(row):
        if row["step"] == 2:
            run.request_stop()

    with pytest.raises(RunInterrupted) as info:
        run.execute(on_step=stop_at_three)
    assert info.value.step == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["steps"] == 3
    Run.resume(out).execute()
    assert (out / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()


def test_resume_can_extend_a_finished_run(small_scenario, tmp_path):
    longer = run_to(tmp_path / "long", small_scenario, "steps=16")
    out = run_to(tmp_path / "short", small_scenario)
    summary = Run.resume(out, steps=16).execute()
    assert summary["steps"] == 16 and summary["complete"]
    assert (out / "metrics.parquet").read_bytes() == (longer / "metrics.parquet").read_bytes()


def test_ctrl_c_on_the_command_line(tmp_path):
    """A real SIGINT to `townsquare run` stops cleanly and --resume completes the run."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("users: 3000\nsteps: 400\nseed: 2\nrecord: {flush_every: 1}\n")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "townsquare", "run", str(scenario), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if json.loads((out / "summary.json").read_text())["steps"] >= 3:
                break
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    stopped_at = summary["steps"]
    assert 3 <= stopped_at < 400
    assert pq.read_table(out / "metrics.parquet").num_rows == stopped_at
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "townsquare",
            "run",
            "--resume",
            str(out),
            "-q",
            "--steps",
            str(stopped_at + 2),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "summary.json").read_text())["complete"] is True
    reference = subprocess.run(
        [
            sys.executable,
            "-m",
            "townsquare",
            "run",
            str(scenario),
            "--out",
            str(tmp_path / "ref"),
            "-q",
            "--steps",
            str(stopped_at + 2),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reference.returncode == 0, reference.stderr
    assert (out / "metrics.parquet").read_bytes() == (
        tmp_path / "ref" / "metrics.parquet"
    ).read_bytes()
