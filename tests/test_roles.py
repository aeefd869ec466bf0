"""The influencer role on synthetic observations: observation vectors, the platform
actions each action id becomes, the memory it keeps, its discretisation, and merge_rows."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townsquare.roles import (
    SPEC_VERSION,
    InfluencerRole,
    RewardContext,
    RoleMemory,
    make_role,
    merge_rows,
)
from townsquare.roles.influencer import ACTIVITIES, FULL_SHAPE, SIDE_SIGN, TONE_STRENGTH
from townsquare.world.actions import Actions, Observations
from townsquare.world.population import Role

N_USERS = 40
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STANCES = st.one_of(
    st.floats(-1.0, 1.0, allow_nan=False),
    st.sampled_from([-1.0, -0.8, -0.6, -0.3, 0.0, 0.3, 0.6, 0.8, 1.0]),
)


@st.composite
def observations(draw, max_rows: int = 6, max_k: int = 5) -> Observations:
    """A batch of influencer observations: feeds ranked best first, padded with -1; an
    item's author may be the reader itself or someone it already follows."""
    n = draw(st.integers(1, max_rows))
    k = draw(st.integers(1, max_k))
    users = np.array(
        draw(st.lists(st.integers(0, N_USERS - 1), min_size=n, max_size=n, unique=True))
    )
    feed = np.full((n, k), -1, np.int64)
    author = np.full((n, k), -1, np.int64)
    stance = np.zeros((n, k))
    followed = np.zeros((n, k), bool)
    likes = np.zeros((n, k), np.int64)
    next_id = 0
    for i in range(n):
        count = draw(st.integers(0, k))
        for j in range(count):
            feed[i, j] = next_id
            next_id += 1
            who = draw(st.one_of(st.integers(0, N_USERS - 1), st.just(int(users[i]))))
            author[i, j] = who
            stance[i, j] = draw(STANCES)
            followed[i, j] = who != users[i] and draw(st.booleans())
            likes[i, j] = draw(st.integers(0, 5))
    followers = np.array(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n)), np.int64)
    return Observations(
        step=3,
        role=Role.INFLUENCER,
        users=users.astype(np.int64),
        opinion=np.zeros((n, 1)),
        followers=followers,
        followees=np.zeros(n, np.int64),
        feed=feed,
        feed_author=author,
        feed_stance=stance,
        feed_topic=np.zeros((n, k), np.int64),
        feed_likes=likes,
        feed_followed=followed,
        n_users=N_USERS,
        topics=1,
    )


@st.composite
def memories(draw) -> RoleMemory:
    """A memory with arbitrary past stances, follower counts and decided flags."""
    mem = InfluencerRole().new_memory(N_USERS)
    mem.last_stance = np.array(
        draw(st.lists(STANCES, min_size=N_USERS, max_size=N_USERS)), np.float64
    )
    mem.followers_then = np.array(
        draw(st.lists(st.integers(0, 500), min_size=N_USERS, max_size=N_USERS)), np.int64
    )
    mem.decided = np.array(draw(st.lists(st.booleans(), min_size=N_USERS, max_size=N_USERS)))
    return mem


def copy_memory(mem: RoleMemory) -> RoleMemory:
    return mem.copy()


@st.composite
def batch(draw, n_actions: int):
    """(obs, rows, actions, memory): a random subset of rows, one action id each."""
    obs = draw(observations())
    rows = np.array(sorted(draw(st.sets(st.integers(0, len(obs) - 1)))), np.int64)
    actions = np.array(
        draw(st.lists(st.integers(0, n_actions - 1), min_size=rows.size, max_size=rows.size)),
        np.int64,
    )
    return obs, rows, actions, draw(memories())


def check_memory_of_deciders(before, after, obs, rows):
    users = obs.users[rows]
    others = np.setdiff1d(np.arange(N_USERS), users)
    assert np.array_equal(after.followers_then[users], obs.followers[rows])
    assert after.decided[users].all()
    assert np.array_equal(after.followers_then[others], before.followers_then[others])
    assert np.array_equal(after.decided[others], before.decided[others])
    assert np.array_equal(after.last_stance[others], before.last_stance[others])


