"""The dashboard without a browser (dashboard/): the page's run control (pause, step,
resume change nothing in the run), what a view reads from a run folder, the server's
errors. The browser test is tests/test_dashboard_browser.py."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from cli_checks import invoke, one_line_error
from conftest import SMALL
from townsquare.config import load_scenario
from townsquare.errors import UserError
from townsquare.runner import Run

pytest.importorskip("dash")

from townsquare.dashboard.app import Server, build_app, fmt  # noqa: E402
from townsquare.dashboard.control import CONTROLS, PageRun, scenario_values  # noqa: E402
from townsquare.dashboard.views import graph_sample, histogram, read_run  # noqa: E402

PAGE = ["users=600", "steps=40", "seed=3", "roles.influencer.count=5",
        "roles.candidate.count=2"]  # fmt: skip


def wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_pause_step_resume_change_nothing_in_the_run(tmp_path):
    page = PageRun(tmp_path / "runs")
    settings = [*PAGE, "steps=80"]
    folder = page.start("default", settings)
    wait_for(lambda: page.status.step >= 2)
    page.pause()
    wait_for(lambda: page.status.state == "paused")
    held = page.status.step
    assert 2 <= held < 80
    time.sleep(0.3)
    assert page.status.step == held and page.status.state == "paused"
    # a paused run's folder holds the step the page shows
    assert read_run(folder, with_world=False).step == held
    page.step()
    wait_for(lambda: page.status.state == "paused" and page.status.step == held + 1)
    time.sleep(0.3)
    assert page.status.step == held + 1
    assert read_run(folder, with_world=False).step == held + 1
    page.resume()
    page.join(300)
    assert page.status.state == "finished" and page.status.step == 80
    alone = tmp_path / "alone"
    Run.start(load_scenario("default", settings), alone).execute()  # flushed every 10 steps
    assert (folder / "metrics.parquet").read_bytes() == (alone / "metrics.parquet").read_bytes()


def test_a_stopped_page_run_can_be_resumed_from_the_command_line(tmp_path):
    import json

    page = PageRun(tmp_path / "runs")
    folder = page.start("default", [*PAGE, "steps=80"])
    wait_for(lambda: page.status.step >= 3)
    page.stop()
    page.join(60)
    assert page.status.state == "stopped"
    stopped_at = page.status.step
    assert 3 <= stopped_at < 80
    summary = json.loads((folder / "summary.json").read_text())
    assert not summary["complete"] and summary["steps"] == stopped_at
    assert (folder / "users.parquet").is_file()
    summary = Run.resume(folder).execute()
    assert summary["complete"] and summary["steps"] == 80


def test_the_page_refuses_a_bad_value_and_a_second_run_in_one_line(tmp_path):
    page = PageRun(tmp_path / "runs")
    with pytest.raises(UserError, match="opinion.epsilon"):
        page.start("default", [*PAGE, "opinion.epsilon=9"])
    page.start("default", [*PAGE, "steps=400"])
    page.pause()
    with pytest.raises(UserError, match="a run is going"):
        page.start("default", PAGE)
    page.stop()
    page.join(60)
    assert not (tmp_path / "runs" / "default-002").exists()


def test_a_view_reads_what_the_run_wrote(small_scenario, tmp_path):
    from townsquare.metrics.realism import measure_run

    out = tmp_path / "run"
    invoke("run", small_scenario, "--out", out, "-q", "--no-plot", "--no-report")
    view = read_run(out)
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "metrics.parquet").to_pylist()
    assert view.step == SMALL["steps"] and view.complete
    assert view.total("posts") == sum(r["posts"] for r in rows)
    assert view.measures == pytest.approx(measure_run(out), nan_ok=True)
    counts, _ = histogram(view.opinion)
    assert counts.sum() == SMALL["users"]
    nodes, (src, dst) = graph_sample(*_edges(out), SMALL["users"])
    assert np.all(np.diff(nodes) > 0) and src.max() < nodes.size and dst.max() < nodes.size


def _edges(folder):
    from townsquare.metrics.snapshot import RunSnapshot

    snap = RunSnapshot.load(folder)
    return snap.follow_src, snap.follow_dst


def test_numbers_are_shown_whole_or_to_four_places():
    assert fmt(12345) == "12,345" and fmt(0.123456) == "0.1235" and fmt(None) == "n/a"
    assert fmt(float("nan")) == "n/a"


def test_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        one_line_error(invoke("dashboard", "--port", port, "--runs", tmp_path / "r"),
                       f"--port {port}: cannot serve on 127.0.0.1:{port}")  # fmt: skip


def test_a_port_this_user_may_not_bind_is_one_line_that_says_so(tmp_path, monkeypatch):
    def refused(self, address):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refused)
    with pytest.raises(UserError) as err:
        Server(build_app(None, tmp_path / "runs"), 80)
    text = str(err.value)
    assert "\n" not in text and text.startswith("--port 80: cannot serve on 127.0.0.1:80")
    assert "may not" in text and "another program" not in text and "above 1023" in text


@pytest.mark.parametrize("scenario", ["default", "election"])
def test_the_controls_hold_the_chosen_scenarios_own_values(tmp_path, scenario):
    """Start with nothing edited makes the scenario's own run: an election's steps reach
    its last day, where the page's fixed 60 steps were refused."""
    own = load_scenario(scenario)
    values = scenario_values(scenario)
    assert [key for key, _ in CONTROLS] == list(values)
    assert (values["users"], values["steps"], values["opinion.epsilon"]) == (
        own.users, own.steps, own.opinion.epsilon)  # fmt: skip
    started = load_scenario(scenario, [f"{k}={v}" for k, v in values.items()])
    assert started.model_dump() == own.model_dump()
    if scenario == "election":
        with pytest.raises(UserError, match="past the last step"):
            load_scenario(scenario, ["steps=60"])
    # the page opens at the default's values, and choosing a scenario sets all six
    app = build_app(None, tmp_path / "runs")
    assert app.layout["ctl-steps"].value == load_scenario("default").steps
    (wiring,) = [c for c in app.callback_map.values()
                 if c["inputs"] == [{"id": "ctl-scenario", "property": "value"}]]  # fmt: skip
    assert [o.component_id for o in wiring["output"]] == [
        f"ctl-{name}" for name in ("users", "steps", "seed", "ranking", "epsilon", "bots")
    ]


