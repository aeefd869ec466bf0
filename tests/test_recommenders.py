"""Content recommenders (townsquare.world.recommenders): the contract every one keeps, and
each one's own ranking, checked against its definition recomputed here."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from resume_checks import assert_resume_is_exact
from townsquare.build import build_world
from townsquare.config import FeedConfig, validate
from townsquare.errors import UserError
from townsquare.world import PostKind, World
from townsquare.world.feed import Recommender
from townsquare.world.recommenders import (
    NAMES,
    ContentRecommender,
    ReaderTerm,
    Scores,
    WindowView,
    by_name,
)
from townsquare.world.recommenders.embedding import date_score
from townsquare.world.recommenders.hot import DECAY_SECONDS, hot_score

K = 20


def busy(topics: int = 1, seed: int = 3, steps: int = 4) -> World:
    """A platform a few steps in: posts with likes, reposts and replies in the window."""
    data = {
        "users": 400,
        "steps": 10,
        "seed": seed,
        "population": {"activity": {"mean": 0.5}, "topics": topics},
        "roles": {"influencer": {"count": 20}},
    }
    world, _ = build_world(validate(data))
    for _ in range(steps):
        world.step()
    return world


@pytest.fixture(scope="module")
def world() -> World:
    return busy()


@pytest.fixture(scope="module")
def world3() -> World:
    return busy(topics=3, seed=5)


def recommender(name: str, share: float = 1.0, seed: int = 7) -> Recommender:
    return Recommender(name, K, window=3, trending=50, out_of_network=share, seed=seed)


def feeds(world: World, name: str, share: float = 1.0, seed: int = 7, users=None):
    """Every user's feed from the world as it stands, nothing read yet."""
    users = np.arange(world.population.n) if users is None else np.asarray(users)
    cursor = np.full(world.population.n, -1, np.int64)
    pop = world.population
    return recommender(name, share, seed).items_for(
        users, world.graph, world.posts, pop.opinion, pop.suspended, cursor, world.t
    )


def window_scores(world: World, name: str) -> tuple[WindowView, Scores]:
    rec = recommender(name)
    posts, pop = world.posts, world.population
    lo = posts.window_start(world.t, rec.window)
    hi = len(posts)
    visible = ~pop.suspended[posts.author[lo:hi]]
    heat = (1.0 + posts.likes[lo:hi] + 2.0 * posts.reposts[lo:hi] + posts.replies[lo:hi]) * 0.5 ** (
        world.t - posts.step[lo:hi]
    )
    view = WindowView(lo, hi, world.t, posts, world.graph, pop.opinion, visible, heat, 1.0, 7)
    return view, rec.rule.scores(view)


def shown_rows(items):
    for i in range(items.feed.shape[0]):
        row = items.feed[i]
        yield i, row[row >= 0]


def reader_scores(world: World, name: str, users: np.ndarray, items) -> list[np.ndarray]:
    """Each row's scores recomputed from the recommender's arrays (base + reader term)."""
    view, s = window_scores(world, name)
    posts, pop = world.posts, world.population
    out = []
    for i, row in shown_rows(items):
        u = users[i]
        w = row - view.lo
        score = s.base[w].copy()
        if s.reader == ReaderTerm.CLOSENESS:
            score += -np.abs(posts.stance[row] - pop.opinion[u, posts.topic[row]])
        elif s.reader == ReaderTerm.DOT:
            score += s.post_vectors[w] @ s.user_vectors[u]
        out.append(score)
    return out


# ---------------------------------------------------------------- the contract


def test_the_config_offers_exactly_the_recommenders_there_are():
    assert typing.get_args(FeedConfig.model_fields["ranking"].annotation) == NAMES
    assert len(NAMES) == 12
    for name in NAMES:
        rule = by_name(name)
        assert isinstance(rule, ContentRecommender) and rule.name == name
        assert rule.summary and rule.source


