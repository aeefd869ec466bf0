"""Behaviour of the step pipeline: invariants, roles, feeds, opinions, moderation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townsquare.build import build_world
from townsquare.config import validate
from townsquare.world import Actions, Observations, PostKind, Role, World, bimodality_coefficient
from townsquare.world.feed import Recommender


def make_world(**overrides) -> World:
    data = {"users": 500, "steps": 10, "seed": 1}
    for key, value in overrides.items():
        node = data
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    world, _ = build_world(validate(data))
    return world


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    ranking=st.sampled_from(["chronological", "engagement", "personalised"]),
    k=st.integers(1, 30),
    window=st.integers(1, 4),
)
def test_likes_never_exceed_readers(seed, ranking, k, window):
    world = make_world(
        seed=seed,
        feed__ranking=ranking,
        feed__k=k,
        feed__window=window,
        roles__citizen__like_rate=1.0,
        roles__citizen__like_tolerance=5.0,
    )
    shown_pairs = set()
    for _ in range(6):
        ev = world.step()
        pairs = set(zip(ev.like_user.tolist(), ev.like_post.tolist(), strict=True))
        assert len(pairs) == ev.like_user.size, "a user liked the same post twice in a step"
        assert not pairs & shown_pairs, "a post was liked again by the same user"
        shown_pairs |= pairs
    posts = world.posts
    assert np.all(posts.likes <= posts.views)
    assert posts.likes.sum() > 0


def spy_on_feeds(world: World) -> list[tuple[int, int]]:
    """Wrap every policy so the (user, post) pairs shown in feeds are collected."""
    shown: list[tuple[int, int]] = []
    for role, policy in list(world.policies.items()):

        def act(obs, rng, _policy=policy):
            users = np.broadcast_to(obs.users[:, None], obs.feed.shape)[obs.shown]
            shown.extend(zip(users.tolist(), obs.feed[obs.shown].tolist(), strict=True))
            return _policy.act(obs, rng)

        world.policies[role] = type("Spy", (), {"act": staticmethod(act)})()
    return shown


@pytest.mark.parametrize("ranking", ["chronological", "engagement", "personalised"])
def test_feed_never_repeats_a_post_to_a_user(ranking):
    world = make_world(
        users=300,
        feed__ranking=ranking,
        feed__window=4,
        population__activity__mean=0.9,
        population__activity__sigma=0.0,
    )
    shown = spy_on_feeds(world)
    for _ in range(6):
        world.step()
    assert len(shown) > 1000
    assert len(set(shown)) == len(shown)
    posts = np.array([p for _, p in shown])
    assert np.array_equal(np.bincount(posts, minlength=len(world.posts)), world.posts.views)


def test_follower_counts_match_graph_after_a_run():
    world = make_world(users=800)
    for _ in range(8):
        world.step()
    src, dst = world.graph.edges()
    assert np.array_equal(world.graph.in_deg, np.bincount(dst, minlength=world.n))
    assert np.array_equal(world.graph.out_deg, np.bincount(src, minlength=world.n))
    assert np.unique(src * world.n + dst).size == src.size
    assert not np.any(src == dst)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), strikes=st.integers(1, 2), check_every=st.integers(1, 2))
def test_suspended_users_act_no_more(seed, strikes, check_every):
    world = make_world(
        users=1000,
        seed=seed,
        moderation__threshold=1.0,
        moderation__strikes=strikes,
        moderation__check_every=check_every,
        moderation__survival=0.0,  # every flagged account is suspended at once
        # bots as hyperactive as before their activity was sourced: the rule flags them
        roles__socialbot__activity=0.8,
        roles__socialbot__post_prob=0.8,
        roles__socialbot__repost_rate=0.2,
        roles__socialbot__follows_per_step=2,
    )
    suspended_at: dict[int, int] = {}
    for _ in range(10):
        ev = world.step()
        gone = set(suspended_at)
        acted = (
            set(ev.post_author.tolist()) | set(ev.like_user.tolist()) | set(ev.follow_src.tolist())
        )
        assert not acted & gone, "a suspended user acted"
        for u in ev.suspended.tolist():
            suspended_at[u] = ev.step
    assert suspended_at, "the strict detector should suspend someone"
    # bots are the most active, so they are caught first
    roles = world.population.role[list(suspended_at)]
    assert (roles == Role.SOCIALBOT).mean() > 0.5


def test_suspended_authors_vanish_from_feeds():
    world = make_world(users=500)
    world.step()
    world.population.suspended[:] = False
    authors = world.posts.author
    world.population.suspended[np.unique(authors)] = True
    world.step()
    # nobody left who posted before can appear: feeds of step 1 showed only new posts
    assert world.posts.views[: len(authors)].sum() == 0


def capture_citizen_step(world: World) -> dict:
    """Step once and return the citizens' observations with each reader's followees as
    they were when the feed was built (policies act before follows are applied)."""
    captured: dict = {}
    policy = world.policies[Role.CITIZEN]

    class Spy:
        def act(self, obs: Observations, rng):
            captured["obs"] = obs
            captured["followees"] = [set(world.graph.followees(int(u)).tolist()) for u in obs.users]
            return policy.act(obs, rng)

    world.policies[Role.CITIZEN] = Spy()
    world.step()
    world.policies[Role.CITIZEN] = policy
    return captured


def test_chronological_feed_is_newest_first_from_followees():
    world = make_world(
        users=400, feed__ranking="chronological", feed__k=10, population__activity__mean=0.5
    )
    world.step()
    captured = capture_citizen_step(world)
    obs = captured["obs"]
    assert obs.shown.sum() > 100
    for i in range(len(obs)):
        row = obs.feed[i][obs.shown[i]]
        assert np.all(np.diff(row) < 0), "chronological feed must be newest first"
        authors = set(world.posts.author[row].tolist())
        assert authors <= captured["followees"][i]
        assert int(obs.users[i]) not in authors


def test_personalised_feed_puts_similar_stances_first():
    world = make_world(
        users=400, feed__ranking="personalised", feed__k=15, population__activity__mean=0.5
    )
    world.step()
    obs = capture_citizen_step(world)["obs"]
    gaps = np.abs(obs.feed_stance - obs.opinion[:, :1])
    assert obs.shown.sum() > 100
    for i in range(len(obs)):
        g = gaps[i][obs.shown[i]]
        assert np.all(np.diff(g) >= -1e-9)


def test_engagement_feed_ranks_by_decayed_engagement():
    world = make_world(users=400, feed__ranking="engagement", population__activity__mean=0.5)
    world.step()
    world.step()
    posts = world.posts
    heat_before = (1.0 + posts.likes + 2.0 * posts.reposts + posts.replies) * 0.5 ** (
        world.t - posts.step
    )
    obs = capture_citizen_step(world)["obs"]
    assert obs.shown.sum() > 100
    for i in range(len(obs)):
        h = heat_before[obs.feed[i][obs.shown[i]]]
        assert np.all(np.diff(h) <= 1e-9)


@pytest.fixture(scope="module")
def busy_world() -> World:
    """A platform a few steps in: trending posts have likes, and readers' networks post."""
    world = make_world(
        users=400,
        seed=3,
        feed__ranking="engagement",
        population__activity__mean=0.5,
        roles__influencer__count=20,
    )
    for _ in range(4):
        world.step()
    return world