# ---------------------------------------------------------------- to_actions
@SETTINGS
@given(data=batch(3), self_observation=st.booleans())
def test_limited_actions_always_post_one_side(data, self_observation):
    obs, rows, actions, mem = data
    role = InfluencerRole("limited", self_observation)
    before = copy_memory(mem)
    out = role.to_actions(obs, rows, actions, mem)
    m, k = rows.size, obs.feed.shape[1]
    out.check(m, k, obs.topics)
    assert out.post.all()
    assert set(out.post_stance.tolist()) <= {-0.6, 0.0, 0.6}
    assert np.array_equal(out.post_stance, SIDE_SIGN[actions] * 0.6)
    assert np.array_equal(out.post_topic, np.zeros(m, np.int64))
    assert not (out.like.any() or out.repost.any() or out.reply.any())
    assert np.all(out.follow < 0) and np.all(out.unfollow < 0)
    check_memory_of_deciders(before, mem, obs, rows)
    assert np.array_equal(mem.last_stance[obs.users[rows]], out.post_stance)


@SETTINGS
@given(data=batch(30), self_observation=st.booleans())
def test_full_actions_do_at_most_one_thing_on_the_shown_feed(data, self_observation):
    obs, rows, actions, mem = data
    role = InfluencerRole("full", self_observation)
    before = copy_memory(mem)
    out = role.to_actions(obs, rows, actions, mem)
    m, k = rows.size, obs.feed.shape[1]
    out.check(m, k, obs.topics)
    assert not out.like.any() and np.all(out.unfollow < 0)
    assert out.follow.shape == (m, 1)

    side, activity, tone = np.unravel_index(actions, FULL_SHAPE)
    stance = SIDE_SIGN[side] * TONE_STRENGTH[tone]
    shown = obs.shown[rows]
    users = obs.users[rows]
    author = obs.feed_author[rows]
    fstance = obs.feed_stance[rows]
    followable = shown & ~obs.feed_followed[rows] & (author != users[:, None])
    doing = np.column_stack(
        [out.post, out.reply.any(axis=1), out.repost.any(axis=1), out.follow[:, 0] >= 0]
    )
    assert np.all(doing.sum(axis=1) <= 1)
    assert out.reply.sum(axis=1).max(initial=0) <= 1 and out.repost.sum(axis=1).max(initial=0) <= 1
    assert not (out.reply & ~shown).any() and not (out.repost & ~shown).any()
    assert np.all(out.post_topic == 0)

    for i in range(m):
        act = ACTIVITIES[activity[i]]
        expected = {
            "post": True,
            "reply": bool(shown[i, 0]),
            "repost": bool(shown[i].any()),
            "follow": bool(followable[i].any()),
            "idle": False,
        }[act]
        assert doing[i].any() == expected, (act, i)
        if act == "post":
            assert out.post_stance[i] == stance[i]
        else:
            assert out.post_stance[i] == 0.0
        if act == "reply" and expected:
            assert out.reply[i, 0] and out.reply_stance[i, 0] == stance[i]
        if act == "repost" and expected:
            j = int(np.flatnonzero(out.repost[i])[0])
            gaps = np.abs(fstance[i, shown[i]] - stance[i])
            assert abs(fstance[i, j] - stance[i]) == gaps.min()
        if act == "follow" and expected:
            target = out.follow[i, 0]
            slots = np.flatnonzero(followable[i] & (author[i] == target))
            assert slots.size, "follow target is not the author of a followable item"
            assert target != users[i]
            gaps = np.abs(fstance[i, followable[i]] - stance[i])
            assert np.abs(fstance[i, slots] - stance[i]).min() == gaps.min()
        if act == "idle":
            assert not out.post[i] and not out.reply[i].any() and not out.repost[i].any()
            assert out.follow[i, 0] == -1

    check_memory_of_deciders(before, mem, obs, rows)
    expressed = doing[:, :3].any(axis=1)
    for i in range(m):
        now, then = mem.last_stance[users[i]], before.last_stance[users[i]]
        if not expressed[i]:
            assert now == then
        elif out.post[i]:
            assert now == out.post_stance[i]
        elif out.reply[i].any():
            assert now == out.reply_stance[i, 0]
        else:
            assert now == fstance[i, np.flatnonzero(out.repost[i])[0]]


