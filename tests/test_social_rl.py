"""Citizens who learn which side to express from the platform's feedback (ARLOD on the platform)."""

from __future__ import annotations

import numpy as np
import pytest

from cli_checks import crash_during
from townsquare.build import build_world
from townsquare.config import CitizenConfig, validate
from townsquare.errors import UserError
from townsquare.policies.social_rl import SocialRLCitizen
from townsquare.runner import Run
from townsquare.world import Role
from townsquare.world.actions import Feedback


def test_learn_updates_the_expressed_side_only():
    params = CitizenConfig(expression="social_rl", rl_alpha=0.5)
    policy = SocialRLCitizen.from_opinions(params, np.array([0.4, -0.4, 0.2]), np.arange(3))
    before = policy.q.copy()
    policy.learn_from(
        Feedback(
            author=np.array([0, 1, 2]),
            stance=np.array([0.7, 0.3, 0.0]),
            net=np.array([5.0, -2.0, 1.0]),
        )
    )
    assert policy.q[0, 1] == pytest.approx(0.5 * before[0, 1] + 0.5 * 1.0)  # clipped to +1
    assert policy.q[1, 1] == pytest.approx(0.5 * before[1, 1] - 0.5)  # expressed +: Q(+1)
    assert policy.q[0, 0] == before[0, 0] and policy.q[1, 0] == before[1, 0]
    assert np.array_equal(policy.q[2], before[2])  # a stance of 0 expresses no side


def social_world(**extra):
    data = {
        "users": 1500,
        "seed": 4,
        "population": {"activity": {"mean": 0.4}},
        "roles": {"citizen": {"expression": "social_rl", "rl_eps": 0.0, **extra}},
    }
    world, _ = build_world(validate(data))
    return world


def test_citizens_express_the_side_they_value_most():
    world = social_world()
    policy = world.policies[Role.CITIZEN]
    citizens = world.population.role == Role.CITIZEN
    policy.q[citizens] = [1.0, -1.0]  # everyone prefers -1, whatever their opinion
    world.step()
    posts = world.posts
    mine = citizens[posts.author] & (posts.kind == 0) & (posts.topic == 0)
    assert mine.sum() > 50
    assert np.all(posts.stance[mine] <= 0)


def test_feedback_moves_q_values_and_is_reported():
    world = social_world()
    policy = world.policies[Role.CITIZEN]
    start = policy.q.copy()
    for _ in range(6):
        ev = world.step()
    changed = np.any(policy.q != start, axis=1)
    assert changed[world.population.role == Role.CITIZEN].sum() > 100
    assert not changed[world.population.role != Role.CITIZEN].any()
    assert 0.0 <= ev.metrics["rl_plus_share"] <= 1.0


def test_social_rl_runs_resume_exactly(tmp_path, monkeypatch):
    data = {
        "users": 600,
        "steps": 12,
        "seed": 3,
        "record": {"flush_every": 5},
        "roles": {"citizen": {"expression": "social_rl"}},
    }
    reference = tmp_path / "ref"
    Run.start(validate(data), reference).execute()
    out = tmp_path / "broken"
    crash_during(Run.start(validate(data), out), monkeypatch, at=7)
    Run.resume(out).execute()
    assert (out / "metrics.parquet").read_bytes() == (reference / "metrics.parquet").read_bytes()


def test_expression_switch_changes_the_run_and_influencers_stay_scripted():
    scripted, _ = build_world(validate({"users": 800, "seed": 2}))
    learning = social_world()
    assert not hasattr(scripted.policies[Role.CITIZEN], "learn")
    assert hasattr(learning.policies[Role.CITIZEN], "learn")
    with pytest.raises(UserError, match="influencer"):
        from townsquare.config import load_scenario

        load_scenario("default", ["roles.influencer.expression=social_rl"])


def test_the_citizen_role_defines_the_feedback_a_post_receives():
    """`roles.citizen.social_feedback`, checked post by post against the step's events."""
    from townsquare.roles.citizen import social_feedback
    from townsquare.world.actions import StepContext

    world = social_world()
    world.step()
    t = world.t
    events = world.step()
    feedback = social_feedback(StepContext(t, events, world))
    assert feedback is not None and feedback.author.size > 20
    posts = world.posts
    lo, hi = posts.step_start[t - 1], posts.step_start[t]
    written = [
        i
        for i in range(lo, hi)
        if posts.kind[i] == 0
        and posts.topic[i] == 0
        and world.population.role[posts.author[i]] == 0
    ]
    assert feedback.author.tolist() == [int(posts.author[i]) for i in written]
    for row, pid in enumerate(written):
        net = float(posts.likes[pid])
        for kind, parent, stance in zip(
            events.post_kind, events.post_parent, events.post_stance, strict=True
        ):
            if kind == 2 and parent == pid:
                net += 1.0 if np.sign(stance) == np.sign(posts.stance[pid]) else -1.0
        assert feedback.net[row] == net
        assert feedback.stance[row] == posts.stance[pid]
    assert social_feedback(StepContext(0, events, world)) is None
