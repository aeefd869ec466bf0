"""The learning population (policies/learning_population.py, docs/population.md): users
who learn how often to post from the reward their posts earn (average-reward RL), whom to
follow from the value each author's posts had for them, and what to express (ARLOD)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_checks import crash_during, invoke, one_line_error, quick_run
from townsquare import build
from townsquare.build import build_world
from townsquare.config import CitizenConfig, builtin_scenarios, load_scenario, validate
from townsquare.errors import UserError
from townsquare.policies.learning_population import (
    _FIBONACCI as FIBONACCI,
)
from townsquare.policies.learning_population import (
    KEEP_LOAD,
    MAX_LOAD,
    LearningPopulation,
    ValueTable,
    _pow2,
)
from townsquare.policies.scripted import ScriptedCitizen
from townsquare.policies.social_rl import SocialRLCitizen
from townsquare.runner import Run
from townsquare.world import Role
from townsquare.world.actions import Actions, Observations

LEARNING = {"posting": "learned", "following": "learned"}


def small(citizen=None, influencer=None, **top):
    data = {
        "users": 1200,
        "steps": 12,
        "seed": 3,
        "roles": {
            "citizen": {**LEARNING, **(citizen or {})},
            "influencer": {"count": 5, **LEARNING, **(influencer or {})},
            "candidate": {"count": 2},
            "socialbot": {"fraction": 0.05},
        },
        "record": {"flush_every": 5},
    }
    data.update(top)
    return validate(data)


def metrics_bytes(scenario, path) -> bytes:
    Run.start(scenario, path).execute()
    return (path / "metrics.parquet").read_bytes()


# ------------------------------------------------------------------ default unchanged
def test_default_builds_no_learning_population():
    world, _ = build_world(load_scenario("default", ["users=800"]))
    for policy in world.policies.values():
        assert not isinstance(policy, LearningPopulation)


def test_default_metrics_are_byte_identical_to_before(tmp_path, monkeypatch):
    """`default`'s metrics.parquet, byte for byte, is the same (1) as built now, (2) as
    built before the learning population existed (its hookup in `build` skipped) and
    (3) with every policy wrapped in a learning population that learns nothing: the new
    keys' defaults leave the scripted world as it was, and the wrapper draws nothing and
    records nothing. (A reference checksum stored here would break with every unrelated
    change to the platform; this comparison holds on any tree.)"""
    sc = load_scenario("default", ["users=1500", "steps=15"])
    now = metrics_bytes(sc, tmp_path / "now")

    monkeypatch.setattr(build, "_learning", lambda role, cfg, policy, roles, graph, seed: policy)
    assert metrics_bytes(sc, tmp_path / "before") == now

    def transparent(role, cfg, policy, roles, graph, seed):
        members = np.flatnonzero(roles == role)
        return LearningPopulation(role.label, cfg, policy, members, graph.n, 0)

    monkeypatch.setattr(build, "_learning", transparent)
    assert metrics_bytes(sc, tmp_path / "wrapped") == now


# ------------------------------------------------------------------ posting
def posting_policy(post_prob=0.3, prior=1.0, alpha=0.25, n=6, habit=0.0, habit_alpha=0.5):
    """Learned posting with every user's rates the same (reward alone by default)."""
    params = CitizenConfig(
        posting="learned",
        post_prob=post_prob,
        posting_prior=prior,
        posting_alpha=alpha,
        posting_rates="shared",
        posting_habit=habit,
        posting_habit_alpha=habit_alpha,
    )
    return LearningPopulation("citizen", params, ScriptedCitizen(params), np.arange(n), n, 0)


def test_posting_starts_at_the_scripted_rate_and_follows_the_expected_reward():
    policy = posting_policy()
    users = np.arange(6)
    assert np.allclose(policy.post_probability(users), 0.3)
    # C = prior / post_prob: a user expecting R per post posts with min(1, R / C)
    assert policy.latency_cost == pytest.approx(1.0 / 0.3)
    policy.expected_reward[:] = [0.0, 0.5, 1.0, 2.0, 3.0, 100.0]
    assert np.allclose(policy.post_probability(users), [0.0, 0.15, 0.3, 0.6, 0.9, 1.0])
    assert posting_policy(post_prob=0.0).latency_cost == float("inf")
    assert np.all(posting_policy(post_prob=0.0).post_probability(users) == 0.0)


def close_posts(policy, authors, earned) -> None:
    """Hand ``policy`` a step's closed posts, as `closed_posts` reads them from a world."""
    policy.closed_posts = lambda context: (np.array(authors, np.int64), np.array(earned))


