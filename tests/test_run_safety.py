"""The run directory under careless and hostile use: nothing lost, nothing trusted, one
line for every error (issue 10, items 1, 3, 4, 5, 6 and 8)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time

import duckdb
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli_checks import invoke, one_line_error, quick_run
from townsquare.cli import app
from townsquare.config import load_scenario
from townsquare.runner import Run
from townsquare.store import MARKER, RunStore, fresh_run_dir

runner = CliRunner()


# ------------------------------------------------------------------ 1. --overwrite
def test_overwrite_refuses_a_folder_that_holds_no_run(small_scenario, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "important.txt").write_text("keep")
    result = quick_run(small_scenario, folder, "--overwrite")
    one_line_error(result, str(folder), "holds no townsquare run")
    assert (folder / "important.txt").read_text() == "keep"
    assert sorted(p.name for p in folder.iterdir()) == ["important.txt"]


def test_overwrite_of_the_current_folder_deletes_nothing(small_scenario, tmp_path, monkeypatch):
    (tmp_path / "notes.md").write_text("mine")
    monkeypatch.chdir(tmp_path)
    result = quick_run(small_scenario, ".", "--overwrite")
    one_line_error(result, "holds no townsquare run")
    assert (tmp_path / "notes.md").read_text() == "mine"
    assert (tmp_path / "small.yaml").exists()


def test_overwrite_replaces_a_run_and_only_what_runs_write(small_scenario, tmp_path):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out, "--seed", "1").exit_code == 0
    (out / "my_analysis.ipynb").write_text("{}")
    (out / "checkpoints" / "my_note.txt").write_text("mine")
    assert quick_run(small_scenario, out, "--seed", "2", "--overwrite").exit_code == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 2
    assert (out / "my_analysis.ipynb").read_text() == "{}"
    assert (out / "checkpoints" / "my_note.txt").read_text() == "mine"
    reference = tmp_path / "reference"
    assert quick_run(small_scenario, reference, "--seed", "2").exit_code == 0
    assert (out / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        steps = con.execute("SELECT count(*), count(DISTINCT step) FROM posts").fetchone()
    with duckdb.connect(str(reference / "events.duckdb"), read_only=True) as con:
        assert steps == con.execute("SELECT count(*), count(DISTINCT step) FROM posts").fetchone()


def test_out_naming_a_file(small_scenario, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("mine")
    one_line_error(quick_run(small_scenario, target), str(target), "is a file")
    one_line_error(quick_run(small_scenario, target, "--overwrite"), "is a file")
    assert target.read_text() == "mine"


# ------------------------------------------------------------------ 3. one writer
def test_a_second_writer_gets_one_line(small_scenario, tmp_path):
    out = tmp_path / "run"
    first = Run.start(load_scenario(str(small_scenario)), out)  # holds the lock until run
    one_line_error(quick_run(small_scenario, out, "--overwrite"), "another townsquare process")
    one_line_error(invoke("run", "--resume", out, "-q"), "another townsquare process")
    one_line_error(quick_run(small_scenario, out), "exists")
    summary = first.execute()
    assert summary["complete"] is True
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 3
    # the lock ends with the run: now the folder can be resumed or replaced
    assert invoke("run", "--resume", out, "-q", "--no-plot", "--no-report").exit_code == 0


def test_a_run_that_finished_while_another_was_building_is_kept(small_scenario, tmp_path):
    """Two starts into one empty folder: the later one to claim it is refused."""
    out = tmp_path / "run"
    scenario = load_scenario(str(small_scenario))
    late = RunStore(out)
    Run.start(scenario, out).execute()
    assert late.claim() is False  # the folder already held a run when it was claimed
    late.release()


def test_default_run_names_never_collide(small_scenario, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20260101-000000")
    for _ in range(3):
        result = invoke("run", small_scenario, "-q", "--no-plot", "--no-report", "--steps", "2")
        assert result.exit_code == 0, result.output
    made = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert made == [
        "small-s3-20260101-000000",
        "small-s3-20260101-000000-2",
        "small-s3-20260101-000000-3",
    ]
    for name in made:
        assert json.loads((tmp_path / "runs" / name / "summary.json").read_text())["complete"]


def test_fresh_run_dir_is_exclusive(tmp_path):
    a = fresh_run_dir(tmp_path / "runs" / "x")
    b = fresh_run_dir(tmp_path / "runs" / "x")
    assert a != b and a.is_dir() and b.is_dir()


def test_a_failed_build_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("users: 50\ngraph: {kind: edge_list, path: missing.txt}\n")
    one_line_error(invoke("run", "s.yaml", "-q"), "missing.txt")
    assert not any((tmp_path / "runs").iterdir())


# ------------------------------------------------------------------ 4. --resume checks
@pytest.fixture
def stopped_run(small_scenario, tmp_path):
    """A run stopped after step 5 (its checkpoint), with an uninterrupted twin."""
    out = tmp_path / "run"
    assert quick_run(small_scenario, out, "--steps", "5").exit_code == 0
    return out


@pytest.mark.parametrize(
    ("key", "value"),
    [("users", 700), ("seed", 4), ("feed.k", 7), ("roles.socialbot.fraction", 0.1)],
)
def test_resume_refuses_an_edited_config(stopped_run, key, value):
    config = yaml.safe_load((stopped_run / "config.yaml").read_text())
    node = config
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    (stopped_run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    one_line_error(
        invoke("run", "--resume", stopped_run, "-q", "--steps", "8"), "config.yaml", key, "edited"
    )


def test_resume_may_extend_steps_only(stopped_run, small_scenario, tmp_path):
    result = invoke("run", "--resume", stopped_run, "-q", "--steps", "9", "--no-report")
    assert result.exit_code == 0, result.output
    reference = tmp_path / "reference"
    assert quick_run(small_scenario, reference, "--steps", "9").exit_code == 0
    assert (stopped_run / "metrics.parquet").read_bytes() == (
        reference / "metrics.parquet"
    ).read_bytes()


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (lambda d: (d / "metrics.parquet").unlink(), ["metrics.parquet", "missing"]),
        (lambda d: (d / "metrics.parquet").write_bytes(b"garbage"), ["metrics.parquet", "damaged"]),
        (lambda d: (d / "events.duckdb").unlink(), ["events.duckdb", "missing"]),
        (lambda d: (d / "events.duckdb").write_bytes(b"\0" * 9000), ["events.duckdb", "damaged"]),
        (
            lambda d: _sql(d, "DELETE FROM likes WHERE step = 1"),
            ["events.duckdb", "likes", "recorded"],
        ),
        (lambda d: (d / "checkpoints" / "latest.json").unlink(), ["no checkpoint"]),
        (lambda d: (d / "checkpoints" / "latest.json").write_text("{"), ["latest.json", "damaged"]),
        (
            lambda d: (d / "checkpoints" / "latest.json").write_text('{"file": "../x"}'),
            ["latest.json", "damaged"],
        ),
        (lambda d: _truncate(next((d / "checkpoints").glob("world-*.npz"))), ["npz", "damaged"]),
        (lambda d: next((d / "checkpoints").glob("world-*.npz")).unlink(), ["npz", "missing"]),
        (lambda d: (d / "config.yaml").write_bytes(b"\xff\xfe\x00garbage"), ["config.yaml"]),
        (lambda d: (d / "config.yaml").write_text("users: [1"), ["config.yaml"]),
        (lambda d: (d / "config.yaml").unlink(), ["no config.yaml"]),
    ],
)
def test_resume_names_a_missing_or_damaged_file(stopped_run, damage, fragments):
    damage(stopped_run)
    one_line_error(invoke("run", "--resume", stopped_run, "-q", "--steps", "8"), *fragments)


def _sql(run_dir, statement):
    with duckdb.connect(str(run_dir / "events.duckdb")) as con:
        con.execute(statement)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_resume_of_a_missing_folder(tmp_path):
    one_line_error(invoke("run", "--resume", tmp_path / "nope", "-q"), "not found")


def test_checkpoint_arrays_that_do_not_fit_the_world(stopped_run):
    path = next((stopped_run / "checkpoints").glob("world-*.npz"))
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    first = sorted(arrays)[0]
    arrays[first] = np.zeros(3, np.int8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    one_line_error(invoke("run", "--resume", stopped_run, "-q", "--steps", "8"), "checkpoint")


# ------------------------------------------------------------------ 5. no tracebacks
@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (lambda d: (d / "summary.json").write_text("{"), ["summary.json", "damaged"]),
        (lambda d: (d / "summary.json").write_text("[]"), ["summary.json", "damaged"]),
        (lambda d: (d / "metrics.parquet").write_bytes(b"x"), ["metrics.parquet", "damaged"]),
        (lambda d: (d / "events.duckdb").write_bytes(b"x" * 5000), ["events.duckdb", "damaged"]),
    ],
)
def test_show_names_a_damaged_file(stopped_run, damage, fragments):
    damage(stopped_run)
    one_line_error(invoke("show", stopped_run), *fragments)


@pytest.mark.parametrize("command", ["realism", "report", "plot"])
def test_readers_name_a_damaged_file(stopped_run, command):
    (stopped_run / "metrics.parquet").write_bytes(b"x")
    one_line_error(invoke(command, stopped_run), "metrics.parquet", "damaged")


def test_report_and_plot_out_may_name_a_folder_or_a_new_path(stopped_run, tmp_path):
    folder = tmp_path / "figures"
    folder.mkdir()
    assert invoke("report", stopped_run, "--out", folder).exit_code == 0
    assert (folder / "report.html").stat().st_size > 1000
    assert invoke("plot", stopped_run, "--out", folder).exit_code == 0
    assert (folder / "metrics.png").exists()
    deep = tmp_path / "a" / "b" / "m.png"
    assert invoke("plot", stopped_run, "--out", deep).exit_code == 0
    assert deep.exists()


def test_zero_steps_is_refused_before_anything_is_written(small_scenario, tmp_path):
    out = tmp_path / "run"
    one_line_error(quick_run(small_scenario, out, "--steps", "0"), "at least one step")
    assert not out.exists()


# ------------------------------------------------------------------ 6. bounds and usage
def test_compare_seed_ranges_are_bounded(stopped_run):
    one_line_error(invoke("compare", stopped_run, stopped_run, "--seeds", "1-100000000"), "at most")
    one_line_error(invoke("compare", stopped_run, stopped_run, "--seeds", "99999999999"), "up to")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "default", "--steps", "-5"],
        ["run", "default", "--seed", "-1"],
        ["train", "influencer", "--episodes", "0"],
        ["evaluate", "x.npz", "--seeds", "0"],
        ["run", "--bogus"],
        ["frobnicate"],
        ["show"],
    ],
)
def test_usage_errors_are_one_line(args):
    text = one_line_error(runner.invoke(app, args))
    assert "townsquare" in text and "--help" in text


def test_unexpected_errors_are_one_line_with_a_debug_switch(stopped_run, monkeypatch):
    import townsquare.cli as cli

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_print_summary", broken)
    text = one_line_error(runner.invoke(app, ["show", str(stopped_run)]), code=3)
    assert "boom" in text and "TOWNSQUARE_DEBUG" in text
    monkeypatch.setenv("TOWNSQUARE_DEBUG", "1")
    result = runner.invoke(app, ["show", str(stopped_run)])
    assert isinstance(result.exception, RuntimeError)


# ------------------------------------------------------------------ 8. disk and signals
def _fail_on(monkeypatch, module, name, nth: int, err: int):
    """Make ``module.name`` raise OSError(err) on its nth call."""
    real = getattr(module, name)
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            first = args[0] if args else None
            name = os.fspath(first) if isinstance(first, str | os.PathLike) else first.name
            raise OSError(err, os.strerror(err), name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_a_disk_error_mid_run_is_one_line_and_the_run_resumes(
    small_scenario, tmp_path, monkeypatch, err
):
    import townsquare.store as store

    out = tmp_path / "run"
    # the third checkpoint (after step 10) fails to write: the one after step 5 holds
    _fail_on(monkeypatch, store.np, "savez", 3, err)
    text = one_line_error(quick_run(small_scenario, out), code=1)
    assert os.strerror(err) in text and "--resume" in text and "step 5" in text
    monkeypatch.undo()
    assert not list((out / "checkpoints").glob("*.tmp"))
    assert json.loads((out / "summary.json").read_text())["complete"] is False
    assert invoke("run", "--resume", out, "-q", "--no-plot", "--no-report").exit_code == 0
    reference = tmp_path / "reference"
    assert quick_run(small_scenario, reference).exit_code == 0
    assert (out / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()


def test_a_full_disk_while_writing_the_summary(small_scenario, tmp_path, monkeypatch):
    import townsquare.store as store

    out = tmp_path / "run"
    real = store.Path.write_bytes

    def full(self, data):
        if self.name == "summary.json.tmp" and "step" not in str(data[:0]):
            full.calls += 1
            if full.calls == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    full.calls = 0
    monkeypatch.setattr(store.Path, "write_bytes", full)
    text = one_line_error(quick_run(small_scenario, out), code=1)
    assert "summary.json.tmp" in text and "No space left" in text
    monkeypatch.undo()
    assert not (out / "summary.json.tmp").exists()
    assert invoke("run", "--resume", out, "-q", "--no-plot", "--no-report").exit_code == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_directory(stopped_run):
    for path in [stopped_run, *stopped_run.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        result = invoke("run", "--resume", stopped_run, "-q", "--steps", "8")
        assert result.exit_code in (1, 2)
        one_line_error(result, str(stopped_run), code=result.exit_code)
    finally:
        for path in [stopped_run, *stopped_run.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_permission_error_creating_the_run(small_scenario, tmp_path, monkeypatch):
    import townsquare.store as store

    _fail_on(monkeypatch, store.os, "open", 1, errno.EACCES)
    out = tmp_path / "run"
    one_line_error(quick_run(small_scenario, out), str(out / MARKER), "Permission denied", code=1)


def test_ctrl_c_while_drawing_says_what_happened(small_scenario, tmp_path, monkeypatch):
    import townsquare.report as report

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "plot_run", interrupted)
    out = tmp_path / "run"
    result = invoke("run", small_scenario, "--out", out, "-q")
    assert result.exit_code == 130
    assert "interrupted while drawing" in result.stderr and "complete" in result.stderr
    assert json.loads((out / "summary.json").read_text())["complete"] is True


def test_a_legacy_run_without_marker_resumes(stopped_run):
    (stopped_run / MARKER).unlink()
    result = invoke("run", "--resume", stopped_run, "-q", "--steps", "8", "--no-report")
    assert result.exit_code == 0, result.output
    assert (stopped_run / MARKER).exists()


def test_seed_runs_of_compare_are_replaced_only_when_they_are_runs(stopped_run, tmp_path):
    stray = stopped_run / "seeds" / "seed-9"
    stray.mkdir(parents=True)
    (stray / "mine.txt").write_text("mine")
    one_line_error(invoke("compare", stopped_run, stopped_run, "--seeds", "9"), "holds no")
    assert (stray / "mine.txt").read_text() == "mine"
    shutil.rmtree(stray)


# ------------------------------------------------------------------ learned policies
@pytest.fixture(scope="module")
def q_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    result = invoke("train", "influencer", "--episodes", "2", "--out", out, "--set", "users=200")
    assert result.exit_code == 0, result.output
    return out / "policy.npz"


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda src, dst: dst.write_bytes(src.read_bytes()[:300]), "not a readable Q-table"),
        (lambda src, dst: dst.write_bytes(b"PK\x03\x04" + b"\0" * 50), "not a readable Q-table"),
        (lambda src, dst: dst.write_bytes(b""), "not a readable Q-table"),
    ],
)
def test_evaluate_a_damaged_q_table(q_table, tmp_path, make, fragment):
    bad = tmp_path / "bad.npz"
    make(q_table, bad)
    one_line_error(invoke("evaluate", bad, "--seeds", "1"), str(bad), fragment)


@pytest.mark.parametrize(
    "doc",
    [
        '{"q": [[NaN, 1.0]], "meta": {}}',
        '{"q": [1, 2], "meta": {}}',
        '{"q": [[1, 2]], "visits": [[1]], "meta": {}}',
        '{"q": [[1, 2]], "meta": []}',
        '{"q": "x"}',
        "[",
    ],
)
def test_evaluate_a_nonsense_json_q_table(tmp_path, doc):
    bad = tmp_path / "bad.json"
    bad.write_text(doc)
    one_line_error(invoke("evaluate", bad, "--seeds", "1"), str(bad))


def test_train_without_users_of_the_role(tmp_path):
    one_line_error(
        invoke("train", "influencer", "--out", tmp_path, "--set", "roles.influencer.count=0"),
        "roles.influencer.count is 0",
    )


# ------------------------------------------------------------------ readers and writers
def _slow_run(tmp_path):
    """A run in another process, flushing every step, long enough (about 2 minutes alone)
    to be still running while the readers work on a loaded machine; tests interrupt it."""
    import subprocess
    import sys

    scenario = tmp_path / "slow.yaml"
    scenario.write_text("users: 4000\nsteps: 3000\nseed: 2\nrecord: {flush_every: 1}\n")
    out = tmp_path / "slow"
    cmd = [sys.executable, "-m", "townsquare", "run", str(scenario), "--out", str(out), "-q"]
    proc = subprocess.Popen(
        [*cmd, "--no-plot", "--no-report"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if json.loads((out / "summary.json").read_text())["steps"] >= 2:
                break
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    return proc, out


def test_readers_never_stop_a_running_writer(tmp_path):
    proc, out = _slow_run(tmp_path)
    try:
        for command in ("realism", "report"):
            one_line_error(invoke(command, out), "still writing")
        one_line_error(invoke("compare", out, out), "still writing")
        shown = invoke("show", out)
        assert shown.exit_code == 0, shown.output
        assert "still writing" in shown.output
        assert invoke("plot", out, "--out", tmp_path / "live.png").exit_code == 0
        one_line_error(invoke("run", "--resume", out, "-q"), "another townsquare process")
        assert proc.poll() is None  # still running
    finally:
        proc.send_signal(2)  # SIGINT: finish the step, save
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "--resume" in err
    assert invoke("realism", out).exit_code == 0


def test_a_flush_waits_for_a_program_holding_the_events_file(small_scenario, tmp_path, monkeypatch):
    import subprocess
    import sys

    import townsquare.store as store

    out = tmp_path / "run"
    run = Run.start(load_scenario(str(small_scenario)), out)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); time.sleep(float(sys.argv[2]))",
            str(out / "events.duckdb"),
            "1.5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "open"
    summary = run.execute()  # waits for the holder to let go, then flushes
    holder.wait(timeout=30)
    assert summary["complete"]  # without the wait, the first flush fails (see below)

    # a holder that never lets go: one line naming the file, and the run resumes
    monkeypatch.setattr(store, "LOCK_WAIT_S", 0.5)
    out2 = tmp_path / "run2"
    run = Run.start(load_scenario(str(small_scenario)), out2)
    holder = subprocess.Popen(
        holder.args[:3] + [str(out2 / "events.duckdb"), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        from townsquare.errors import UserError

        with pytest.raises(UserError, match="held open by another program"):
            run.execute()
    finally:
        holder.kill()
        holder.wait()
    assert Run.resume(out2).execute()["complete"]


def test_resume_refuses_out_and_overwrite(stopped_run, tmp_path):
    one_line_error(invoke("run", "--resume", stopped_run, "--out", tmp_path / "x"), "drop --out")
    one_line_error(invoke("run", "--resume", stopped_run, "--overwrite"), "drop --out")


def test_an_empty_out_is_refused(small_scenario):
    one_line_error(quick_run(small_scenario, ""), "--out", "empty")


def test_a_folder_named_like_a_run_file_is_not_replaced(small_scenario, tmp_path):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out).exit_code == 0
    (out / "events.duckdb").unlink()
    (out / "events.duckdb").mkdir()
    (out / "events.duckdb" / "mine.txt").write_text("mine")
    before = sorted(p.name for p in out.iterdir())
    one_line_error(quick_run(small_scenario, out, "--overwrite"), "events.duckdb", "not a file")
    assert sorted(p.name for p in out.iterdir()) == before  # nothing removed
    assert (out / "events.duckdb" / "mine.txt").read_text() == "mine"


def test_a_checkpoint_step_that_disagrees_with_the_world(stopped_run):
    latest = stopped_run / "checkpoints" / "latest.json"
    meta = json.loads(latest.read_text())
    meta["world"]["t"] = 3
    latest.write_text(json.dumps(meta))
    one_line_error(invoke("run", "--resume", stopped_run, "-q", "--steps", "8"), "step")


def test_scoring_a_run_without_metrics(stopped_run):
    (stopped_run / "metrics.parquet").unlink()
    for args in (["realism", stopped_run], ["compare", stopped_run, stopped_run]):
        one_line_error(invoke(*args), "metrics.parquet", "missing")


@pytest.mark.parametrize(
    ("command", "out", "written"),
    [
        ("plot", "figs/", "figs/metrics.png"),
        ("plot", "figs", "figs/metrics.png"),
        ("plot", "a/b/m.svg", "a/b/m.svg"),
        ("report", "pages/", "pages/report.html"),
        ("report", "p/r.html", "p/r.html"),
    ],
)
def test_out_paths_of_plot_and_report(stopped_run, tmp_path, monkeypatch, command, out, written):
    monkeypatch.chdir(tmp_path)
    result = invoke(command, stopped_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert (tmp_path / written).is_file()


@pytest.mark.parametrize(("command", "out"), [("plot", "data.csv"), ("report", "r.png")])
def test_out_with_a_foreign_extension(stopped_run, tmp_path, command, out):
    one_line_error(invoke(command, stopped_run, "--out", tmp_path / out), out)
    assert not (tmp_path / out).exists()


def test_figures_replace_a_symlink_instead_of_writing_through_it(stopped_run, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    link = tmp_path / "page.html"
    link.symlink_to(victim)
    one_line_error(invoke("report", stopped_run, "--out", link), "exists")
    assert invoke("report", stopped_run, "--out", link, "--overwrite").exit_code == 0
    assert victim.read_text() == "mine"
    assert not link.is_symlink() and link.stat().st_size > 1000


def test_a_start_that_fails_after_claiming_leaves_nothing(small_scenario, tmp_path, monkeypatch):
    monkeypatch.delenv("TOWNSQUARE_UNSET_KEY", raising=False)
    out = tmp_path / "run"
    result = quick_run(
        small_scenario,
        out,
        "--set",
        "text.backend=openai",
        "--set",
        "text.base_url=http://127.0.0.1:9/v1",
        "--set",
        "text.model=m",
        "--set",
        "text.api_key_env=TOWNSQUARE_UNSET_KEY",
    )
    one_line_error(result, "TOWNSQUARE_UNSET_KEY")
    assert not out.exists()


def test_steps_and_seed_bounds_name_the_option(small_scenario, tmp_path):
    one_line_error(quick_run(small_scenario, tmp_path / "a", "--steps", str(2**31)), "--steps")
    one_line_error(quick_run(small_scenario, tmp_path / "b", "--seed", str(2**63)), "--seed")


# ------------------------------------------------------------------ second audit
def test_the_lock_is_held_while_the_run_draws_its_figures(small_scenario, tmp_path, monkeypatch):
    import townsquare.report as report
    from townsquare.errors import UserError

    out = tmp_path / "run"
    seen = {}
    real = report.plot_run

    def drawing(run_dir, *a, **k):
        with pytest.raises(UserError, match="another townsquare process"):
            RunStore(run_dir).claim()
        seen["checked"] = True
        return real(run_dir, *a, **k)

    monkeypatch.setattr(report, "plot_run", drawing)
    assert invoke("run", small_scenario, "--out", out, "-q", "--no-report").exit_code == 0
    assert seen == {"checked": True}
    assert RunStore(out).claim() is False  # released at the end


@pytest.mark.parametrize("seeds", ["1001", "1000000000", "99999999999999999999"])
def test_evaluate_seeds_are_bounded(seeds):
    one_line_error(runner.invoke(app, ["evaluate", "x.npz", "--seeds", seeds]), "--seeds")


def _rewrite_metrics(run_dir, change):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(run_dir / "metrics.parquet")
    pq.write_table(change(table, pa), run_dir / "metrics.parquet")


@pytest.mark.parametrize(
    "change",
    [
        lambda t, pa: pa.table({"x": [1.0] * t.num_rows}),
        lambda t, pa: t.drop(["posts"]),
        lambda t, pa: t.set_column(
            t.column_names.index("likes"), "likes", pa.array([float("nan")] * t.num_rows)
        ),
        lambda t, pa: t.set_column(0, "step", pa.array([0] * t.num_rows, pa.int64())),
    ],
)
def test_metrics_with_foreign_columns(stopped_run, change):
    _rewrite_metrics(stopped_run, change)
    for args in (["show", stopped_run], ["plot", stopped_run], ["realism", stopped_run]):
        one_line_error(invoke(*args), "metrics.parquet", "damaged")
    one_line_error(invoke("run", "--resume", stopped_run, "-q", "--steps", "8"), "metrics.parquet")


@pytest.mark.parametrize(
    ("key", "value"), [("users", "abc"), ("roles", [1]), ("complete", "yes"), ("seed", None)]
)
def test_a_summary_with_values_of_the_wrong_kind(stopped_run, key, value):
    summary = json.loads((stopped_run / "summary.json").read_text())
    summary[key] = value
    (stopped_run / "summary.json").write_text(json.dumps(summary))
    for command in ("show", "report"):
        one_line_error(invoke(command, stopped_run), "summary.json", "damaged", key)


def test_overwrite_refuses_a_linked_checkpoints_folder_before_removing_anything(
    small_scenario, tmp_path
):
    out = tmp_path / "run"
    assert quick_run(small_scenario, out).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    shutil.rmtree(out / "checkpoints")
    (out / "checkpoints").symlink_to(elsewhere)
    before = sorted(p.name for p in out.iterdir())
    one_line_error(quick_run(small_scenario, out, "--overwrite"), "checkpoints", "not a folder")
    assert sorted(p.name for p in out.iterdir()) == before
    assert (elsewhere / "keep.txt").read_text() == "mine"


def test_a_linked_marker_makes_no_run(small_scenario, tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    other = tmp_path / "other"
    assert quick_run(small_scenario, other).exit_code == 0
    (out / MARKER).symlink_to(other / MARKER)
    one_line_error(quick_run(small_scenario, out, "--overwrite"), "holds no townsquare run")
    assert (out / "mine.txt").read_text() == "mine"


def test_compare_reruns_a_seed_folder_that_holds_another_run(small_scenario, tmp_path):
    base = tmp_path / "base"
    assert quick_run(small_scenario, base).exit_code == 0
    stale = base / "seeds" / "seed-7"
    assert quick_run(small_scenario, stale, "--seed", "1").exit_code == 0  # not seed 7
    assert invoke("compare", base, base, "--seeds", "7", "--json").exit_code == 0
    assert yaml.safe_load((stale / "config.yaml").read_text())["seed"] == 7
    reference = tmp_path / "reference"
    assert quick_run(small_scenario, reference, "--seed", "7").exit_code == 0
    assert (stale / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()


def test_compare_seed_lists_must_name_seeds(stopped_run):
    one_line_error(invoke("compare", stopped_run, stopped_run, "--seeds", ""), "--seeds")


def test_a_ctrl_c_inside_any_command_says_so_in_one_line(stopped_run, monkeypatch):
    import townsquare.report as report

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_report", interrupted)
    result = runner.invoke(app, ["report", str(stopped_run)])
    assert result.exit_code == 130
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted"), result.stderr


@pytest.mark.parametrize("command", ["plot", "report"])
def test_out_naming_an_existing_file_needs_overwrite(stopped_run, tmp_path, command):
    suffix = ".png" if command == "plot" else ".html"
    mine = tmp_path / f"mine{suffix}"
    mine.write_text("mine")
    one_line_error(invoke(command, stopped_run, "--out", mine), "exists", "--overwrite")
    assert mine.read_text() == "mine"
    assert invoke(command, stopped_run, "--out", mine, "--overwrite").exit_code == 0
    assert mine.stat().st_size > 1000


def test_control_characters_in_paths_are_shown_escaped(tmp_path):
    text = one_line_error(invoke("show", str(tmp_path / "\x1b[31mred")))
    assert "\x1b" not in text and "\\x1b" in text


def test_many_topics_draw_without_warnings(small_scenario, tmp_path):
    import warnings

    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = invoke("run", small_scenario, "--out", out, "-q", "--set", "population.topics=64")
    assert result.exit_code == 0, result.output
    assert (out / "metrics.png").exists() and (out / "report.html").exists()
