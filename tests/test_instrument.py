"""The realism instrument on runs: step-0 values, emerged / configured / missed, the
course of the window facts over a run, and the CLI's scorecard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_checks import invoke
from townsquare.config import validate
from townsquare.metrics.instrument import echo_chamber_facts, posted_leanings
from townsquare.metrics.realism import (
    BANDS,
    WINDOW_METRICS,
    course,
    measure_run,
    measure_start,
    posted_echo_chambers,
    scorecard,
)
from townsquare.metrics.snapshot import RunSnapshot
from townsquare.runner import Run
from townsquare.world.population import Role
from townsquare.world.posts import PostKind

SMALL = {
    "name": "instrument",
    "users": 1500,
    "steps": 20,
    "seed": 2,
    "record": {"events": "none"},
    "text": {"backend": "none"},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("instrument") / "run"
    Run.start(validate(SMALL), out).execute()
    return out


def inside_all(value_of=lambda band: (band.low + band.high) / 2):
    return {band.metric: value_of(band) for band in BANDS}


def test_a_fact_in_its_bands_from_the_start_is_configured_not_emerged():
    end = inside_all()
    start = {k: float("nan") for k in end}
    start["follower_tail_alpha"] = end["follower_tail_alpha"]  # the generator's tail
    start["final_bimodality"] = 0.3  # moved into the band
    card = scorecard(end, start=start)
    assert card.status["F2"] == "configured"
    assert card.status["F9"] == "emerged"
    assert card.status["F7"] == "configured"  # reads roles.socialbot.fraction back
    assert card.status["F8"] is None
    # only emerged facts count as reproduced; configured ones are still inside
    assert card.reproduced == 6 and card.inside == 8 and card.measured == 8
    row = next(r for r in card.rows if r.metric == "bot_account_share")
    assert row.configured_by == "roles.socialbot.fraction"


def test_a_fact_with_one_metric_outside_is_missed_and_one_moved_in_emerged():
    end = inside_all()
    end["leaning_assortativity"] = 0.1
    start = dict(end)
    start["neighbour_leaning_correlation"] = 0.1  # F5 started outside, one metric still is
    start["camp_modularity"] = float("nan")  # not measurable at step 0: F6 emerged
    start["repost_degree_gini"] = 0.1
    card = scorecard(end, start=start)
    assert card.status["F5"] == "missed"
    assert card.status["F6"] == "emerged"
    assert card.status["F3"] == "emerged"  # one metric was outside at step 0
    assert card.status["F1"] == "configured"  # all inside at step 0


def test_without_a_start_inside_counts_as_emerged_unless_configured():
    card = scorecard(inside_all())
    assert card.status["F2"] == "emerged" and card.status["F7"] == "configured"
    assert all(r.start is None for r in card.rows)


def test_a_run_keeps_its_start_and_measures_it(run_dir):
    start = measure_start(run_dir)
    end = measure_run(run_dir)
    assert start is not None and set(start) == set(end) - {"bimodality_start"}
    # nothing was posted at step 0; the follower graph and opinions were there
    assert np.isnan(start["posting_top10_share"]) and np.isnan(start["never_reposted_share"])
    assert np.isfinite(start["follower_tail_alpha"])
    assert start["bot_account_share"] == end["bot_account_share"]
    assert end["posting_top10_share"] > 0


def test_the_course_of_the_window_facts_ends_at_the_whole_run(run_dir):
    snap = RunSnapshot.load(run_dir)
    series = course(snap, points=4)
    assert series["step"] == [5.0, 10.0, 15.0, 20.0]
    end = measure_run(run_dir)
    for name in WINDOW_METRICS:
        assert len(series[name]) == 4
        last = series[name][-1]
        assert last == pytest.approx(end[name], nan_ok=True)


def test_the_cli_scorecard_shows_step_0_and_statuses(run_dir):
    result = invoke("realism", str(run_dir), "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)  # a note about missing real data goes to stderr
    statuses = {f["status"] for f in card["facts"].values()} - {None}
    assert statuses <= {"emerged", "configured", "missed"}
    assert card["facts"]["F7"]["status"] in ("configured", "missed")
    rows = {r["metric"]: r for r in card["rows"]}
    assert rows["follower_tail_alpha"]["start"] is not None
    assert rows["posting_top10_share"]["start"] is None
    text = invoke("realism", str(run_dir))
    assert text.exit_code == 0 and "step 0" in text.output and "emerged" in text.output


def test_echo_chambers_are_read_among_accounts_that_hold_opinions():
    from townsquare.metrics.instrument import echo_chamber_facts

    # two homophilous camps of four joined by one link, and a bot (node 8) following all
    src = np.array([0, 1, 2, 4, 5, 6, 0, 4, 3] + [8] * 8)
    dst = np.array([1, 2, 3, 5, 6, 7, 2, 6, 4] + list(range(8)))
    leaning = np.array([-0.9, -0.8, -0.7, -0.6, 0.6, 0.7, 0.8, 0.9, 0.9])
    everyone = echo_chamber_facts(src, dst, 9, leaning)
    holders = np.arange(9) != 8
    humans = echo_chamber_facts(src, dst, 9, leaning, holders)
    assert humans["leaning_assortativity"] > 0.8 > 0.4 > everyone["leaning_assortativity"]
    assert humans["neighbour_leaning_correlation"] > 0.95


def test_compare_says_which_side_is_closer_to_the_band_beyond_noise():
    from townsquare.metrics.compare import _welch_beyond, band_distance

    assert band_distance(0.5, 0.4, 0.49) == pytest.approx(0.01)
    assert band_distance(0.45, 0.4, 0.49) == 0.0
    assert band_distance(0.1, 0.4, 0.49) == pytest.approx(0.3)
    assert np.isnan(band_distance(float("nan"), 0.4, 0.49))
    far, near = np.array([0.30, 0.31, 0.29]), np.array([0.05, 0.06, 0.04])
    assert _welch_beyond(far, near) is True
    assert _welch_beyond(far, far + 0.001) is False
    assert _welch_beyond(far[:1], near) is None


def test_posted_leanings_are_the_mean_stance_of_what_a_user_shared():
    author = np.array([0, 0, 1, 2, 1])
    stance = np.array([0.5, 1.0, -0.4, 0.9, 0.8])
    shared = np.array([True, True, True, False, False])
    leaning, count = posted_leanings(author, stance, shared, 4)
    assert leaning.tolist() == pytest.approx([0.75, -0.4, 0.0, 0.0])
    assert count.tolist() == [2, 1, 0, 0]


def _two_camps(opinion_of_8: float) -> RunSnapshot:
    """Users 0-3 post on the + side, 4-7 on the - side, mostly following their own camp;
    8 follows everyone and never posts, 9 is a bot that posts; a reply and a post on
    topic 1 carry the wrong side and must not count."""
    role = np.array([Role.CITIZEN] * 9 + [Role.SOCIALBOT])
    src = [0, 1, 2, 3, 4, 5, 6, 7, 0, 4] + [8] * 8 + [9] * 8
    dst = [1, 2, 3, 0, 5, 6, 7, 4, 5, 1] + list(range(8)) + list(range(8))
    author = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9, 0, 4, 2])
    kind = np.array([PostKind.POST] * 9 + [PostKind.REPLY, PostKind.REPOST, PostKind.POST])
    stance = np.array([0.9, 0.6, 0.7, 0.8, -0.9, -0.6, -0.7, -0.8, 0.9, -1.0, -0.5, -1.0])
    topic = np.array([0] * 11 + [1])
    opinion = np.zeros((10, 2))
    opinion[8, 0] = opinion_of_8
    return RunSnapshot(
        role, opinion, np.zeros(10, bool), np.array(src), np.array(dst), author, kind,
        np.full(12, -1), {}, None, stance, topic,
    )  # fmt: skip


def test_the_posted_echo_chamber_counts_only_users_whose_posts_show_a_leaning():
    facts = posted_echo_chambers(_two_camps(0.0))
    assert facts["posted_leaning_users"] == 8  # not 8 (silent), not 9 (a bot)
    # what it would be on the eight posters alone, with the leanings of their posts
    lean = np.array([0.9, 0.6, 0.7, 0.8, -0.7, -0.6, -0.7, -0.8])  # 4 also reposted -0.5
    src = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 4])
    dst = np.array([1, 2, 3, 0, 5, 6, 7, 4, 5, 1])
    alone = echo_chamber_facts(src, dst, 8, lean)
    assert facts["posted_leaning_correlation"] == pytest.approx(
        alone["neighbour_leaning_correlation"]
    )
    assert facts["posted_leaning_assortativity"] == pytest.approx(alone["leaning_assortativity"])
    assert facts["posted_leaning_correlation"] > 0.5
    # the silent user's private opinion does not enter it
    assert posted_echo_chambers(_two_camps(-1.0)) == facts