def _feed_sources(world: World, share: float, k: int = 20):
    """Each user's feed from one state, with ``share``: posts by followed and by other
    accounts."""
    recommender = Recommender("engagement", k, window=3, trending=50, out_of_network=share)
    users = np.arange(world.population.n)
    cursor = np.full(world.population.n, -1, np.int64)
    feed = recommender.feed_for(
        users, world.graph, world.posts, world.population.opinion, world.population.suspended,
        cursor, world.t,
    )  # fmt: skip
    shown = feed >= 0
    author = np.where(shown, world.posts.author[np.maximum(feed, 0)], -1)
    followed = np.array([np.isin(author[u], world.graph.followees(int(u))) for u in users]) & shown
    return followed.sum(axis=1), (shown & ~followed).sum(axis=1)


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5])
def test_out_of_network_posts_take_at_most_their_share_of_a_feed(busy_world, share):
    k = 20
    slots = int(share * k)
    inside, outside = _feed_sources(busy_world, share)
    # more than their share only where the reader's own network left slots empty
    assert np.all((outside <= slots) | (inside < k - slots))
    full, free = _feed_sources(busy_world, 1.0)
    assert (free > max(slots, 1)).any()  # uncapped, trending takes more somewhere
    # the cap hands the slots to the reader's network and never leaves one empty; the
    # network keeps every slot it won uncapped, up to the k - slots that are its own
    # (the two groups are ranked apart: docs/world.md)
    assert inside.sum() > full.sum() and np.all(inside >= np.minimum(full, k - slots))
    assert np.all(inside + outside >= np.minimum(k, full + free))