def test_the_expected_reward_moves_once_per_post_toward_what_it_earned():
    policy = posting_policy(alpha=0.5)
    start = policy.expected_reward.copy()
    close_posts(policy, [0, 2, 3], [4.0, 0.0, 1.0])
    policy._learn_posting(None)
    close_posts(policy, [0], [2.0])
    policy._learn_posting(None)
    assert policy.expected_reward[0] == pytest.approx(0.5 * (0.5 * start[0] + 0.5 * 4.0) + 1.0)
    assert policy.expected_reward[2] == pytest.approx(0.5 * start[2])  # a post that earned 0
    assert policy.expected_reward[3] == pytest.approx(start[3])  # earned what it expected
    # no post, no update: time without posting does not wear the expectation down
    assert policy.expected_reward[[1, 4, 5]].tolist() == start[[1, 4, 5]].tolist()
    # two posts of one user in one step count in the order written
    close_posts(policy, [5, 5], [3.0, 0.0])
    policy._learn_posting(None)
    assert policy.expected_reward[5] == pytest.approx(0.5 * (0.5 * start[5] + 1.5))


def test_a_post_earns_the_likes_and_replies_it_got_while_feeds_showed_it():
    from townsquare.world.actions import StepContext
    from townsquare.world.posts import PostKind

    world, _ = build_world(small(population={"activity": {"mean": 0.5}}))
    policy = world.policies[Role.CITIZEN]
    window = world.recommender.window
    got: dict[int, float] = {}
    hits: dict[int, int] = {}
    for _ in range(window + 4):
        t = world.t
        events = world.step()
        for post in events.like_post.tolist():
            hits[post] = hits.get(post, 0) + 1
        for kind, parent in zip(
            events.post_kind.tolist(), events.post_parent.tolist(), strict=True
        ):
            if kind == PostKind.REPLY:
                hits[parent] = hits.get(parent, 0) + 1
        authors, earned = policy.closed_posts(StepContext(t, events, world))
        if t < window:
            assert authors.size == 0  # no post has left the feeds yet
            continue
        posts = world.posts
        lo, hi = posts.step_start[t - window], posts.step_start[t - window + 1]
        ids = [
            i
            for i in range(lo, hi)
            if posts.kind[i] == PostKind.POST
            and world.population.role[posts.author[i]] == Role.CITIZEN
        ]
        assert authors.tolist() == [int(posts.author[i]) for i in ids]
        assert earned.tolist() == [float(hits.get(i, 0)) for i in ids]
        got.update(zip(ids, earned.tolist(), strict=True))
    assert len(got) > 100 and sum(v > 0 for v in got.values()) > 20
    # nothing more arrives once a post is closed
    for _ in range(2):
        world.step()
    assert all(world.posts.likes[i] + world.posts.replies[i] == v for i, v in got.items())


def rich_and_poor(posting: str, **rates):
    """Posts per session in steps 15-29 of the citizens whose posts earned the most
    (top quarter) and the least (bottom quarter) likes per post in steps 0-14, and the
    rank correlation of the two, on a fixed-seed world."""
    sc = small(
        citizen={"posting": posting, "following": "scripted", **rates},
        influencer={"count": 0},
        users=3000,
        population={"activity": {"mean": 0.6, "sigma": 0.3}},
        seed=7,
    )
    world, _ = build_world(sc)
    citizens = world.population.ids_of(Role.CITIZEN)
    earned = np.zeros(world.n)
    for _ in range(15):
        events = world.step()
        posts = world.posts
        liked = events.like_post[posts.kind[events.like_post] == 0]
        earned += np.bincount(posts.author[liked], minlength=world.n)
    originals = world.posts.kind == 0
    early_posts = np.bincount(world.posts.author[originals], minlength=world.n)
    start = len(world.posts)
    sessions = np.zeros(world.n)
    for _ in range(15):
        obs = world.begin_step()
        sessions[obs[Role.CITIZEN].users] += 1
        world.finish_step()
    later = world.posts.kind[start:] == 0
    later_posts = np.bincount(world.posts.author[start:][later], minlength=world.n)
    wrote = citizens[(early_posts[citizens] >= 2) & (sessions[citizens] >= 5)]
    assert wrote.size > 500
    per_post = earned[wrote] / early_posts[wrote]
    rate = later_posts[wrote] / sessions[wrote]
    low, high = np.quantile(per_post, [0.25, 0.75])
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    correlation = np.corrcoef(rank(per_post), rank(rate))[0, 1]
    return rate[per_post > high].mean(), rate[per_post <= low].mean(), correlation


def test_users_whose_posts_earn_more_post_more_later():
    """A fixed-seed statistical test on a running world: the likes a citizen's posts
    earned in the first 15 steps predict how often it posts per session in the next 15.
    Strongly with reward learning alone (measured: 0.54 against 0.13 posts per session,
    rank correlation 0.49); less, but clearly, with the rates fitted to Twitter users,
    most of whom are mostly habitual (0.43 against 0.30, 0.17); not at all with the
    scripted rule (the control) nor with every user at the fitted medians, whose reward
    rate (0.032) is too slow to show in 15 steps."""
    alone = {"posting_rates": "shared", "posting_habit": 0.0, "posting_alpha": 0.25}
    rich, poor, correlation = rich_and_poor("learned", **alone)
    assert rich > 3 * poor and correlation > 0.4, (rich, poor, correlation)
    rich, poor, correlation = rich_and_poor("learned")
    assert rich > 1.25 * poor and correlation > 0.1, (rich, poor, correlation)
    for control in (rich_and_poor("scripted"), rich_and_poor("learned", posting_rates="shared")):
        rich, poor, correlation = control
        assert abs(rich / poor - 1) < 0.2 and abs(correlation) < 0.15, control


