"""The compiled kernels of the hot path (the scripted citizen's rules, the feed's
per-slot items, the bounded-confidence rules, the world's shown slots) give the very same
bits as whole-array numpy, kept here as the reference (benchmarks/README.md, "ten million
users")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.world.opinion.platform import (
    _pairwise_sum,
    bounded_confidence,
    hegselmann_krause,
)


# ------------------------------------------------------------------ the numpy references
def reference_citizen_act(p, obs, rng):
    """ScriptedCitizen.act as whole-array numpy: three uniforms per shown slot (like,
    repost, reply) in row-major order, two per row (follow, unfollow: u < rate decides,
    u / rate picks the eligible slot), then the noise of each reply."""
    n, k = obs.feed.shape
    shown = obs.shown
    rows = np.arange(n)
    topic = rng.integers(0, obs.topics, n)
    post = rng.random(n) < p.post_prob
    own_post = obs.opinion[rows, topic]
    stance = np.clip(own_post + rng.normal(0.0, p.expression_noise, n), -1.0, 1.0)
    own = np.take_along_axis(obs.opinion, np.where(shown, obs.feed_topic, 0), axis=1)
    gap = np.abs(obs.feed_stance - own)
    agree = np.clip(1.0 - gap / p.like_tolerance, 0.0, 1.0)
    slot_u = rng.random((int(shown.sum()), 3))
    like, repost, reply = (np.zeros((n, k), bool) for _ in range(3))
    like[shown] = slot_u[:, 0] < p.like_rate * agree[shown]
    repost[shown] = slot_u[:, 1] < p.repost_rate * agree[shown]
    reply[shown] = slot_u[:, 2] < p.reply_rate * (0.25 + gap[shown] / 2.0)
    row_u = rng.random((n, 2))

    def pick_one(eligible, u, rate):
        count = eligible.sum(axis=1)
        chosen = (count > 0) & (u < rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            target = np.minimum((u / rate * count).astype(np.int64), count - 1)
        col = (np.cumsum(eligible, axis=1) > target[:, None]).argmax(axis=1)
        return np.where(chosen, obs.feed_author[rows, col], -1)

    not_self = obs.feed_author != obs.users[:, None]
    can_follow = shown & not_self & ~obs.feed_followed & (gap < p.follow_tolerance)
    can_unfollow = shown & obs.feed_followed & (gap > p.unfollow_threshold)
    follow = pick_one(can_follow, row_u[:, 0], p.follow_rate)
    unfollow = pick_one(can_unfollow, row_u[:, 1], p.unfollow_rate)
    reply_stance = np.zeros((n, k))
    reply_stance[reply] = np.clip(
        own[reply] + rng.normal(0.0, p.expression_noise, int(reply.sum())), -1.0, 1.0
    )
    return dict(post=post, post_stance=stance, post_topic=topic, like=like, repost=repost,
                reply=reply, reply_stance=reply_stance, follow=follow[:, None],
                unfollow=unfollow[:, None])  # fmt: skip


def reference_bounded_confidence(opinion, users, feed_stance, feed_topic, shown, sus, eps, mu,
                                 krause=False):  # fmt: skip
    own = np.take_along_axis(opinion[users], np.where(shown, feed_topic, 0), axis=1)
    gap = feed_stance - own
    close = shown & (np.abs(gap) < eps)
    for t in range(opinion.shape[1]):
        on_topic = close & (feed_topic == t)
        count = on_topic.sum(axis=1)
        moved = np.flatnonzero(count > 0)
        if not moved.size:
            continue
        gap_sum = np.where(on_topic, gap, 0.0).sum(axis=1)[moved]
        rows = users[moved]
        if krause:
            step = sus[rows] * (gap_sum / (count[moved] + 1))
        else:
            step = mu * sus[rows] * (gap_sum / count[moved])
        opinion[rows, t] = np.clip(opinion[rows, t] + step, -1.0, 1.0)


# ------------------------------------------------------------------ the checks
@pytest.fixture(scope="module")
def stepped_world():
    """A world a few steps in, with two topics, holding its next step's observations."""
    world, _ = build_world(load_scenario("default", ["users=3000", "population.topics=2"]))
    for _ in range(4):
        world.step()
    observations = world.begin_step()
    return world, observations