def test_readers_offered_only_their_unseen_trending_posts_get_the_whole_lists_feeds(
    busy_world,
):
    """A reader who has seen all but a few trending posts is offered just those, in the
    list's order (`feed.FEW_UNSEEN`); the feeds are those of going through the whole list,
    which a window whose newest-first order names only its newest post forces."""
    from townsquare.world.feed import FEW_UNSEEN

    world = busy_world
    pop = world.population
    for ranking in ("engagement", "personalised", "hot"):
        recommender = Recommender(ranking, 20, window=3, trending=50, out_of_network=0.5)
        window = recommender.window_of(world.graph, world.posts, pop.opinion, pop.suspended, 4)
        trending, newest = window.index[6], window.index[7]
        assert trending.size == 50 and np.array_equal(trending[newest], np.sort(trending)[::-1])
        whole = window._replace(
            index=window.index[:7] + (np.full_like(newest, newest[0]),) + window.index[8:]
        )
        # cursors leaving each reader none, a few or many of the list unseen
        users = np.arange(pop.n)
        ids = np.sort(trending)
        cut = np.random.default_rng(1).integers(0, ids.size + 1, users.size)
        cursor = np.where(cut > 0, ids[np.maximum(cut - 1, 0)], ids[0] - 1)
        unseen = (trending[None, :] > cursor[:, None]).sum(axis=1)
        assert (unseen == 0).any() and ((unseen > 0) & (unseen <= FEW_UNSEEN)).any()
        assert (unseen > FEW_UNSEEN).any()
        got = recommender.items_in(window, users, cursor)
        want = recommender.items_in(whole, users, cursor)
        for a, b in zip(got, want, strict=True):
            assert np.array_equal(a, b), ranking
        assert (got.feed >= 0).sum() > 100


def test_out_of_network_slots_are_the_share_of_k_rounded_down():
    assert Recommender("engagement", 100, out_of_network=0.29).out_slots == 29
    assert Recommender("engagement", 50, out_of_network=0.58).out_slots == 29
    assert Recommender("personalised", 20, out_of_network=0.5).out_slots == 10
    assert Recommender("engagement", 20, out_of_network=0.04).out_slots == 0
    # a chronological timeline offers no trending posts: nothing to cap
    assert Recommender("chronological", 20, out_of_network=0.25).out_slots == 20


def test_trending_beyond_what_a_feed_record_holds_is_refused():
    # the kernel keeps a trending index in 16 bits of each candidate (world/feed.py)
    assert Recommender("engagement", 20, trending=65_534).trending == 65_534
    with pytest.raises(ValueError, match="trending must be between 0 and 65534"):
        Recommender("engagement", 20, trending=65_535)
    with pytest.raises(Exception, match="feed.trending"):
        validate({"feed": {"trending": 65_535}})