def test_the_latency_mixes_habit_and_reward():
    policy = posting_policy(habit=0.8)
    users = np.arange(6)
    assert np.allclose(policy.post_probability(users), 0.3)  # both start at 1 / post_prob
    c = policy.latency_cost
    policy.habit_latency[:] = [2.0, 10.0, 1.0, 4.0, 1.0, 3.0]
    policy.expected_reward[:] = [1.0, 1.0, 0.0, 0.5, 1e308, 2.0]
    latency = 0.8 * policy.habit_latency + 0.2 * c / policy.expected_reward.clip(1e-300)
    got = policy.post_probability(users)
    assert np.allclose(got[[0, 1, 3, 5]], np.minimum(1.0, 1.0 / latency[[0, 1, 3, 5]]))
    assert got[2] == 0.0  # expects nothing: the reward's latency is infinite
    assert got[4] == 1.0  # habit 0.8 sessions, reward ~0: capped at one post a session
    # a user of weight 1 is all habit, whatever it expects
    habitual = posting_policy(habit=1.0)
    habitual.expected_reward[:] = 0.0
    habitual.habit_latency[:] = [1.0, 2.0, 4.0, 5.0, 8.0, 1.5]
    assert np.allclose(habitual.post_probability(users), [1.0, 0.5, 0.25, 0.2, 0.125, 1 / 1.5])


def test_the_habit_follows_the_latencies_taken_in_sessions_that_may_post():
    policy = posting_policy(habit=0.5, habit_alpha=0.5)
    start = policy.habit_latency[0]
    sessions = [[0, 1, 2], [0, 1], [0, 2], [0]]
    posted = [[False, True, False], [False, False], [True, True], [False]]
    for users, wrote in zip(sessions, posted, strict=True):
        policy._learn_habit(np.array(users), np.array(wrote))
    # user 0 posted after 3 sessions; user 1 after 1 and has waited 1 since; user 2
    # posted after 2 (a visit that only reads is not handed in: it is no session)
    assert policy.habit_latency[0] == pytest.approx(0.5 * start + 0.5 * 3)
    assert policy.habit_latency[1] == pytest.approx(0.5 * start + 0.5 * 1)
    assert policy.habit_latency[2] == pytest.approx(0.5 * start + 0.5 * 2)
    assert policy.sessions_since_post[:3].tolist() == [1, 1, 0]
    assert policy.habit_latency[3:].tolist() == [start] * 3


def test_only_sessions_that_may_post_count_in_the_habit():
    """A session passes for each user that may post in the step (a visit that only reads
    is none), and the habit learns from the posts the world wrote: one drawn in a visit
    that only reads is dropped and is no latency taken."""
    sc = small(population={"activity": {"mean": 0.1, "daily_share": 0.46}})
    world, _ = build_world(sc)
    policy = world.policies[Role.CITIZEN]
    drawn: dict[str, np.ndarray] = {}
    act = policy.act

    def recording(obs, rng):
        acts = act(obs, rng)
        drawn.update(users=obs.users, may=obs.may_post, post=acts.post.copy())
        return acts

    policy.act = recording
    checked = dropped = 0
    for _ in range(8):
        since = policy.sessions_since_post.copy()
        habit = policy.habit_latency.copy()
        start = len(world.posts)
        world.step()
        posts = world.posts
        new = np.arange(start, len(posts))
        wrote = set(posts.author[new[posts.kind[new] == 0]].tolist())
        users, may, post = drawn["users"], drawn["may"], drawn["post"]
        for user, could, drew in zip(users.tolist(), may.tolist(), post.tolist(), strict=True):
            if not could:  # a visit that only reads: nothing moves, even if a post was drawn
                assert policy.sessions_since_post[user] == since[user]
                assert policy.habit_latency[user] == habit[user]
                dropped += drew
            elif user in wrote:
                took = since[user] + 1
                a = policy.habit_alpha[user]
                assert policy.habit_latency[user] == pytest.approx(
                    habit[user] + a * (took - habit[user])
                )
                assert policy.sessions_since_post[user] == 0
                checked += 1
            else:
                assert policy.sessions_since_post[user] == since[user] + 1
    assert checked > 100 and dropped > 20, (checked, dropped)


