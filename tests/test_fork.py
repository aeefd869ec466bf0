"""World.fork: an independent copy that steps exactly like the original (issue 11)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SMALL
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.policies.q_table import QTable
from townsquare.roles import InfluencerRole

EVENT_COLUMNS = (
    "post_id",
    "post_author",
    "post_kind",
    "post_parent",
    "post_stance",
    "post_topic",
    "like_user",
    "like_post",
    "follow_src",
    "follow_dst",
    "follow_action",
    "suspended",
)


def world_for(seed: int, **changes):
    data = copy.deepcopy(SMALL)
    data["seed"] = seed
    for key, value in changes.items():
        node = data
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return build_world(validate(json.loads(json.dumps(data))))[0]


def same_events(a, b) -> None:
    assert a.step == b.step
    for name in EVENT_COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
    timeless = {k: v for k, v in a.metrics.items() if "seconds" not in k}
    assert timeless == {k: v for k, v in b.metrics.items() if "seconds" not in k}


def q_table(tmp_path) -> str:
    table = QTable.empty(InfluencerRole())
    table.q[:] = np.random.default_rng(0).random(table.q.shape)
    return str(table.save(tmp_path / "q.npz"))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    before=st.integers(0, 6),
    after=st.integers(1, 6),
    social_rl=st.booleans(),
)
def test_a_fork_steps_exactly_like_the_original(seed, before, after, social_rl):
    world = world_for(seed, **({"roles.citizen.expression": "social_rl"} if social_rl else {}))
    for _ in range(before):
        world.step()
    fork = world.fork()
    for _ in range(after):
        same_events(world.step(), fork.step())
    arrays_a, meta_a = world.state()
    arrays_b, meta_b = fork.state()
    assert sorted(arrays_a) == sorted(arrays_b)
    for name in arrays_a:
        assert arrays_a[name].tobytes() == arrays_b[name].tobytes(), name
    assert json.loads(meta_a)["rngs"] == json.loads(meta_b)["rngs"]


@pytest.mark.parametrize("learning", ["frozen", "online"])
def test_a_fork_with_a_learned_policy(tmp_path, learning):
    world = world_for(
        5, **{"roles.influencer.policy": q_table(tmp_path), "roles.influencer.learning": learning}
    )
    for _ in range(3):
        world.step()
    fork = world.fork()
    for _ in range(4):
        same_events(world.step(), fork.step())


def test_the_original_never_sees_the_forks_steps(tmp_path):
    world = world_for(
        2, **{"roles.influencer.policy": q_table(tmp_path), "roles.influencer.learning": "online"}
    )
    world.step()
    twin = world.fork()
    before, _ = world.state()
    fork = world.fork()
    for _ in range(5):
        fork.step()
    after, _ = world.state()
    for name in before:
        assert before[name].tobytes() == after[name].tobytes(), name
    assert world.t == 1 and fork.t == 6
    # the original still steps as its untouched twin does
    for _ in range(3):
        same_events(world.step(), twin.step())


def test_a_world_cannot_be_forked_mid_step():
    world = world_for(1)
    world.begin_step()
    with pytest.raises(RuntimeError, match="middle of a step"):
        world.fork()