def test_a_folder_that_is_neither_run_nor_sweep_is_one_line(tmp_path):
    (tmp_path / "stuff").mkdir()
    one_line_error(invoke("dashboard", tmp_path / "stuff"), "neither a run directory")
    one_line_error(invoke("dashboard", tmp_path / "missing"), "missing: not found")


def test_the_server_listens_on_loopback_only(tmp_path):
    server = Server(build_app(None, tmp_path / "runs"), 0).start()
    try:
        host, port = server._server.server_address[:2]
        assert host == "127.0.0.1"
        import urllib.request

        with urllib.request.urlopen(server.url, timeout=10) as page:
            assert b"townsquare" in page.read()
    finally:
        server.stop()


def test_a_sweep_page_opened_while_it_ran_shows_its_table_when_it_is_written(tmp_path):
    """The sweep panel of a page opened before sweep.parquet existed: a note, choosers
    hidden; once the table is written the next tick fills them (`sweep_controls`)."""
    import json

    from townsquare.dashboard.app import sweep_controls
    from townsquare.experiments.sweep import write_table

    folder = tmp_path / "sweep"
    folder.mkdir()
    runs = [{"name": f"r000{i}-s1", "values": {"opinion.epsilon": v}, "seed": 1}
            for i, v in enumerate(("0.2", "0.4"))]  # fmt: skip
    plan = {"scenario": "default", "grid": {"opinion.epsilon": ["0.2", "0.4"]}, "runs": runs}
    (folder / "sweep.json").write_text(json.dumps(plan))
    app = build_app(folder, tmp_path / "runs")
    assert "has not finished" in app.layout["sweep-note"].children
    assert app.layout["sweep-choose"].style == {"display": "none"}
    sweep = {"plan": plan, "rows": []}
    assert sweep_controls(folder, sweep, False) is None  # no table: the next tick tries again
    rows = [{"run": r["name"], "opinion.epsilon": float(r["values"]["opinion.epsilon"]),
             "seed": 1, "posts": 10 + i, "metric_posting_top10_share": 0.5 + i / 10}
            for i, r in enumerate(runs)]  # fmt: skip
    write_table(folder / "sweep.parquet", rows)
    metrics, metric, keys, key, choosers, figure, note = sweep_controls(folder, sweep, False)
    assert metrics == ["metric_posting_top10_share", "posts"] and metric == metrics[0]
    assert (keys, key, note) == (["opinion.epsilon"], "opinion.epsilon", "")
    assert choosers["display"] == "flex" and figure == {}
    assert sweep["rows"] == rows
    assert sweep_controls(folder, sweep, True) is None  # a page showing it is left alone
    shown = build_app(folder, tmp_path / "runs")  # a server started after: shown at once
    assert shown.layout["sweep-note"].children == ""
    assert shown.layout["sweep-metric"].value == "metric_posting_top10_share"
    # a page loaded later starts from the server's first layout: it is filled too, from
    # the table already read
    (folder / "sweep.parquet").unlink()
    assert sweep_controls(folder, sweep, False)[0] == metrics


def test_a_view_follows_a_run_another_process_is_writing(tmp_path):
    """The page's main case: `townsquare run` in another process, the view read while it
    writes, as the page reads it. Each reading is at a flush, steps only go forward, and
    the last reading is what the run wrote."""
    import subprocess
    import sys

    import pyarrow.parquet as pq

    out = tmp_path / "run"
    sets = ["users=3000", "steps=60", "seed=5", "record.flush_every=3"]
    writer = subprocess.Popen(
        [sys.executable, "-m", "townsquare", "run", "default", "--out", str(out), "-q",
         "--no-plot", "--no-report", *(a for s in sets for a in ("--set", s))],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen = []
    while writer.poll() is None:
        try:
            view = read_run(out, with_world=False)  # the world's reading: test above
        except (UserError, OSError, ValueError):  # as the page: not started yet, or a
            time.sleep(0.02)  # checkpoint removed between two reads; the next tick reads
            continue
        seen.append(view.step)
        assert view.step % 3 == 0 and view.total("posts") >= 0
        time.sleep(0.02)
    assert writer.returncode == 0, writer.stderr.read()
    assert seen == sorted(seen) and any(0 < s < 60 for s in seen), seen
    view = read_run(out)
    rows = pq.read_table(out / "metrics.parquet").to_pylist()
    assert view.complete and view.step == 60
    assert view.total("posts") == sum(r["posts"] for r in rows)