@pytest.mark.parametrize("name", NAMES)
def test_every_recommender_keeps_the_feed_contract(world, name):
    pop, posts = world.population, world.posts
    pop.suspended[:] = False
    hidden = np.unique(posts.author[-50:])[:5]
    pop.suspended[hidden] = True
    try:
        items = feeds(world, name, share=0.5)
        again = feeds(world, name, share=0.5)
        # readers asked in two halves get the feeds they get asked all together
        users = np.arange(pop.n)
        halves = [feeds(world, name, share=0.5, users=h) for h in np.array_split(users, 2)]
    finally:
        pop.suspended[:] = False
    lo = posts.window_start(world.t, 3)
    assert (items.feed >= 0).sum() > 1000
    for field, value in zip(items._fields, items, strict=True):
        assert np.array_equal(value, getattr(again, field)), field
        split = np.concatenate([getattr(h, field) for h in halves])
        assert np.array_equal(value, split), field
    out_slots = recommender(name, share=0.5).out_slots
    for i, row in shown_rows(items):
        n = row.size
        assert np.array_equal(items.feed[i, :n], row) and (items.feed[i, n:] == -1).all()
        assert np.unique(row).size == n and (row >= lo).all()
        assert not np.isin(posts.author[row], hidden).any()
        assert np.array_equal(items.author[i, :n], posts.author[row])
        assert np.array_equal(items.stance[i, :n], posts.stance[row])
        followed = np.isin(posts.author[row], world.graph.followees(i))
        assert np.array_equal(items.followed[i, :n], followed)
        # strangers take at most their share, more only where followees left slots empty
        assert (~followed).sum() <= out_slots or followed.sum() + (~followed).sum() == n
    if not by_name(name).discovers:
        assert items.followed[items.feed >= 0].all()


@pytest.mark.parametrize("name", [n for n in NAMES if n != "random"])  # random: below
def test_every_recommender_ranks_its_feeds_by_its_own_scores(world, name):
    users = np.arange(world.population.n)
    items = feeds(world, name)
    checked = 0
    for score in reader_scores(world, name, users, items):
        assert np.all(np.diff(score) <= 1e-12), name
        checked += score.size
    assert checked > 1000


def test_unknown_recommender_is_refused_in_one_line():
    with pytest.raises(ValueError, match="unknown feed ranking 'bogus': choose one of chrono"):
        Recommender("bogus", K)
    with pytest.raises(UserError) as err:
        validate({"users": 100, "feed": {"ranking": "bogus"}})
    assert "feed.ranking" in str(err.value)


def test_a_recommender_handing_back_the_wrong_shape_is_named():
    class Broken(ContentRecommender):
        name = "broken"
        summary = source = "a test"

        def scores(self, view):
            return Scores(base=np.zeros(3), discovery=view.heat)

    world = busy(steps=2)
    with pytest.raises(ValueError, match=r"broken: base: expected shape"):
        Recommender(Broken(), K).feed_for(
            np.arange(10), world.graph, world.posts, world.population.opinion,
            world.population.suspended, np.full(400, -1), world.t,
        )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_recommender_runs_a_whole_scenario_the_same_twice(name):
    def run():
        world, _ = build_world(
            validate({"users": 600, "steps": 5, "seed": 4, "feed": {"ranking": name}})
        )
        return [world.step().metrics for _ in range(5)], world.posts.views.copy()

    (metrics, views), (again, views2) = run(), run()
    assert metrics == again and np.array_equal(views, views2)
    assert views.sum() > 0 and views.sum() >= world_likes(metrics)


def world_likes(metrics) -> int:
    return sum(m["likes"] for m in metrics)


# ---------------------------------------------------------------- each recommender


@pytest.mark.parametrize("name", ["chronological", "followers_popularity"])
def test_followers_only_feeds_show_no_stranger(world, name):
    items = feeds(world, name)
    shown = items.feed >= 0
    assert shown.sum() > 500 and items.followed[shown].all()
    for i, row in shown_rows(items):
        assert np.isin(world.posts.author[row], world.graph.followees(i)).all()


def test_reverse_chronological_shows_the_platforms_newest_posts(world):
    items = feeds(world, "reverse_chronological")
    strangers = 0
    for _, row in shown_rows(items):
        assert np.all(np.diff(row) < 0)
    strangers = (~items.followed[items.feed >= 0]).sum()
    assert strangers > 100  # not only followees, unlike chronological