def test_an_environment_learner_s_habit_follows_what_it_wrote():
    """In an environment, a learner's post is the agent's, not the draw of the learning
    population behind it: the habit learns from what the world wrote."""
    from townsquare.envs.core import LearnerSlot

    sc = small(population={"activity": {"mean": 0.5}})
    world, _ = build_world(sc)
    policy = world.policies[Role.CITIZEN]
    citizens = world.population.ids_of(Role.CITIZEN)
    learner = int(citizens[0])

    class Silent:  # an agent that never posts
        decides = ("post",)

        def to_actions(self, obs, rows, chosen, memory):
            return Actions.nothing(rows.size, obs.feed_author.shape[1])

    slot = LearnerSlot(policy, Silent(), None)
    slot.pending = (np.array([learner]), np.array([0]))
    world.policies[Role.CITIZEN] = slot
    for _ in range(12):
        world.step()
    assert not np.any((world.posts.author == learner) & (world.posts.kind == 0))
    assert policy.habit_latency[learner] == pytest.approx(1.0 / sc.roles.citizen.post_prob)


def test_fitted_rates_follow_the_published_quantiles():
    from townsquare.policies.learning_population import (
        FITTED_QUANTILES,
        FITTED_RATES,
        fitted_rates,
    )

    drawn = fitted_rates(np.random.default_rng(1), 200_000)
    for key, knots in FITTED_RATES.items():
        values = drawn[key]
        assert values.min() >= 0.0 and values.max() <= 1.0
        assert np.allclose(np.quantile(values, FITTED_QUANTILES[1:-1]), knots[1:-1], atol=0.01), key
    # the shares the fits show: 43% of users learn from reward at a rate under 0.01,
    # 80% weigh habit over 0.5 and 53% over 0.9
    assert np.mean(drawn["posting_alpha"] < 0.01) == pytest.approx(0.43, abs=0.015)
    assert np.mean(drawn["posting_habit"] > 0.5) == pytest.approx(0.80, abs=0.015)
    assert np.mean(drawn["posting_habit"] > 0.9) == pytest.approx(0.53, abs=0.015)
    # the medians are the shared rates' defaults
    params = CitizenConfig()
    median = FITTED_QUANTILES.index(0.5)
    for key, knots in FITTED_RATES.items():
        assert getattr(params, key) == pytest.approx(knots[median], abs=5e-4), key
    # the world draws them from a stream of its own: the same seed, the same rates
    one, _ = build_world(small())
    two, _ = build_world(small())
    a, b = one.policies[Role.CITIZEN], two.policies[Role.CITIZEN]
    assert np.array_equal(a.habit_weight, b.habit_weight) and a.habit_weight.std() > 0.2
    shared, _ = build_world(small(citizen={"posting_rates": "shared"}))
    assert np.all(shared.policies[Role.CITIZEN].habit_weight == params.posting_habit)


@settings(max_examples=200, deadline=None)
@given(
    expected=st.lists(st.floats(0.0, 1e9), min_size=1, max_size=20),
    post_prob=st.floats(0.0, 1.0),
    prior=st.floats(1e-6, 1e6),
)
def test_posting_probabilities_lie_in_the_unit_interval(expected, post_prob, prior):
    policy = posting_policy(post_prob=post_prob, prior=prior, n=len(expected))
    policy.expected_reward[:] = expected
    p = policy.post_probability(np.arange(len(expected)))
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(np.diff(p[np.argsort(expected, kind="stable")]) >= -1e-12)  # monotone