@pytest.mark.parametrize("action_space", ["limited", "full"])
def test_to_actions_with_no_rows(action_space):
    role = InfluencerRole(action_space)
    o = Observations(
        step=0,
        role=Role.INFLUENCER,
        users=np.array([4], np.int64),
        opinion=np.zeros((1, 1)),
        followers=np.array([9]),
        followees=np.zeros(1, np.int64),
        feed=np.full((1, 3), -1, np.int64),
        feed_author=np.full((1, 3), -1, np.int64),
        feed_stance=np.zeros((1, 3)),
        feed_topic=np.zeros((1, 3), np.int64),
        feed_likes=np.zeros((1, 3), np.int64),
        feed_followed=np.zeros((1, 3), bool),
        n_users=N_USERS,
        topics=1,
    )
    mem = InfluencerRole().new_memory(N_USERS)
    out = role.to_actions(o, np.zeros(0, np.int64), np.zeros(0, np.int64), mem)
    out.check(0, 3, 1)
    assert not mem.decided.any()
    with pytest.raises(ValueError, match="2 actions for 1 influencers"):
        role.to_actions(o, np.array([0]), np.array([0, 1]), mem)
    with pytest.raises(ValueError, match=f"0, {role.n_actions}"):
        role.to_actions(o, np.array([0]), np.array([role.n_actions]), mem)
    with pytest.raises(ValueError, match=f"0, {role.n_actions}"):
        role.to_actions(o, np.array([0]), np.array([-1]), mem)
    assert not mem.decided.any()  # a refused batch leaves the memory alone


# ---------------------------------------------------------------- observe
@SETTINGS
@given(obs=observations(), mem=memories(), self_observation=st.booleans(), subset=st.data())
def test_observe_describes_the_feed_and_the_self(obs, mem, self_observation, subset):
    role = InfluencerRole("limited", self_observation)
    rows = np.array(sorted(subset.draw(st.sets(st.integers(0, len(obs) - 1)))), np.int64)
    before = copy_memory(mem)
    vec = role.observe(obs, rows, mem)
    assert vec.shape == (rows.size, role.obs_size) and vec.dtype == np.float32
    assert np.all(vec >= -1.0) and np.all(vec <= 1.0)
    assert np.array_equal(mem.last_stance, before.last_stance)  # observing changes nothing
    assert np.array_equal(mem.followers_then, before.followers_then)
    k = obs.feed.shape[1]
    for out, i in zip(vec, rows, strict=True):
        shown = obs.shown[i]
        stances = obs.feed_stance[i, shown]
        if stances.size:
            assert out[0] == pytest.approx(stances.mean(), abs=1e-6)
            assert out[1] == pytest.approx(np.clip(2 * stances.std() - 1, -1, 1), abs=1e-5)
        else:
            assert out[0] == 0.0 and out[1] == -1.0
        assert out[2] == pytest.approx(2 * stances.size / k - 1, abs=1e-6)
        if self_observation:
            u = obs.users[i]
            assert out[3] == np.float32(mem.last_stance[u])
            gained = obs.followers[i] - mem.followers_then[u] if mem.decided[u] else 0
            assert out[4] == pytest.approx(np.tanh(gained / 5.0), abs=1e-6)


def test_empty_feed_and_absent_users():
    role = InfluencerRole("full", True)
    mem = InfluencerRole().new_memory(N_USERS)
    mem.last_stance[[1, 2]] = [0.8, -0.3]
    mem.followers_then[[1, 2]] = [10, 10]
    mem.decided[1] = True
    vec = role.observe_absent(np.array([1, 2]), np.array([15, 15]), mem)
    assert vec.dtype == np.float32
    np.testing.assert_allclose(vec[:, :3], [[0, -1, -1], [0, -1, -1]])
    np.testing.assert_allclose(vec[:, 3], [0.8, -0.3], rtol=1e-6)
    np.testing.assert_allclose(vec[:, 4], [np.tanh(1.0), 0.0], rtol=1e-6)
    short = InfluencerRole("full", False)
    assert short.observe_absent(np.array([1]), np.array([3]), mem).tolist() == [[0, -1, -1]]


