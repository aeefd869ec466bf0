"""The HTML run report and its figures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from townsquare.config import validate
from townsquare.metrics.realism import BANDS
from townsquare.report import write_report
from townsquare.report.figures import (
    bot_survival_figure,
    cascade_figure,
    echo_chamber_figure,
    follower_ccdf_figure,
    lorenz_figure,
    opinion_figure,
    run_figures,
)
from townsquare.runner import Run

IMG = '<img src="data:image/png;base64,'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    Run.start(validate({"users": 600, "steps": 8, "seed": 2}), out).execute()
    return out


@pytest.fixture
def no_data(tmp_path: Path) -> Path:
    """A data folder without real networks: the scorecard keeps its published bands only."""
    folder = tmp_path / "no-data"
    folder.mkdir()
    return folder


def has_data(fig: Figure) -> bool:
    return any(ax.lines or ax.collections or ax.patches for ax in fig.axes)


def test_report_is_one_self_contained_html_file(run_dir: Path, no_data: Path):
    path = write_report(run_dir, data_dir=no_data)
    assert path == run_dir / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for band in BANDS:
        assert band.metric in text
    assert "posting_top10_share" in text
    assert re.search(r"\d+ of \d+ measured facts emerged", text)
    assert "F8" in text and "not measured" in text
    assert text.count(IMG) >= 5
    # nothing is loaded from anywhere: no external src/href, stylesheets or scripts
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    # summary figures in the header
    assert "600" in text and "seed" in text


def test_report_shows_real_networks_and_writes_to_out(
    run_dir: Path, data_dir: Path, tmp_path: Path
):
    out = tmp_path / "sub" / "report.html"
    assert write_report(run_dir, out=out, data_dir=data_dir) == out
    text = out.read_text(encoding="utf-8")
    assert "polblogs" in text and "gunsense" in text and "facebook" in text
    assert "Adamic &amp; Glance" in text  # a reference network's source in the footer


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_report_on_a_non_run_directory_names_the_path(tmp_path: Path, make):
    path = make(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        write_report(path)
    assert not (tmp_path / "report.html").exists()


def test_report_rejects_a_missing_data_folder(run_dir: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        write_report(run_dir, out=tmp_path / "r.html", data_dir=tmp_path / "nowhere")


def test_run_figures_all_draw_data(run_dir: Path, no_data: Path):
    figs = run_figures(run_dir, no_data)
    assert set(figs) == {"opinions", "followers", "cascades", "posting", "echo"}
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        assert has_data(fig), name


def test_each_figure_function_returns_a_figure_with_data():
    rng = np.random.default_rng(0)
    n = 500
    metrics = {
        "step": [0, 1, 2],
        "opinion_mean": [0.0, 0.1, 0.2],
        "opinion_std": [0.5, 0.5, 0.4],
        "bimodality": [0.55, 0.6, 0.7],
    }
    opinion = rng.uniform(-1, 1, (n, 2))
    role = rng.integers(0, 4, n)
    followers = rng.zipf(2.2, n)
    src = rng.integers(0, n, 3000)
    dst = rng.integers(0, n, 3000)
    figs = [
        opinion_figure(metrics, opinion, role),
        opinion_figure({}),  # no per-step metrics, no checkpoint
        follower_ccdf_figure(followers, {"real": rng.zipf(2.5, 300)}),
        follower_ccdf_figure(followers, fit=(2.2, 3.0)),
        cascade_figure(rng.zipf(3.0, 2000)),
        lorenz_figure(rng.poisson(2.0, n)),
        lorenz_figure(np.zeros(n)),  # nobody posted
        echo_chamber_figure(opinion[:, 0], src, dst, role=role),
        echo_chamber_figure(opinion[:, 0], src, dst),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        assert has_data(fig)


def test_echo_chamber_scatter_is_subsampled_but_keeps_rare_roles():
    rng = np.random.default_rng(1)
    n = 3000
    role = np.zeros(n, np.int8)
    role[:3] = 1  # influencers
    src = np.arange(n)
    dst = rng.integers(0, n, n)
    fig = echo_chamber_figure(rng.uniform(-1, 1, n), src, dst, role=role, max_points=500)
    counts = {c.get_label().split(" (")[0]: len(c.get_offsets()) for c in fig.axes[0].collections}
    assert sum(counts.values()) == 500
    assert counts["influencers"] == 3


def test_bot_survival_figure_draws_the_curve_or_says_it_is_missing(run_dir: Path, no_data: Path):
    metrics = {"step": [0, 1, 2, 3], "bots_active_share": [1.0, 1.0, 0.98, 0.96]}
    fig = bot_survival_figure(metrics, published=(0.8, 730.0))
    (ax,) = fig.axes
    curve, published = ax.lines
    assert curve.get_ydata().tolist() == [1.0, 1.0, 0.98, 0.96]
    assert published.get_ydata()[0] == 1.0 and published.get_ydata()[-1] < 1.0
    assert "96.0%" in ax.get_title()
    assert len(bot_survival_figure(metrics).axes[0].lines) == 1  # no published rate given
    # a run recorded before the column existed, or one without bots
    for old in (
        {"step": [0, 1], "posts": [3, 4]},
        {},
        {"step": [0], "bots_active_share": [np.nan]},
    ):
        (ax,) = bot_survival_figure(old, published=(0.8, 730.0)).axes
        assert not ax.lines
        assert any("not available" in t.get_text() for t in ax.texts)
    # the report shows it
    text = write_report(run_dir, data_dir=no_data).read_text(encoding="utf-8")
    assert "Bots that live on" in text
    assert text.count(IMG) >= 6


def test_a_report_of_a_run_without_the_survival_column(tmp_path: Path, no_data: Path):
    import pyarrow.parquet as pq

    out = tmp_path / "old"
    Run.start(validate({"users": 400, "steps": 3, "seed": 1}), out).execute()
    table = pq.read_table(out / "metrics.parquet")
    pq.write_table(table.drop(["bots_active_share"]), out / "metrics.parquet")
    text = write_report(out, data_dir=no_data).read_text(encoding="utf-8")
    assert "Bots that live on" in text


def test_the_report_shows_step_0_statuses_and_the_course_of_window_facts(tmp_path):
    from townsquare.config import validate
    from townsquare.report.html import write_report
    from townsquare.runner import Run

    sc = {"name": "course", "users": 800, "steps": 12, "seed": 1, "text": {"backend": "none"}}
    Run.start(validate(sc), tmp_path / "run").execute()
    text = write_report(tmp_path / "run").read_text()
    assert "<th>step 0</th><th>end</th>" in text
    assert "Window facts over the run" in text
    assert "set by roles.socialbot.fraction" in text or ">missed<" in text
    assert re.search(r">(emerged|configured|missed)<", text)