def test_popularity_puts_the_most_liked_first_and_the_newer_among_equals(world):
    likes = world.posts.likes
    items = feeds(world, "popularity")
    ties = 0
    for _, row in shown_rows(items):
        assert np.all(np.diff(likes[row]) <= 0)
        same = np.diff(likes[row]) == 0
        assert np.all(np.diff(row)[same] < 0)
        ties += same.sum()
    assert ties > 100


def test_comment_ranked_feed_puts_the_most_replied_first(world):
    replies = world.posts.replies
    items = feeds(world, "comments")
    assert replies[items.feed[items.feed >= 0]].max() > 0
    for _, row in shown_rows(items):
        assert np.all(np.diff(replies[row]) <= 0)


def test_hot_score_decays_with_age_by_reddits_constants():
    now = np.array([1.0e9])
    # ten times the votes make up exactly 45,000 s (12.5 hours) of age
    assert hot_score(np.array([10]), 0.0, now - DECAY_SECONDS)[0] == pytest.approx(
        hot_score(np.array([1]), 0.0, now)[0]
    )
    older = hot_score(np.array([5, 5]), 0.0, np.array([1.0e9 - 86400, 1.0e9]))
    assert older[0] < older[1]
    # net votes below zero sink a post; none count as one
    assert hot_score(np.array([0]), 3.0, now)[0] < hot_score(np.array([0]), 0.0, now)[0]
    assert hot_score(np.array([1]), 0.0, now)[0] == hot_score(np.array([0]), 0.0, now)[0]


def test_hot_feed_prefers_a_new_post_to_an_old_one_as_liked(world):
    view, s = window_scores(world, "hot")
    step = view.column("step")
    likes = view.column("likes")
    old, new = step == step.min(), step == step.max()
    assert step.min() < step.max()
    # a day is 86,400 s, 1.92 decades of votes: a new post of no likes outranks an old one
    # of up to 83 likes
    assert s.base[new].min() > s.base[old & (likes <= 80)].max()


def test_random_order_is_each_readers_own_and_fixed_by_the_seed(world):
    a = feeds(world, "random", seed=1)
    b = feeds(world, "random", seed=1)
    c = feeds(world, "random", seed=2)
    assert np.array_equal(a.feed, b.feed) and not np.array_equal(a.feed, c.feed)
    # a global order would put any two posts in the same order in every feed; readers'
    # own orders disagree about some pair
    rows = [r for _, r in shown_rows(a)]
    agree = disagree = 0
    for x, y in zip(rows[:-1], rows[1:], strict=True):
        both = np.intersect1d(x, y)
        if both.size >= 2:
            p, q = both[:2]
            before_x = np.flatnonzero(x == p)[0] < np.flatnonzero(x == q)[0]
            before_y = np.flatnonzero(y == p)[0] < np.flatnonzero(y == q)[0]
            agree += before_x == before_y
            disagree += before_x != before_y
    assert agree > 10 and disagree > 10