def test_policies_are_called_once_per_role_with_only_that_role():
    world = make_world(users=600)
    calls = []
    for role, policy in list(world.policies.items()):

        def spy(obs, rng, _policy=policy, _role=role):
            calls.append((_role, obs.users))
            assert np.all(world.population.role[obs.users] == _role)
            return _policy.act(obs, rng)

        world.policies[role] = type("Spy", (), {"act": staticmethod(spy)})()
    world.step()
    roles = [r for r, _ in calls]
    assert len(roles) == len(set(roles))
    assert Role.CITIZEN in roles


def test_a_bad_policy_output_is_rejected():
    world = make_world(users=300)

    class Broken:
        def act(self, obs, rng):
            acts = Actions.nothing(len(obs), obs.feed.shape[1])
            acts.like = acts.like[:, :1]
            return acts

    world.policies[Role.CITIZEN] = Broken()
    with pytest.raises(ValueError, match="like"):
        world.step()


def test_posts_reposts_and_replies_reference_parents():
    world = make_world(users=800, roles__citizen__repost_rate=0.2, roles__citizen__reply_rate=0.2)
    for _ in range(5):
        world.step()
    p = world.posts
    derived = p.kind != PostKind.POST
    assert derived.any()
    assert np.all(p.parent[derived] >= 0)
    assert np.all(p.parent[derived] < np.flatnonzero(derived))  # parents are older
    assert np.all(p.parent[~derived] == -1)
    reposts = p.kind == PostKind.REPOST
    assert np.allclose(p.stance[reposts], p.stance[p.parent[reposts]])
    assert p.reposts.sum() == reposts.sum()
    assert p.replies.sum() == (p.kind == PostKind.REPLY).sum()


def test_bounded_confidence_contracts_opinions():
    world = make_world(
        users=1000,
        opinion__epsilon=2.0,
        opinion__mu=0.5,
        population__activity__mean=0.8,
        population__activity__sigma=0.0,
        roles__socialbot__fraction=0.0,
        roles__candidate__count=0,
    )
    start = world.population.opinion[world.population.role == Role.CITIZEN, 0].std()
    for _ in range(15):
        ev = world.step()
    assert ev.metrics["opinion_std"] < 0.6 * start


def test_candidates_and_bots_keep_their_positions():
    world = make_world(users=800)
    pop = world.population
    cand = pop.ids_of(Role.CANDIDATE)
    bots = pop.ids_of(Role.SOCIALBOT)
    before = pop.opinion.copy()
    for _ in range(5):
        world.step()
    assert np.array_equal(pop.opinion[cand], before[cand])
    assert np.array_equal(pop.opinion[bots], before[bots])
    assert sorted(pop.opinion[cand, 0].tolist()) == [-0.5, 0.5]


def test_influencers_are_the_most_followed_at_start():
    world = make_world(users=2000, roles__influencer__count=10)
    infl = world.population.ids_of(Role.INFLUENCER)
    others = np.setdiff1d(np.arange(world.n), infl)
    assert world.graph.in_deg[infl].min() >= np.sort(world.graph.in_deg[others])[-1]


