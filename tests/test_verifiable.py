"""Rewards the simulator verifies (learn/verifiable.py)."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.learn.verifiable import panel_engagement_reward, panel_vote_reward
from townsquare.world.population import Role


@pytest.fixture(scope="module")
def race():
    world, _ = build_world(load_scenario("candidate_env", ["users=2000"]))
    for _ in range(3):
        world.step()
    return world


def test_a_message_toward_the_voters_near_the_candidate_wins_intention(race):
    left, right = (int(c) for c in race.election.candidates)
    positions = race.election.positions(race.population)
    me = left if positions[0] < positions[1] else right
    side = -1.0 if me == left else 1.0
    # voters read only posts within epsilon (0.4) of their opinion: a message on one's
    # own side pulls its readers toward the candidate; one from the rival's far end
    # reaches only the rival's voters, who stay the rival's; one just over the centre on
    # the rival's side pulls centrists away
    own = np.mean([panel_vote_reward(race, me, 0.5 * side, 500, seed=s) for s in range(5)])
    far = np.mean([panel_vote_reward(race, me, -0.9 * side, 500, seed=s) for s in range(5)])
    rival = np.mean([panel_vote_reward(race, me, -0.2 * side, 500, seed=s) for s in range(5)])
    assert own > 0 and far == pytest.approx(0.0, abs=1e-3) and rival < 0


def test_the_world_is_left_exactly_as_it_was(race):
    before, meta = race.state()
    before = {k: v.copy() for k, v in before.items()}
    panel_vote_reward(race, int(race.election.candidates[0]), 0.2, 300, horizon=2, seed=1)
    after, meta_after = race.state()
    assert meta == meta_after
    for name in before:
        nan_ok = before[name].dtype.kind == "f"
        assert np.array_equal(before[name], after[name], equal_nan=nan_ok), name


def test_the_reward_is_deterministic_by_seed(race):
    c = int(race.election.candidates[0])
    assert panel_vote_reward(race, c, 0.3, seed=4) == panel_vote_reward(race, c, 0.3, seed=4)


def test_bad_arguments_are_clear(race):
    c = int(race.election.candidates[0])
    citizen = int(race.population.ids_of(Role.CITIZEN)[0])
    with pytest.raises(ValueError, match="not a candidate"):
        panel_vote_reward(race, citizen, 0.1)
    with pytest.raises(ValueError, match="at least one citizen"):
        panel_vote_reward(race, c, 0.1, panel_size=0)
    with pytest.raises(ValueError, match="not in"):
        panel_vote_reward(race, c, 1.5)
    world, _ = build_world(load_scenario("default", ["users=300"]))
    with pytest.raises(ValueError, match="no election"):
        panel_vote_reward(world, c, 0.1)


@pytest.fixture(scope="module")
def audience():
    world, _ = build_world(load_scenario("influencer_env", ["users=2000"]))
    for _ in range(3):
        world.step()
    return world, int(world.population.ids_of(Role.INFLUENCER)[0])


def test_a_message_the_panel_agrees_with_earns_likes_and_follows(audience):
    world, me = audience

    # the panel's opinions spread over both sides: a citizen likes and follows within a
    # stance gap of it, so a moderate message reaches more of the panel than an extreme
    def earned(stance):
        return np.mean([panel_engagement_reward(world, me, stance, 500, seed=s) for s in range(5)])

    moderate, extreme = earned(0.0), max(earned(-1.0), earned(1.0))
    assert moderate > 1.3 * extreme > 0
    # the citizens' own policy decides: one that never likes nor follows earns nothing
    quiet = world.fork()
    citizens = quiet.policies[Role.CITIZEN]
    citizens.params = citizens.params.model_copy(update={"like_rate": 0.0, "follow_rate": 0.0})
    assert panel_engagement_reward(quiet, me, 0.0, 500, seed=0) == 0.0


def test_the_engagement_reward_leaves_the_world_as_it_was(audience):
    world, me = audience
    before, meta = world.state()
    before = {k: v.copy() for k, v in before.items()}
    first = panel_engagement_reward(world, me, 0.1, 300, horizon=2, seed=3)
    assert first == panel_engagement_reward(world, me, 0.1, 300, horizon=2, seed=3)
    after, meta_after = world.state()
    assert meta == meta_after
    for name in before:
        nan_ok = before[name].dtype.kind == "f"
        assert np.array_equal(before[name], after[name], equal_nan=nan_ok), name


def test_bad_engagement_arguments_are_clear(audience):
    world, me = audience
    with pytest.raises(ValueError, match="not on the platform"):
        panel_engagement_reward(world, world.n, 0.1)
    with pytest.raises(ValueError, match="at least one citizen"):
        panel_engagement_reward(world, me, 0.1, panel_size=0)
    with pytest.raises(ValueError, match="not in"):
        panel_engagement_reward(world, me, float("nan"))