@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("eager", [False, True])
def test_the_citizen_rules_act_as_the_numpy_rules(stepped_world, holes, eager):
    """The same bits, with the world's feeds (shown slots first) and with empty slots
    between shown ones (any policy's observations may have them); with the default
    rates and with an eager unfollower."""
    from dataclasses import replace

    from townsquare.policies.scripted import ScriptedCitizen
    from townsquare.world.population import Role

    world, observations = stepped_world
    obs = observations[Role.CITIZEN]
    if holes:  # the same slots, columns shuffled row by row
        order = np.argsort(np.random.default_rng(3).random(obs.feed.shape), axis=1)
        slots = ("feed", "feed_author", "feed_stance", "feed_topic", "feed_likes",
                 "feed_followed")  # fmt: skip
        obs = replace(obs, **{f: np.take_along_axis(getattr(obs, f), order, 1) for f in slots})
        assert ((obs.feed[:, :-1] < 0) & (obs.feed[:, 1:] >= 0)).any()
    params = world.policies[Role.CITIZEN].params
    if eager:
        params = params.model_copy(update={"unfollow_threshold": 0.2, "unfollow_rate": 0.9})
    policy = ScriptedCitizen(params)
    acts = policy.act(obs, np.random.default_rng(11))
    expected = reference_citizen_act(policy.params, obs, np.random.default_rng(11))
    assert acts.follow.max() >= 0 and acts.like.any() and acts.reply.any()  # rules acted
    assert acts.unfollow.max() >= 0
    for name, value in expected.items():
        got = getattr(acts, name)
        assert got.dtype == value.dtype and got.tobytes() == value.tobytes(), name


def test_the_shown_slots_are_numpys_nonzero():
    """`_Batch.of` reads the slots a policy acted on from the feed's shown slots
    (`Observations.shown_slots`): numpy's nonzero of each mask on shown slots, each
    pair with its post."""
    from townsquare.world.feed import compact_feeds
    from townsquare.world.world import _shown_slots

    rng = np.random.default_rng(5)
    for n, k in ((0, 4), (1, 1), (37, 20), (1000, 3)):
        feed = np.where(rng.random((n, k)) < 0.4, rng.integers(0, 99, (n, k)), -1)
        masks = [rng.random((n, k)) < share for share in (0.1, 0.5, 0.9)]
        acted = _shown_slots(*masks, *compact_feeds(feed))
        for mask, (at, col, post) in zip(masks, acted, strict=True):
            i, j = np.nonzero(mask & (feed >= 0))
            assert at.dtype == i.dtype and np.array_equal(at, i) and np.array_equal(col, j)
            assert post.dtype == np.int64 and np.array_equal(post, feed[at, col])


def test_observations_carry_their_feeds_shown_slots(stepped_world):
    """The world finds each feed's shown slots once and hands them on, read only: what
    a scan of the feed gives. An observation whose feed was replaced (or made outside a
    world) finds them afresh from its own feed, never the stale ones."""
    from townsquare.world.feed import compact_feeds, shown_starts

    _, observations = stepped_world
    for obs in observations.values():
        start, col, post = obs.shown_slots()
        assert obs.shown_index[0] is obs.feed and obs.shown_index[1] is start
        for got, want in zip((start, col, post), compact_feeds(obs.feed), strict=True):
            assert np.array_equal(got, want) and not got.flags.writeable
        assert obs.shown_slots()[0] is start
        assert np.array_equal(post, obs.feed[obs.feed >= 0])
        for other in (
            dataclasses.replace(obs, shown_index=None),
            dataclasses.replace(obs, feed=np.ascontiguousarray(obs.feed[:, ::-1])),
        ):
            for got, want in zip(other.shown_slots(), compact_feeds(other.feed), strict=True):
                assert np.array_equal(got, want)
            assert np.array_equal(other.shown_slots()[0], shown_starts(other.feed))