def test_activity_is_heavy_tailed():
    world = make_world(
        users=20_000,
        roles__socialbot__fraction=0.0,
        roles__influencer__count=0,
        roles__candidate__count=0,
    )
    act = np.sort(world.population.activity)[::-1]
    top10 = act[: act.size // 10].sum() / act.sum()
    assert 0.6 < top10 < 0.95
    assert act.mean() == pytest.approx(0.1, rel=0.05)


def test_bimodality_coefficient():
    rng = np.random.default_rng(0)
    assert bimodality_coefficient(rng.normal(size=20_000)) == pytest.approx(1 / 3, abs=0.02)
    assert bimodality_coefficient(rng.uniform(-1, 1, 20_000)) == pytest.approx(5 / 9, abs=0.02)
    two_camps = np.concatenate([rng.normal(-0.7, 0.1, 5000), rng.normal(0.7, 0.1, 5000)])
    assert bimodality_coefficient(two_camps) > 0.8
    assert np.isnan(bimodality_coefficient(np.ones(10)))
    assert np.isnan(bimodality_coefficient(np.arange(3.0)))


def test_state_round_trip_continues_identically():
    a = make_world(users=700)
    for _ in range(4):
        a.step()
    arrays, meta = a.state()
    b = make_world(users=700)
    b.load_state(arrays, meta)
    for _ in range(4):
        ea, eb = a.step(), b.step()
        assert ea.metrics == eb.metrics
        assert np.array_equal(ea.post_id, eb.post_id)
        assert np.array_equal(ea.like_post, eb.like_post)


def test_multiple_topics_have_their_own_metrics():
    world = make_world(users=500, population__topics=3)
    ev = world.step()
    assert {"opinion_mean_t1", "opinion_std_t2", "bimodality_t2"} <= set(ev.metrics)
    assert world.posts.topic.max() <= 2


@pytest.mark.parametrize("rule", ["bounded_confidence", "hegselmann_krause", "deffuant", "voter"])
def test_every_platform_opinion_rule_runs_and_moves_only_susceptible_readers(rule):
    world = make_world(
        users=800, opinion__rule=rule, opinion__epsilon=0.5, population__activity__mean=0.5
    )
    pop = world.population
    frozen = pop.susceptibility == 0
    before = pop.opinion.copy()
    for _ in range(5):
        world.step()
    assert np.array_equal(pop.opinion[frozen], before[frozen])
    moved = np.any(pop.opinion != before, axis=1)
    assert moved.sum() > 50
    assert np.all(np.abs(pop.opinion) <= 1.0)


def test_platform_voter_rule_copies_read_stances():
    world = make_world(
        users=600,
        opinion__rule="voter",
        population__activity__mean=0.6,
        roles__socialbot__fraction=0.0,
    )
    world.population.susceptibility[:] = np.where(world.population.susceptibility > 0, 1.0, 0.0)
    for _ in range(3):
        world.step()
    stances = set(np.round(world.posts.stance, 12).tolist())
    citizens = world.population.role == Role.CITIZEN
    before = world.population.opinion[citizens, 0].copy()
    world.step()
    after = world.population.opinion[citizens, 0]
    changed = after != before
    assert changed.sum() > 20
    assert set(np.round(after[changed], 12).tolist()) <= stances | set(
        np.round(world.posts.stance, 12).tolist()
    )


def test_platform_deffuant_ignores_far_posts():
    world = make_world(users=600, opinion__rule="deffuant", opinion__epsilon=1e-9)
    before = world.population.opinion.copy()
    for _ in range(4):
        world.step()
    assert np.array_equal(world.population.opinion, before)


# ------------------------------------------------------------------ visits
def test_citizen_visits_bring_the_daily_share_to_one_visit_a_step():
    from townsquare.build import citizen_visits
    from townsquare.world.population import heavy_tailed_activity

    activity = heavy_tailed_activity(np.random.default_rng(0), 5000, 0.1, 2.0)
    citizens = np.ones(5000, bool)
    citizens[:100] = False  # other roles keep their activity
    visits = citizen_visits(activity, citizens, 0.46)
    assert np.mean(visits[citizens] == 1.0) == pytest.approx(0.46, abs=0.005)
    assert np.all(visits >= activity) and np.all(visits <= 1.0)
    assert np.array_equal(visits[~citizens], activity[~citizens])
    # one factor for every citizen under the cap: the order and the ratios stay
    below = citizens & (visits < 1.0)
    ratio = visits[below] / activity[below]
    assert np.allclose(ratio, ratio[0])
    assert np.array_equal(citizen_visits(activity, citizens, 0.0), activity)


def _posts_and_readers(daily_share: float) -> tuple[float, float]:
    world = make_world(users=3000, seed=4, population__activity__daily_share=daily_share)
    posts, readers = [], []
    for _ in range(30):
        obs = world.begin_step()
        readers.append(sum(len(o) for o in obs.values()))
        events = world.finish_step()
        originals = events.post_kind == PostKind.POST
        posts.append(
            int(np.isin(events.post_author[originals], world.population.ids_of(Role.CITIZEN)).sum())
        )
    return float(np.mean(posts)), float(np.mean(readers))


def test_visits_add_readers_but_not_posts():
    posts, readers = _posts_and_readers(0.0)
    more_posts, more_readers = _posts_and_readers(0.46)
    assert more_readers > 3 * readers
    # citizens post in the sessions their activity gives, whatever their visits
    assert more_posts == pytest.approx(posts, rel=0.1)


def test_a_visit_beyond_the_activity_posts_nothing():
    world = make_world(users=2000, seed=5, population__activity__daily_share=0.46)
    world.step()

    class Poster:  # posts in every session it is asked about
        def act(self, obs, rng):
            acts = Actions.nothing(len(obs), obs.feed.shape[1])
            acts.post[:] = True
            seen.append(obs.may_post.copy())
            return acts

    seen: list[np.ndarray] = []
    world.policies[Role.CITIZEN] = Poster()
    events = world.step()
    may_post = seen[0]
    assert 0 < may_post.sum() < may_post.size  # some visits only read
    citizens = world.population.ids_of(Role.CITIZEN)
    written = np.isin(events.post_author, citizens) & (events.post_kind == PostKind.POST)
    assert written.sum() == may_post.sum()


def test_a_population_saved_without_visits_reads_in_its_posting_sessions():
    world = make_world(users=300)
    state = world.population.state()
    del state["visits"]
    from townsquare.world.population import Population

    loaded = Population.from_state(state)
    assert np.array_equal(loaded.visits, loaded.activity)
    state["visits"] = loaded.activity * 0.5
    state["visits"][loaded.activity == 0] = -1.0
    with pytest.raises(ValueError, match="visits"):
        Population.from_state(state)


# ------------------------------------------------------------------ rowwise roles in parts
class _Decisive:
    """A rowwise policy that draws nothing: each row's actions follow from that row, so
    any split of a batch gives the same actions. Notes the size of every batch."""

    rowwise = True

    def __init__(self):
        self.sizes: list[int] = []

    def act(self, obs, rng):
        self.sizes.append(len(obs))
        n, k = obs.feed.shape
        own = obs.opinion[:, :1]
        gap = np.abs(obs.feed_stance - own)
        acts = Actions.nothing(n, k)
        acts.post = obs.users % 3 == 0
        acts.post_stance = own[:, 0].copy()
        acts.like = obs.shown & (gap < 0.3)
        acts.repost = obs.shown & (gap < 0.05)
        acts.reply = obs.shown & (gap > 1.0)
        acts.reply_stance = np.broadcast_to(own, (n, k)).copy()
        new = obs.shown[:, 0] & ~obs.feed_followed[:, 0]
        acts.follow = np.where(new, obs.feed_author[:, 0], -1)[:, None]
        far = obs.feed_followed[:, -1] & (gap[:, -1] > 0.8)
        acts.unfollow = np.where(far, obs.feed_author[:, -1], -1)[:, None]
        return acts


def _decisive_world(chunk_rows: int, **overrides) -> tuple[World, _Decisive]:
    world = make_world(users=900, **overrides)
    decisive = _Decisive()
    for role in world.policies:
        world.policies[role] = decisive
    world.chunk_rows = chunk_rows
    return world, decisive


def _history(world: World, steps: int, whole_step: bool = True) -> list:
    """Everything the steps did and left: events, metrics, opinions, views, cursors."""
    out = []
    for _ in range(steps):
        if whole_step:
            ev = world.step()
        else:
            world.begin_step()
            ev = world.finish_step()
        for name in ("post_id", "post_author", "post_parent", "post_stance", "post_topic",
                     "like_user", "like_post", "follow_src", "follow_dst", "follow_action"):  # fmt: skip
            out.append((name, getattr(ev, name).tobytes()))
        out.append(repr(sorted(ev.metrics.items())))
    out += [world.population.opinion.tobytes(), world.posts.views.tobytes(), world.cursor.tobytes()]
    return out


@pytest.mark.parametrize("ranking", ["engagement", "personalised"])
@pytest.mark.parametrize("rule", ["bounded_confidence", "hegselmann_krause"])
def test_rowwise_roles_asked_in_parts_do_exactly_as_in_one_batch(ranking, rule):
    overrides = {"feed__ranking": ranking, "opinion__rule": rule}
    whole, one = _decisive_world(10**9, **overrides)
    expected = _history(whole, 6)
    assert max(one.sizes) > 7
    parts, small = _decisive_world(7, **overrides)
    assert _history(parts, 6) == expected
    assert max(small.sizes) == 7 and len(small.sizes) > len(one.sizes)
    assert sum(small.sizes) == sum(one.sizes)  # every reader asked once a step
    # begin_step hands every role's whole batch to its caller (RL environments)
    stepped, halves = _decisive_world(7, **overrides)
    assert _history(stepped, 6, whole_step=False) == expected
    assert halves.sizes == one.sizes


def test_scripted_roles_in_parts_draw_their_own_stream_and_keep_the_invariants():
    whole, parts = make_world(users=900), make_world(users=900)
    parts.chunk_rows = 50
    a, b = _history(whole, 5), _history(parts, 5)
    assert a != b  # the role's stream goes to the parts one after another
    posts = parts.posts
    assert np.all(posts.likes <= posts.views) and posts.likes.sum() > 0
    assert np.array_equal(parts.graph.in_deg, np.bincount(parts.graph.edges()[1], minlength=900))
    assert abs(len(posts) - len(whole.posts)) < 0.2 * len(whole.posts)
    # a role of at most chunk_rows readers is one part: the same stream as unsplit
    one = make_world(users=900)
    one.chunk_rows = 900
    assert _history(one, 5) == a


def test_a_rule_that_draws_for_readers_in_turn_sees_them_all_at_once():
    """voter and deffuant give their draws to readers by id: no role is split."""
    whole, parts = (
        make_world(users=900, opinion__rule="voter"),
        make_world(users=900, opinion__rule="voter"),
    )
    parts.chunk_rows = 7
    assert _history(parts, 5) == _history(whole, 5)


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 64])
def test_window_posts_grouped_by_author_newest_first_in_any_number_of_parts(parts):
    """The feed's author index: each author's window posts, newest first, where they
    start, and the newest of each author not hidden; the same however many threads
    share the authors out."""
    from townsquare.world.feed import _clear_heads, _group_by_author

    rng = np.random.default_rng(parts)
    n, lo = 50, 1000
    authors = rng.integers(0, n, 400).astype(np.int32)
    hidden = rng.random(n) < 0.2
    head = np.empty((n + 1, 2), np.int64)
    _clear_heads(head)
    grouped = np.empty(authors.size, np.int64)
    _group_by_author(authors, lo, hidden, head, grouped, parts)
    ids = lo + np.arange(authors.size)
    order = np.lexsort((-ids, authors))  # by author, newest first within one
    assert np.array_equal(grouped, ids[order])
    starts = np.searchsorted(authors[order], np.arange(n + 1))
    assert np.array_equal(head[:, 0], starts)
    for a in range(n):
        mine = ids[authors == a]
        newest = mine.max() if mine.size and not hidden[a] else -1
        assert head[a, 1] == newest