# ------------------------------------------------------------------ values
def test_values_move_toward_the_rewards_seen():
    n, alpha = 10, 0.5
    table = ValueTable(n, 16)
    baseline = np.zeros(n)
    readers = np.array([0, 1])
    authors = np.array([[3, 4, 5, 6, 7], [3, 3, -1, -1, -1]])
    shown = authors >= 0
    followed = np.array([[0, 1, 0, 0, 1], [0, 0, 0, 0, 0]], bool)
    rewards = np.array([[1.0, -1.0, 0.0, -1.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0]])
    out, _, _ = table.read(readers, authors, shown, followed, rewards, baseline, alpha)
    # a new pair enters from the reader's average (0): b + alpha (r - b)
    assert out[0].tolist()[:2] == [0.5, -0.5]
    # kept only where the value could change a decision: above the average for an
    # author not followed (3), below 0 for one followed (4). Author 5 brought nothing,
    # 6 (not followed) less than the average, 7 (followed) more: each reads as b
    assert out[0, 2:].tolist() == pytest.approx([baseline[0]] * 3)
    # reader 1 read author 3 twice: +1, then 0
    assert out[1, 0] == pytest.approx(0.25) and out[1, 1] == out[1, 0]
    assert table.count == 3  # (0,3), (0,4), (1,3)
    assert baseline[0] == pytest.approx(alpha * 0.0) and baseline[1] == pytest.approx(0.25)
    for _ in range(30):
        out, _, _ = table.read(
            readers[:1], authors[:1], shown[:1], followed[:1], rewards[:1], baseline, alpha
        )
    assert out[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert out[0, 1] == pytest.approx(-1.0, abs=1e-6)
    assert out[0, 2] == pytest.approx(baseline[0])


def feed_batch(authors, followed, like=None):
    authors = np.asarray(authors, np.int64)
    n_rows, k = authors.shape
    obs = Observations(
        step=1,
        role=Role.CITIZEN,
        users=np.arange(n_rows, dtype=np.int64),
        opinion=np.zeros((n_rows, 1)),
        followers=np.zeros(n_rows, np.int64),
        followees=np.zeros(n_rows, np.int64),
        feed=np.where(authors >= 0, np.arange(authors.size).reshape(authors.shape), -1),
        feed_author=authors,
        feed_stance=np.zeros(authors.shape),
        feed_topic=np.zeros(authors.shape, np.int64),
        feed_likes=np.zeros(authors.shape, np.int64),
        feed_followed=np.asarray(followed, bool),
        n_users=10,
        topics=1,
    )
    return obs


class Quiet(ScriptedCitizen):
    """Reads without engaging: every item is a reward of 0."""

    def act(self, obs, rng):
        return Actions.nothing(len(obs), obs.feed.shape[1])


def test_following_and_unfollowing_follow_the_values():
    params = CitizenConfig(following="learned", follow_rate=1.0, unfollow_rate=1.0)
    policy = LearningPopulation("citizen", params, Quiet(params), np.arange(10), 10, 20)
    # reader 0 values author 4 above its average, author 5 more, author 6 below zero
    policy.baseline[:] = 0.2
    keys = np.array([0 * 10 + 4, 0 * 10 + 5, 0 * 10 + 6, 1 * 10 + 7])
    vals = np.array([0.3, 0.9, -0.4, 0.1])
    policy.values.rebuild(policy.values.capacity, keys, vals, np.array([0, 0, 1, 1], bool))
    obs = feed_batch(
        [[4, 5, 6, 8], [7, 9, -1, -1]],
        [[False, False, True, False], [True, False, False, False]],
    )
    acts = policy.act(obs, np.random.default_rng(0))
    assert acts.follow[:, 0].tolist() == [5, -1]  # the best above average; none for 1
    assert acts.unfollow[:, 0].tolist() == [6, -1]  # below zero; 7 is still worth 0.1
    # the table now knows 0 follows 5 and no longer follows 6
    k, _, followed = policy.values.entries()
    flags = dict(zip(k.tolist(), followed.tolist(), strict=True))
    assert flags[5] is True and flags[6] is False
    # with follow_rate 0 nobody follows, whatever the values
    policy.params = CitizenConfig(following="learned", follow_rate=0.0, unfollow_rate=0.0)
    acts = policy.act(obs, np.random.default_rng(0))
    assert (acts.follow == -1).all() and (acts.unfollow == -1).all()


def test_a_followed_author_is_held_whenever_its_value_would_fall_below_zero():
    # a reader whose reading has been mostly disagreement (b = -0.8) reads a followed
    # author of its own side once: the value it enters with, -0.8 + 0.1 (1 + 0.8) = -0.62,
    # is below 0, so the author is held and is the one to unfollow
    table = ValueTable(10, 16)
    baseline = np.full(10, -0.8)
    authors, shown = np.array([[3]]), np.array([[True]])
    out, best, worst = table.read(
        np.array([0]), authors, shown, shown, np.array([[1.0]]), baseline, 0.1
    )
    assert out[0, 0] == pytest.approx(-0.62) and worst.tolist() == [0] and table.count == 1
    # with an average of 0 the same read enters above 0: nothing to hold
    table = ValueTable(10, 16)
    out, _, worst = table.read(
        np.array([0]), authors, shown, shown, np.array([[1.0]]), np.zeros(10), 0.1
    )
    assert worst.tolist() == [-1] and table.count == 0


def test_a_batch_never_holds_a_reader_twice():
    table = ValueTable(10, 16)
    readers = np.array([2, 2])
    authors = np.array([[3], [4]])
    shown = np.ones((2, 1), bool)
    with pytest.raises(ValueError, match="a reader appears in two rows"):
        table.read(readers, authors, shown, ~shown, np.ones((2, 1)), np.zeros(10), 0.25)


def test_the_reward_of_reading():
    obs = feed_batch([[1, 2, 3, 4, 5, -1], [1, 2, 3, 4, 5, 6]], [[False] * 6] * 2)
    obs.opinion = np.array([[0.4, -0.7], [-0.2, 0.0]])
    obs.topics = 2
    obs.feed_topic[:] = [[0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]]
    obs.feed_stance[:] = [[0.9, -0.1, -0.5, 0.3, 0.0, 0.5], [0.1, -0.9, -0.3, 0.8, -0.8, 0.0]]
    acts = Actions.nothing(2, 6)
    acts.like[0] = [0, 1, 0, 1, 0, 0]  # liking an item does not change its side
    acts.reply[1] = [1, 0, 0, 0, 0, 0]
    acts.reply_stance[1] = [-0.5, 0, 0, 0, 0, 0]
    reward = LearningPopulation.reading_reward(obs, acts)
    # reader 0 (+ on topic 0, - on topic 1): its side, the other side on each topic, a
    # neutral item, an empty slot; reader 1 (- on topic 0, neutral on topic 1): other
    # side, its side twice, then items on a topic it holds no side of
    assert reward.tolist() == [[1, -1, 1, -1, 0, 0], [-1, 1, 1, 0, 0, 0]]
    assert reward.dtype == np.int8


def test_the_table_forgets_within_its_capacity_and_keeps_followed_pairs():
    n = 1000
    table = ValueTable(n, 1024)
    baseline = np.zeros(n)
    rng = np.random.default_rng(1)
    readers = np.arange(100)
    for step in range(40):
        authors = rng.integers(0, n, (100, 20))
        followed = authors % 7 == 0  # the readers follow these authors throughout
        rewards = rng.choice([-1.0, 0.0, 1.0], (100, 20))
        table.read(readers, authors, np.ones_like(followed), followed, rewards, baseline, 0.25)
        assert table.count <= table.capacity * MAX_LOAD
        assert table.capacity <= max(table.initial, _pow2(8 * table.count))
        keys, vals, flags = table.entries()
        assert np.unique(keys).size == keys.size == table.count
        assert np.all(np.abs(vals) <= 1.0)
        if step == 2:
            kept = set(keys[flags].tolist())
    assert kept and kept <= set(table.entries()[0].tolist())  # followed pairs stay
    # what a forgetful table holds depends on the values alone, not on its layout
    keys, vals, flags = table.entries()
    other = ValueTable(n, 1024)
    order = np.argsort(-keys)
    other.rebuild(table.capacity, keys[order], vals[order], flags[order])
    table.forget(baseline)
    other.forget(baseline)
    assert sorted(table.entries()[0].tolist()) == sorted(other.entries()[0].tolist())
    assert table.count <= table.capacity * KEEP_LOAD


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rounds=st.integers(1, 12),
    width=st.integers(1, 30),
)
def test_value_table_invariants(seed, rounds, width):
    n = 300
    rng = np.random.default_rng(seed)
    table = ValueTable(n, int(rng.integers(0, 3000)))
    baseline = rng.uniform(-1, 1, n)
    for _ in range(rounds):
        readers = rng.choice(n, int(rng.integers(1, 200)), replace=False)
        authors = rng.integers(-1, n, (readers.size, width))
        shown = authors >= 0
        followed = rng.random(authors.shape) < 0.2
        rewards = np.clip(rng.integers(-1, 3, authors.shape), -1, 1).astype(float)
        alpha = rng.uniform(0.01, 1)
        out, best, worst = table.read(readers, authors, shown, followed, rewards, baseline, alpha)
        assert np.all(np.abs(out) <= 1.0) and np.all(np.abs(baseline) <= 1.0)
        # the slots to follow and unfollow, as numpy's first argmax / argmin finds them
        other = shown & (authors != readers[:, None])
        gain = out - baseline[readers][:, None]
        can = other & ~followed & (gain > 0)
        expected = np.where(can.any(1), np.where(can, gain, -np.inf).argmax(1), -1)
        assert np.array_equal(best, expected)
        keys, vals, _ = table.entries()
        # only a remembered author is unfollowed
        held = np.isin(readers[:, None].astype(np.int64) * n + authors, keys)
        can = other & followed & held & (out < 0)
        expected = np.where(can.any(1), np.where(can, out, np.inf).argmin(1), -1)
        assert np.array_equal(worst, expected)
        # every pair held is in its reader's summary
        bits = np.uint64(1) << ((((keys % n).astype(np.uint64)) * FIBONACCI) >> np.uint64(58))
        assert np.all(table.summary[keys // n] & bits)
        assert np.unique(keys).size == keys.size == table.count
        assert np.all(keys // n != keys % n)
        assert table.count <= table.capacity * MAX_LOAD
        assert table.capacity & (table.capacity - 1) == 0
        assert table.capacity <= max(table.initial, _pow2(8 * table.count))


def test_follow_counts_match_the_graph():
    world, _ = build_world(small(population={"activity": {"mean": 0.5}}))
    edges = world.graph.edge_count
    follows = unfollows = 0
    for _ in range(8):
        ev = world.step()
        follows += int((ev.follow_action > 0).sum())
        unfollows += int((ev.follow_action < 0).sum())
    assert follows > 0 and unfollows > 0
    g = world.graph
    assert g.edge_count == edges + follows - unfollows
    src, dst = g.edges()
    assert np.array_equal(np.bincount(dst, minlength=g.n), g.in_deg)
    assert np.array_equal(np.bincount(src, minlength=g.n), g.out_deg)
    # the table's followed flags say what the graph says, for every pair it holds
    for role in (Role.CITIZEN, Role.INFLUENCER):
        keys, _, flags = world.policies[role].values.entries()
        assert np.array_equal(g.follows(keys // g.n, keys % g.n), flags)


# ------------------------------------------------------------------ expression combined
def test_citizens_can_learn_all_three_at_once():
    world, _ = build_world(small(citizen={"expression": "social_rl"}))
    policy = world.policies[Role.CITIZEN]
    assert isinstance(policy.expresser, SocialRLCitizen)
    q = policy.expresser.q.copy()
    expected = policy.expected_reward.copy()
    for _ in range(6):
        row = world.step().metrics
    assert (policy.expresser.q != q).any() and (policy.expected_reward != expected).any()
    assert policy.values.count > 0
    for column in ("rl_plus_share", "citizen_post_prob", "citizen_valued_pairs"):
        assert column in row
    assert "influencer_post_prob" in row and "influencer_valued_pairs" in row
    assert 0.0 <= row["citizen_post_prob"] <= 1.0


# ------------------------------------------------------------------ checkpoints
def test_state_round_trip():
    sc = small(citizen={"expression": "social_rl"})
    world, _ = build_world(sc)
    for _ in range(6):
        world.step()
    fresh, _ = build_world(sc)
    for role in (Role.CITIZEN, Role.INFLUENCER):
        state = world.policies[role].state()
        assert {"post_expected_reward", "follow_keys", "follow_capacity"} <= set(state)
        fresh.policies[role].load_state(state)
        again = fresh.policies[role].state()
        assert set(again) == set(state)
        for name, array in state.items():
            if name in ("follow_keys", "follow_values", "follow_followed"):
                order, back = np.argsort(state["follow_keys"]), np.argsort(again["follow_keys"])
                assert np.array_equal(array[order], again[name][back])
            else:
                assert np.array_equal(array, again[name]), name


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda s: s.update(post_expected_reward=-s["post_expected_reward"] - 1), "post_expected"),
        (lambda s: s.update(post_expected_reward=s["post_expected_reward"][:3]), "post_expected"),
        (lambda s: s.pop("post_expected_reward"), "post_expected_reward"),
        (lambda s: s.update(post_habit_latency=s["post_habit_latency"] * 0), "post_habit_lat"),
        (lambda s: s.update(post_sessions_since=-s["post_sessions_since"] - 1), "post_sessions"),
        (lambda s: s.update(post_habit_weight=s["post_habit_weight"] + 2), "post_habit_weight"),
        (lambda s: s.update(post_reward_alpha=s["post_reward_alpha"][:2]), "post_reward_alpha"),
        (lambda s: s.pop("post_habit_alpha"), "post_habit_alpha"),
        # a checkpoint of the per-session rule this replaced
        (lambda s: s.update(post_rbar=s.pop("post_expected_reward")), "older townsquare"),
        (lambda s: s.update(follow_baseline=s["follow_baseline"] * np.nan), "follow_baseline"),
        (lambda s: s.update(follow_values=s["follow_values"] + 5), "follow_values"),
        (lambda s: s.update(follow_keys=s["follow_keys"] * 0), "follow_keys"),
        (lambda s: s.update(follow_keys=-s["follow_keys"] - 1), "follow_keys"),
        (lambda s: s.update(follow_followed=s["follow_followed"][:1]), "follow_followed"),
        (lambda s: s.update(follow_capacity=np.array(2**40)), "follow_capacity"),
        (lambda s: s.update(follow_capacity=s["follow_capacity"] + 1), "follow_capacity"),
        (lambda s: s.pop("follow_keys"), "follow_keys"),
    ],
)
def test_load_state_refuses_bad_arrays(change, fragment):
    world, _ = build_world(small())
    for _ in range(4):
        world.step()
    policy = world.policies[Role.CITIZEN]
    state = {k: np.array(v) for k, v in policy.state().items()}
    change(state)
    with pytest.raises(ValueError, match=fragment):
        policy.load_state(state)


def test_learned_runs_resume_exactly(tmp_path, monkeypatch):
    sc = small(citizen={"expression": "social_rl"})
    reference = metrics_bytes(sc, tmp_path / "ref")
    out = tmp_path / "broken"
    crash_during(Run.start(sc, out), monkeypatch, at=7)
    Run.resume(out).execute()
    assert (out / "metrics.parquet").read_bytes() == reference


# ------------------------------------------------------------------ the scenario
def test_learned_scenario_is_default_with_every_citizen_and_influencer_learning():
    learned, default = load_scenario("learned"), load_scenario("default")
    a, b = learned.model_dump(), default.model_dump()
    for section in (a, b):
        section.pop("name")
        for role in ("citizen", "influencer"):
            for key in ("posting", "following", "expression"):
                section["roles"][role].pop(key)
    assert a == b
    for role in ("citizen", "influencer"):
        cfg = getattr(learned.roles, role)
        assert cfg.posting == cfg.following == "learned"
    assert learned.roles.citizen.expression == "social_rl"
    result = invoke("scenarios")
    assert result.exit_code == 0 and "learned" in result.output


def test_the_scenario_copy_matches_the_builtin():
    from pathlib import Path

    copy = Path(__file__).resolve().parents[1] / "scenarios" / "learned.yaml"
    assert copy.read_text() == builtin_scenarios()["learned"].read_text()
    assert yaml.safe_load(copy.read_text())["name"] == "learned"


def test_learned_runs_deterministically(tmp_path):
    sc = load_scenario("learned", ["users=1500", "steps=10"])
    a = metrics_bytes(sc, tmp_path / "a")
    assert metrics_bytes(sc, tmp_path / "b") == a
    d = metrics_bytes(load_scenario("default", ["users=1500", "steps=10"]), tmp_path / "d")
    assert d != a


# ------------------------------------------------------------------ bad values
@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("roles.citizen.posting=sometimes", "roles.citizen.posting"),
        ("roles.citizen.posting=true", "roles.citizen.posting"),
        ("roles.citizen.posting_alpha=0", "roles.citizen.posting_alpha"),
        ("roles.citizen.posting_alpha=1.5", "roles.citizen.posting_alpha"),
        ("roles.citizen.posting_alpha=.nan", "roles.citizen.posting_alpha"),
        ("roles.citizen.posting_prior=0", "roles.citizen.posting_prior"),
        ("roles.citizen.posting_rates=median", "roles.citizen.posting_rates"),
        ("roles.citizen.posting_habit=-0.1", "roles.citizen.posting_habit"),
        ("roles.citizen.posting_habit=1.1", "roles.citizen.posting_habit"),
        ("roles.citizen.posting_habit=.nan", "roles.citizen.posting_habit"),
        ("roles.citizen.posting_habit_alpha=0", "roles.citizen.posting_habit_alpha"),
        ("roles.citizen.posting_habit_alpha=2", "roles.citizen.posting_habit_alpha"),
        ("roles.influencer.posting_habit=many", "roles.influencer.posting_habit"),
        ("roles.influencer.posting_rates=1", "roles.influencer.posting_rates"),
        ("roles.citizen.posting_prior=-1", "roles.citizen.posting_prior"),
        ("roles.citizen.posting_prior=1e7", "roles.citizen.posting_prior"),
        ("roles.citizen.posting_prior='1'", "roles.citizen.posting_prior"),
        ("roles.citizen.following=maybe", "roles.citizen.following"),
        ("roles.citizen.following_alpha=0", "roles.citizen.following_alpha"),
        ("roles.citizen.following_alpha=2", "roles.citizen.following_alpha"),
        ("roles.influencer.posting=often", "roles.influencer.posting"),
        ("roles.influencer.following_alpha=-0.1", "roles.influencer.following_alpha"),
        ("roles.influencer.posting_prior=.inf", "roles.influencer.posting_prior"),
        ("feed.out_of_network=-0.1", "feed.out_of_network"),
        ("feed.out_of_network=1.5", "feed.out_of_network"),
        ("feed.out_of_network=half", "feed.out_of_network"),
        ("feed.out_of_network=true", "feed.out_of_network"),
        ("population.activity.daily_share=-0.1", "population.activity.daily_share"),
        ("population.activity.daily_share=1.0", "population.activity.daily_share"),
        ("population.activity.daily_share=.nan", "population.activity.daily_share"),
        ("population.activity.daily_share=most", "population.activity.daily_share"),
    ],
)
def test_bad_values_of_every_new_key_are_one_line_errors(
    small_scenario, tmp_path, setting, fragment
):
    result = quick_run(small_scenario, tmp_path / "r", "--set", setting)
    one_line_error(result, fragment)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("key", ["posting", "following"])