def unit_hash(seed: int, reader: int, post: int) -> float:
    """The kernel's splitmix64 draw, in Python integers."""
    m = (1 << 64) - 1
    z = seed ^ ((reader * 0x9E3779B97F4A7C15) & m)
    z ^= (post * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    z ^= z >> 31
    return (z >> 11) / 2.0**53


def test_random_order_is_the_hash_of_seed_step_reader_and_post(world):
    rec = recommender("random", seed=1)
    items = feeds(world, "random", seed=1)
    seed = rec.seed ^ ((world.t * 0x9E3779B97F4A7C15) & 0x7FFFFFFFFFFFFFFF)
    checked = 0
    for i, row in shown_rows(items):
        if i % 10 == 0:
            draws = [unit_hash(seed, i, int(p)) for p in row]
            assert all(a >= b for a, b in zip(draws[:-1], draws[1:], strict=True))
            checked += len(draws)
    assert checked > 100


def test_random_order_has_no_preference_for_new_or_liked_posts():
    world = busy(seed=11, steps=5)
    items = feeds(world, "random", share=0.0)  # followees only: every candidate is offered
    first, last = [], []
    for _, row in shown_rows(items):
        if row.size >= 6:
            first.append(row[0])
            last.append(row[-1])
    first, last = np.array(first), np.array(last)
    assert first.size > 100
    # under a ranking by age the first would always be newer than the last
    newer = (first > last).mean()
    assert 0.35 < newer < 0.65


def test_embedding_ranks_by_cosine_to_the_readers_newest_post(world3):
    view, s = window_scores(world3, "embedding")
    posts = world3.posts
    author = view.column("author")
    writer = int(author[-1])
    newest = view.lo + np.flatnonzero(author == writer).max()
    # the writer's profile is its newest post: a post of that stance and topic is its
    # best match; the rest by cos(pi/2 (s - s_newest)) times freshness
    t = posts.topic[newest]
    same_topic = posts.topic[view.lo : view.hi] == t
    expected = np.cos(0.5 * np.pi * (view.column("stance") - posts.stance[newest]))
    expected = np.where(same_topic, expected, 0.0) * date_score(view.step - view.column("step"))
    got = s.post_vectors @ s.user_vectors[writer]
    assert np.allclose(got, expected)
    # a reader who wrote nothing is profiled by its opinions
    silent = np.setdiff1d(np.arange(world3.population.n), author)[0]
    unit = s.user_vectors[silent]
    assert np.isclose(unit @ unit, 1.0)


def test_common_interests_puts_the_readers_topics_first(world3):
    view, s = window_scores(world3, "common_interests")
    author = view.column("author")
    topic = view.column("topic")
    users = np.unique(author)
    items = feeds(world3, "common_interests", users=users)
    checked = 0
    for i, row in shown_rows(items):
        mine = np.bincount(topic[author == users[i]], minlength=3) / (author == users[i]).sum()
        share = mine[world3.posts.topic[row]]
        assert np.all(np.diff(share) <= 1e-12)
        checked += (share != share[0]).any()
    assert checked > 20


def test_collaborative_counts_reactions_of_readers_alike(world):
    view, s = window_scores(world, "collaborative")
    posts, opinion = world.posts, world.population.opinion
    kind, parent = view.column("kind"), view.column("parent")
    reacted = np.flatnonzero(
        ((kind == PostKind.REPOST) | (kind == PostKind.REPLY)) & (parent >= view.lo)
    )
    assert reacted.size > 20
    rng = np.random.default_rng(0)
    for reader in rng.choice(world.population.n, 20, replace=False):
        # the definition, reaction by reaction
        expected = np.zeros(view.hi - view.lo)
        for r in reacted:
            p = parent[r]
            reactor = posts.author[view.lo + r]
            t = posts.topic[p]
            gap = opinion[reactor, t] - opinion[reader, t]
            expected[p - view.lo] += (1.0 + np.cos(0.5 * np.pi * gap)) / 2
        assert np.allclose(s.post_vectors @ s.user_vectors[reader], expected)


def test_collaborative_feed_prefers_what_like_minded_users_reposted(world):
    users = np.arange(world.population.n)
    items = feeds(world, "collaborative")
    view, s = window_scores(world, "collaborative")
    top_reacted = 0
    for i, row in shown_rows(items):
        reaction = s.post_vectors[row - view.lo] @ s.user_vectors[users[i]]
        top_reacted += reaction[0] > 0
    assert top_reacted > 100


@pytest.mark.parametrize("name", ["random", "embedding"])
def test_a_run_with_a_drawing_recommender_resumes_exactly(name, tmp_path):
    # their draws come from (seed, step, reader, post), never from a generator's state
    scenario = validate(
        {"users": 500, "steps": 8, "seed": 6, "feed": {"ranking": name},
         "record": {"flush_every": 2}}
    )  # fmt: skip
    assert_resume_is_exact(scenario, tmp_path, stop_after=4)


def test_embedding_freshness_stays_at_zero_past_oasis_horizon():
    ages = np.array([0.0, 1.0, 90.0, 171.8, 200.0, 300.0])
    score = date_score(ages)
    assert score[0] == pytest.approx(1.0, abs=1e-3) and np.all(np.diff(score) <= 0)
    assert np.all(np.isfinite(score)) and np.all(score[3:] == 0.0)