def test_the_feed_items_are_the_posts_columns_and_the_follow_graph(stepped_world):
    world, observations = stepped_world
    posts, graph = world.posts, world.graph
    assert set(observations) == set(world._turn.rows_of)  # begin_step shows every role
    kinds = np.zeros(2, bool)
    for obs in observations.values():
        feed = obs.feed
        shown = feed >= 0
        safe = np.where(shown, feed, 0)
        assert np.array_equal(obs.feed_stance, np.where(shown, posts.stance[safe], 0.0))
        assert np.array_equal(obs.feed_topic, np.where(shown, posts.topic[safe], 0))
        authors = np.where(shown, posts.author[safe], -1)
        followed = np.zeros(feed.shape, bool)
        readers = np.broadcast_to(obs.users[:, None], feed.shape)
        followed[shown] = graph.follows(readers[shown], authors[shown])
        kinds |= [followed.any(), (shown & ~followed).any()]
        assert np.array_equal(obs.feed_author, authors)
        assert np.array_equal(obs.feed_followed, followed)
        assert np.array_equal(obs.feed_likes, np.where(shown, posts.likes[safe], 0))
    assert kinds.all()  # both kinds of slot are there


@pytest.mark.parametrize("krause", [False, True])
def test_the_bounded_confidence_rules_move_opinions_as_the_numpy_rules(krause):
    rng = np.random.default_rng(5)
    n_users, readers, k, topics = 400, 300, 23, 3
    opinion = rng.uniform(-1, 1, (n_users, topics))
    users = rng.choice(n_users, readers, replace=False)
    feed_stance = rng.uniform(-1, 1, (readers, k))
    feed_topic = rng.integers(0, topics, (readers, k))
    shown = rng.random((readers, k)) < 0.8
    feed_stance[~shown], feed_topic[~shown] = 0.0, 0
    sus = rng.uniform(0, 1, n_users)
    expected = opinion.copy()
    reference_bounded_confidence(expected, users, feed_stance, feed_topic, shown, sus, 0.5, 0.3,
                                 krause)  # fmt: skip
    rule = hegselmann_krause if krause else bounded_confidence
    rule(opinion, users, feed_stance, feed_topic, shown, sus, 0.5, 0.3)
    assert not np.array_equal(opinion[users], np.zeros_like(opinion[users]))
    assert opinion.tobytes() == expected.tobytes()


@pytest.mark.parametrize("n", [*range(1, 40), 127, 128, 129, 255, 256, 300, 511, 777, 1000])
def test_the_pairwise_sum_is_numpys(n):
    rng = np.random.default_rng(n)
    rows = rng.normal(size=(3, n)) * 10.0 ** rng.integers(-8, 8, size=(3, n))
    for row, total in zip(rows, rows.sum(axis=1), strict=True):
        assert 0.0 + _pairwise_sum(np.ascontiguousarray(row), n) == total


@pytest.mark.parametrize("rule", [bounded_confidence, hegselmann_krause])
@pytest.mark.parametrize("k", [1, 23, 300])
def test_the_rules_on_feeds_kept_as_their_shown_posts_give_the_same_bits(rule, k):
    """What the world keeps of feeds fed in parts (`compact_feeds`: each shown slot's
    column and post) moves opinions exactly as the feeds themselves, holes included."""
    from townsquare.world.feed import compact_feeds
    from townsquare.world.opinion.platform import close_mean_compact

    rng = np.random.default_rng(k)
    n_users, readers, n_posts, topics = 400, 300, 5000, 3
    post_stance = rng.uniform(-1, 1, n_posts)
    post_topic = rng.integers(0, topics, n_posts).astype(np.int16)
    feed = np.where(rng.random((readers, k)) < 0.6, rng.integers(0, n_posts, (readers, k)), -1)
    shown = feed >= 0
    safe = np.where(shown, feed, 0)
    stance = np.where(shown, post_stance[safe], 0.0)
    topic = np.where(shown, post_topic[safe], 0).astype(np.int64)
    opinion = rng.uniform(-1, 1, (n_users, topics))
    users = rng.choice(n_users, readers, replace=False)
    sus = rng.uniform(0, 1, n_users)
    expected = opinion.copy()
    rule(expected, users, stance, topic, shown, sus, 0.5, 0.3)
    compact = compact_feeds(feed)
    assert compact[1].tolist() == np.nonzero(shown)[1].tolist()
    assert compact[2].tolist() == feed[shown].tolist()
    got = opinion.copy()
    close_mean_compact(rule, got, users, compact, k, post_stance, post_topic, sus, 0.5, 0.3)
    assert got.tobytes() == expected.tobytes()
    assert not np.array_equal(got, opinion)  # the rule moved someone