def test_learning_needs_the_scripted_policy_line(key, tmp_path):
    with pytest.raises(UserError, match=f"roles.citizen.{key}: learned needs policy"):
        validate({"roles": {"citizen": {key: "learned", "policy": str(tmp_path / "q.npz")}}})


def test_influencers_may_learn_posting_and_following_but_not_expression():
    sc = load_scenario("default", ["users=800", "roles.influencer.posting=learned"])
    world, _ = build_world(sc)
    policy = world.policies[Role.INFLUENCER]
    assert isinstance(policy, LearningPopulation) and policy.posting and not policy.following
    assert not isinstance(world.policies[Role.CITIZEN], LearningPopulation)
    with pytest.raises(UserError, match="influencer"):
        load_scenario("learned", ["roles.influencer.expression=social_rl"])


def test_only_users_whose_posts_left_the_feeds_move_their_expectation():
    """With visits apart from posting, a visit that only reads writes nothing, so it
    leaves the expectation where it was: only the authors of closed posts move."""
    sc = small(population={"activity": {"mean": 0.1, "daily_share": 0.46}}, steps=10)
    world, _ = build_world(sc)
    policy = world.policies[Role.CITIZEN]
    start = policy.expected_reward.copy()
    for _ in range(10):
        world.step()
    posts = world.posts
    closed = posts.step_start[10 - world.recommender.window]
    wrote = np.zeros(world.n, bool)
    wrote[posts.author[:closed][posts.kind[:closed] == 0]] = True
    citizens = world.population.ids_of(Role.CITIZEN)
    moved = policy.expected_reward != start
    assert not moved[citizens[~wrote[citizens]]].any()
    assert moved[citizens].sum() > 50
