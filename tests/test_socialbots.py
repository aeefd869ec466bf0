"""The scripted socialbot's activity settings: ratios to the default citizen, each with
its source (docs/world.md, "Socialbot activity"), the same in the shipped scenarios, and
their bounds enforced as one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli_checks import one_line_error
from townsquare.build import build_world, citizen_visits
from townsquare.cli import app
from townsquare.config import (
    ActivityConfig,
    CitizenConfig,
    SocialbotConfig,
    load_scenario,
    validate,
)
from townsquare.world.population import Role, heavy_tailed_activity
from townsquare.world.posts import PostKind

runner = CliRunner()

#: Pew Research Center, "Bots in the Twittersphere" (2018): the 500 most active suspected
#: bots posted 22% of the tweeted links, the 500 most active humans 6%
K = 22 / 6

ACTIVITY_KEYS = ("activity", "post_prob", "repost_rate", "like_rate", "follows_per_step")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_the_defaults_follow_from_the_citizen_and_the_sources():
    bot, citizen, mean = SocialbotConfig(), CitizenConfig(), ActivityConfig().mean
    # a bot posts at every session, so activity is its posting rate: k times the citizen's
    assert bot.post_prob == 1.0
    assert bot.activity * bot.post_prob == pytest.approx(K * mean * citizen.post_prob)
    # reposts a day: k times the citizen's; likes a day: the citizen's (2 significant digits)
    assert bot.activity * bot.repost_rate == pytest.approx(K * mean * citizen.repost_rate, rel=0.02)
    assert bot.activity * bot.like_rate == pytest.approx(mean * citizen.like_rate, rel=0.02)
    # the least follow spam the rule can do without being turned off
    assert bot.follows_per_step == 1


def test_the_shipped_scenarios_carry_the_defaults():
    bots = load_scenario("influencer_env").roles.socialbot
    for key in ACTIVITY_KEYS:
        assert getattr(bots, key) == getattr(SocialbotConfig(), key), key


@pytest.mark.parametrize("name", ["default", "learned"])
def test_with_visits_reposts_and_likes_follow_the_citizens_reading(name):
    """Citizens who read on daily_share's visits like and repost on those days: a bot's
    reposts a day stay k times theirs and its likes as close to theirs as a session
    allows (docs/world.md, "With visits")."""
    sc = load_scenario(name)
    bot, citizen, act = sc.roles.socialbot, sc.roles.citizen, sc.population.activity
    assert act.daily_share == 0.46
    activity = heavy_tailed_activity(np.random.default_rng(0), 100_000, act.mean, act.sigma)
    visits = citizen_visits(activity, np.ones(activity.size, bool), act.daily_share).mean()
    assert visits == pytest.approx(0.63, abs=0.01)
    for key in ("activity", "post_prob", "follows_per_step"):  # per post or per session
        assert getattr(bot, key) == getattr(SocialbotConfig(), key), key
    daily_reposts = K * visits * citizen.repost_rate
    assert bot.activity * bot.repost_rate == pytest.approx(daily_reposts, rel=0.03)
    assert visits * citizen.like_rate / bot.activity > 1.0 and bot.like_rate == 1.0


def test_bots_post_k_times_as_often_as_the_mean_citizen():
    """What the derivation promises, in a running world: posts a step per account."""
    sc = validate(
        {
            "users": 4000,
            "seed": 5,
            "roles": {"influencer": {"count": 0}, "candidate": {"count": 0}},
        }
    )
    world, _ = build_world(sc)
    role = world.population.role
    bots, citizens = role == Role.SOCIALBOT, role == Role.CITIZEN
    posts = np.zeros(world.n)
    steps = 60
    for _ in range(steps):
        ev = world.step()
        np.add.at(posts, ev.post_author[ev.post_kind == PostKind.POST], 1)
    bot_rate = posts[bots].sum() / bots.sum() / steps
    citizen_rate = posts[citizens].sum() / citizens.sum() / steps
    assert bot_rate == pytest.approx(SocialbotConfig().activity, rel=0.1)
    assert bot_rate / citizen_rate == pytest.approx(K, rel=0.2)


# ------------------------------------------------------------ bounds, one line each
def run(scenario: Path, *settings: str):
    args = ["run", str(scenario), "-q", "--no-plot", "--no-report", "--steps", "2"]
    for setting in settings:
        args += ["--set", setting]
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        # Twitter's daily follow limit since April 2019, a step being a day
        ("follows_per_step=401", "less than or equal to 400"),
        ("follows_per_step=1000", "less than or equal to 400"),
        ("follows_per_step=-1", "greater than or equal to 0"),
        ("follows_per_step=1.5", "valid integer"),
        ("activity=1.01", "less than or equal to 1"),
        ("activity=-0.1", "greater than or equal to 0"),
        ("post_prob=1.5", "less than or equal to 1"),
        ("repost_rate=-0.01", "greater than or equal to 0"),
        ("like_rate=2", "less than or equal to 1"),
        ("like_rate=.nan", "finite number"),
        ("repost_rate='0.03'", "valid number"),
    ],
)
def test_bot_activity_bounds_are_one_line_errors(small_scenario, setting, expected):
    key = "roles.socialbot." + setting.split("=")[0]
    one_line_error(run(small_scenario, "roles.socialbot." + setting), key, expected)


def test_the_bounds_themselves_are_allowed(small_scenario):
    result = run(
        small_scenario,
        "roles.socialbot.follows_per_step=400",
        "roles.socialbot.activity=1",
        "roles.socialbot.repost_rate=0",
    )
    assert result.exit_code == 0, result.output