def test_observe_fill_is_minus_one_for_an_empty_feed():
    role = InfluencerRole("limited", False)
    o = Observations(
        step=0,
        role=Role.INFLUENCER,
        users=np.array([0, 1], np.int64),
        opinion=np.zeros((2, 1)),
        followers=np.array([3, 4]),
        followees=np.zeros(2, np.int64),
        feed=np.array([[-1, -1, -1, -1], [7, 8, -1, -1]]),
        feed_author=np.array([[-1, -1, -1, -1], [5, 6, -1, -1]]),
        feed_stance=np.array([[0.0, 0, 0, 0], [0.5, -0.1, 0, 0]]),
        feed_topic=np.zeros((2, 4), np.int64),
        feed_likes=np.zeros((2, 4), np.int64),
        feed_followed=np.zeros((2, 4), bool),
        n_users=N_USERS,
        topics=1,
    )
    vec = role.observe(o, np.array([0, 1]), InfluencerRole().new_memory(N_USERS))
    np.testing.assert_allclose(vec, [[0.0, -1.0, -1.0], [0.2, -0.4, 0.0]], atol=1e-6)


# ---------------------------------------------------------------- discretise & spaces
@pytest.mark.parametrize(("self_observation", "n_states"), [(True, 54), (False, 6)])
def test_discretise_is_onto_its_states(self_observation, n_states):
    role = InfluencerRole("limited", self_observation)
    assert role.n_states == n_states
    three, two = [-0.5, 0.0, 0.5], [-0.5, 0.5]
    axes = [three, two, [0.0]] + ([three, three] if self_observation else [])
    vectors = np.array(list(itertools.product(*axes)))
    states = role.discretise(vectors)
    assert states.dtype == np.int64
    assert sorted(states.tolist()) == list(range(n_states))  # each state exactly once
    assert role.discretise(vectors[0]).shape == (1,)


@SETTINGS
@given(
    self_observation=st.booleans(),
    rows=st.lists(st.lists(st.floats(-1, 1, allow_nan=False), min_size=5, max_size=5), min_size=1),
)
def test_discretise_stays_in_range(self_observation, rows):
    role = InfluencerRole("full", self_observation)
    vectors = np.array(rows)[:, : role.obs_size]
    states = role.discretise(vectors)
    assert states.shape == (len(rows),)
    assert np.all((states >= 0) & (states < role.n_states))


def test_discretise_bins_at_the_documented_edges():
    role = InfluencerRole("limited", True)
    # feed side at ±0.15, divided above 0; own side at ±0.15, trend at ±0.1
    lo = role.discretise([[-0.16, 0.0, 0, -0.16, -0.11]])[0]
    hi = role.discretise([[0.16, 0.01, 0, 0.16, 0.11]])[0]
    mid = role.discretise([[0.15, 0.0, 0, 0.15, 0.1]])[0]
    assert (lo, hi) == (0, 53)
    assert mid == np.ravel_multi_index([1, 0, 1, 1], [3, 2, 3, 3])
    # one follower gained moves the trend feature off "flat"
    assert role.discretise([[0, 0, 0, 0, np.tanh(1 / 5)]])[0] % 3 == 2


@pytest.mark.parametrize(("action_space", "n"), [("limited", 3), ("full", 30)])
def test_action_names_match_the_action_space(action_space, n):
    role = InfluencerRole(action_space)
    assert len(role.action_names) == role.n_actions == n
    assert role.action_space().n == n
    assert role.observation_space().shape == (5,)
    if action_space == "limited":
        assert role.action_names == ["post con", "post neutral", "post pro"]
        return
    for a, name in enumerate(role.action_names):
        side, activity, tone = np.unravel_index(a, FULL_SHAPE)
        words = name.split()
        assert words[0] == ACTIVITIES[activity]
        assert words[1] == ("con", "neutral", "pro")[side]
        assert words[2] == ("measured", "bold")[tone]
    assert len(set(role.action_names)) == role.n_actions


def test_role_construction_and_description():
    with pytest.raises(ValueError, match="limited, full"):
        InfluencerRole("huge")
    with pytest.raises(ValueError, match="learnable roles: citizen, influencer"):
        make_role("journalist")
    role = make_role("influencer", "full", False)
    assert role.feature_names == ["feed_stance", "feed_spread", "feed_fill"]
    assert role.describe() == {
        "role": "influencer",
        "action_space": "full",
        "self_observation": False,
        "obs_size": 3,
        "n_actions": 30,
        "spec_version": SPEC_VERSION,
    }
    assert role.world_role == Role.INFLUENCER


def test_reward_and_memory_state_round_trip():
    role = InfluencerRole()
    mem = InfluencerRole().new_memory(5)
    mem.followers_paid[:] = [1, 2, 3, 4, 5]
    mem.decided[[1, 3]] = True
    now = SimpleNamespace(graph=SimpleNamespace(in_deg=np.array([9, 4, 0, 1, 0])))
    context = RewardContext(np.array([1, 3]), mem, None, now, 0)
    assert role.reward(context).tolist() == [2.0, -3.0]
    # the reward is paid once: the same followers a step later earn nothing more
    assert role.reward(context).tolist() == [0.0, 0.0]
    # scoring from a world as it is: what it gains from then on
    world = SimpleNamespace(graph=SimpleNamespace(in_deg=np.array([7, 0, 0, 0, 0])))
    role.begin_scoring(np.array([0]), world, mem)
    assert role.reward(RewardContext(np.array([0]), mem, None, now, 0)) == [2]
    mem.last_stance[2] = -0.6
    mem.decided[2] = True
    copy = InfluencerRole().new_memory(5)
    copy.load_state({k: v.tolist() for k, v in mem.state().items()})
    for name, arr in mem.state().items():
        assert np.array_equal(getattr(copy, name), arr)
        assert getattr(copy, name).dtype == arr.dtype


# ---------------------------------------------------------------- merge_rows
@st.composite
def actions_batch(draw, n: int, k: int):
    f = draw(st.integers(0, 3))
    g = draw(st.integers(0, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return Actions(
        post=rng.random(n) < 0.5,
        post_stance=rng.uniform(-1, 1, n),
        post_topic=rng.integers(0, 3, n),
        like=rng.random((n, k)) < 0.5,
        repost=rng.random((n, k)) < 0.5,
        reply=rng.random((n, k)) < 0.5,
        reply_stance=rng.uniform(-1, 1, (n, k)),
        follow=rng.integers(-1, N_USERS, (n, f)),
        unfollow=rng.integers(-1, N_USERS, (n, g)),
    )


@SETTINGS
@given(data=st.data(), n=st.integers(1, 8), k=st.integers(1, 4))
def test_merge_rows_replaces_exactly_the_given_rows(data, n, k):
    base = data.draw(actions_batch(n, k))
    rows = np.array(data.draw(st.permutations(range(n)))[: data.draw(st.integers(0, n))], np.int64)
    sub = data.draw(actions_batch(rows.size, k))
    keep = np.setdiff1d(np.arange(n), rows)
    snapshot = {name: value.copy() for name, value in vars(base).items() if value is not None}
    out = merge_rows(base, rows, sub)
    out.check(n, k, 3)
    for name in snapshot:
        assert np.array_equal(getattr(base, name), snapshot[name])  # base untouched
    for name in ("post", "post_stance", "post_topic", "like", "repost", "reply", "reply_stance"):
        assert np.array_equal(getattr(out, name)[rows], getattr(sub, name))
        assert np.array_equal(getattr(out, name)[keep], getattr(base, name)[keep])
    for name in ("follow", "unfollow"):
        a, b, o = getattr(base, name), getattr(sub, name), getattr(out, name)
        assert o.shape == (n, max(a.shape[1], b.shape[1]))
        assert np.array_equal(o[rows, : b.shape[1]], b)
        assert np.all(o[rows, b.shape[1] :] == -1)
        assert np.array_equal(o[keep, : a.shape[1]], a[keep])
        assert np.all(o[keep, a.shape[1] :] == -1)


def test_merge_rows_keeps_each_sides_words():
    base = Actions.nothing(3, 2)
    base.post_text = np.array(["a", None, "c"], object)
    sub = Actions.nothing(1, 2)
    sub.post_text = np.array(["mine"], object)
    out = merge_rows(base, np.array([1]), sub)
    assert out.post_text.tolist() == ["a", "mine", "c"]
    assert out.reply_text is None
    plain = merge_rows(Actions.nothing(2, 2), np.array([0]), sub)
    assert plain.post_text.tolist() == ["mine", None]
    out.check(3, 2, 1)


def test_the_action_field_lists_name_every_field_of_actions():
    from dataclasses import fields

    from townsquare.world.actions import ACTION_FIELDS, OPTIONAL_ACTIONS, ROW_FIELDS

    # every field is a core one or an optional action's, and none is both
    assert ACTION_FIELDS + tuple(OPTIONAL_ACTIONS) == tuple(f.name for f in fields(Actions))
    assert set(ROW_FIELDS) < set(ACTION_FIELDS)
