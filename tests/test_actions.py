"""The platform's further actions (docs/platform.md): quote, dislike, mention, mute and
unmute, report, search. Each is checked by what it does to the platform, with a policy
that takes it on purpose, and by the scripted citizen's rates."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_checks import one_line_error, quick_run
from resume_checks import assert_resume_is_exact
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.runner import Run
from townsquare.world import Observations, PostKind, Role, World

RATES = {
    "quote_rate": 0.2,
    "dislike_rate": 0.3,
    "mention_rate": 0.5,
    "mute_rate": 0.3,
    "report_rate": 0.2,
    "search_rate": 0.2,
}


def make_world(**sections) -> World:
    data = {"users": 600, "steps": 20, "seed": 4, "population": {"activity": {"mean": 0.5}}}
    data.update(sections)
    world, _ = build_world(validate(data))
    return world


class Scripted:
    """The citizens' own policy, then ``extra(obs, acts)`` on top: a policy that takes
    one action on purpose."""

    rowwise = False

    def __init__(self, world: World, extra):
        self.inner = world.policies[Role.CITIZEN]
        self.extra = extra
        self.seen: list[Observations] = []

    def act(self, obs, rng):
        acts = self.inner.act(obs, rng)
        self.seen.append(obs)
        self.extra(obs, acts)
        return acts


def drive(world: World, extra) -> Scripted:
    current = world.policies[Role.CITIZEN]
    if isinstance(current, Scripted):  # a new extra replaces the last one
        world.policies[Role.CITIZEN] = current.inner
    policy = Scripted(world, extra)
    world.policies[Role.CITIZEN] = policy
    return policy


# ---------------------------------------------------------------- quote


def test_a_quote_is_a_share_with_its_own_stance():
    world = make_world()
    world.step()

    def quote_first(obs, acts):
        acts.quote = np.zeros_like(acts.like)
        acts.quote[:, 0] = obs.feed[:, 0] >= 0
        acts.quote_stance = np.full(acts.like.shape, -0.75)

    drive(world, quote_first)
    reposts_before = world.posts.reposts.copy()
    events = world.step()
    quotes = events.post_id[events.post_kind == PostKind.QUOTE]
    assert quotes.size > 20 and events.metrics["quotes"] == quotes.size
    posts = world.posts
    assert np.all(posts.stance[quotes] == -0.75)
    parents = posts.parent[quotes]
    assert np.all(parents >= 0) and np.all(posts.step[parents] < world.t - 1)
    # each quote shares its post: the quoted posts' share counts rise by their quotes
    gained = posts.reposts[: reposts_before.size] - reposts_before
    quoted = np.bincount(parents, minlength=reposts_before.size)
    assert np.all(gained >= quoted)


def test_quotes_get_words_of_their_own_stance(tmp_path):
    out = tmp_path / "r"
    Run.start(
        validate(
            {
                "users": 600,
                "steps": 4,
                "seed": 2,
                "text": {"backend": "offline"},
                "roles": {"citizen": {"quote_rate": 0.3}},
            }
        ),  # fmt: skip
        out,
    ).execute()
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT parent, text FROM posts WHERE kind = 'quote'").fetchall()
    assert len(rows) > 20 and all(parent >= 0 and text for parent, text in rows)


# ---------------------------------------------------------------- dislike


def test_dislikes_count_on_a_platform_that_has_them():
    world = make_world(actions={"dislike": True})
    world.step()

    def dislike_all(obs, acts):
        acts.dislike = obs.feed >= 0

    policy = drive(world, dislike_all)
    before = world.posts.dislikes.copy()
    events = world.step()
    shown = np.concatenate([o.feed[o.feed >= 0] for o in policy.seen])
    gained = world.posts.dislikes[: before.size] - before
    assert np.array_equal(gained, np.bincount(shown, minlength=before.size)[: before.size])
    assert events.metrics["dislikes"] == shown.size
    # a dislike is never more than a view
    assert np.all(world.posts.dislikes <= world.posts.views)


def test_a_platform_without_dislikes_refuses_them():
    world = make_world()  # Twitter/X's actions: no down-vote
    world.step()
    drive(world, lambda obs, acts: setattr(acts, "dislike", obs.feed >= 0))
    with pytest.raises(ValueError, match="Actions.dislike: this platform offers no dislike"):
        world.step()


def test_a_scripted_rate_of_an_action_not_offered_is_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("users: 300\nroles: {citizen: {dislike_rate: 0.2}}\n")
    one_line_error(quick_run(path, tmp_path / "out"), "dislike_rate", "actions.dislike")


# ---------------------------------------------------------------- mention


def test_a_mention_reaches_its_target_whoever_it_follows():
    world = make_world()
    world.step()
    citizens = world.population.ids_of(Role.CITIZEN)
    # a target that follows nobody: only a mention can reach its feed
    target = int(citizens[-1])
    for followee in world.graph.followees(target):
        world.graph.unfollow(np.array([target]), np.array([followee]))
    world.population.visits[target] = 1.0

    def mention_target(obs, acts):
        acts.mention = np.where(obs.users != target, target, -1)

    policy = drive(world, mention_target)
    events = world.step()
    assert events.mention_post.size > 10 and np.all(events.mention_target == target)
    drive(world, lambda obs, acts: None)
    world.step()
    seen = world.policies[Role.CITIZEN].seen[-1]
    row = int(np.flatnonzero(seen.users == target)[0])
    feed = seen.feed[row]
    shown = feed[feed >= 0]
    # the mentions come first, newest first, and nothing else could reach it
    assert shown.size == min(world.recommender.k, events.mention_post.size)
    assert set(shown.tolist()) <= set(events.mention_post.tolist())
    assert np.all(np.diff(shown) < 0)
    assert not seen.feed_followed[row][feed >= 0].any()
    assert policy.seen  # the mentions were the policy's


def test_a_mention_of_a_suspended_account_or_of_oneself_is_dropped():
    world = make_world()
    world.step()
    suspended = 5
    world.population.suspended[suspended] = True

    def mention(obs, acts):
        acts.mention = np.where(np.arange(len(obs)) % 2 == 0, suspended, obs.users)

    drive(world, mention)
    events = world.step()
    assert events.mention_post.size == 0 and events.mentions_dropped > 10
    assert events.metrics["mentions"] == 0


def test_a_mention_of_an_account_that_does_not_exist_is_an_error():
    world = make_world()
    drive(world, lambda obs, acts: setattr(acts, "mention", np.full(len(obs), 10**6)))
    with pytest.raises(ValueError, match="Actions.mention: there is no account 1000000"):
        world.step()


# ---------------------------------------------------------------- mute


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), ranking=st.sampled_from(["engagement", "hot", "random"]))
def test_a_muted_account_never_appears(seed, ranking):
    world = make_world(seed=seed, feed={"ranking": ranking})
    world.step()
    muted_at: dict[tuple[int, int], int] = {}  # (user, account) -> the step it was muted

    def mute_authors(obs, acts):
        # mute the author of the first slot (often a followee) and remember when
        acts.mute = np.where(obs.feed[:, :1] >= 0, obs.feed_author[:, :1], -1)
        for u, a in zip(obs.users.tolist(), acts.mute[:, 0].tolist(), strict=True):
            if a >= 0 and a != u:
                muted_at.setdefault((u, a), obs.step)

    policy = drive(world, mute_authors)
    for _ in range(4):
        world.step()
    checked = 0
    for obs in policy.seen:
        for i, u in enumerate(obs.users.tolist()):
            for a in set(obs.feed_author[i][obs.feed[i] >= 0].tolist()):
                # muted at the end of an earlier step: never shown since
                assert muted_at.get((u, a), obs.step) >= obs.step, (u, a, obs.step)
            checked += any(step < obs.step for (v, _), step in muted_at.items() if v == u)
    assert checked > 50


def test_unmuting_lets_an_account_back():
    world = make_world()
    world.step()
    world.mutes = None

    def mute_then_unmute(obs, acts):
        follows = [world.graph.followees(int(u)) for u in obs.users]
        first = np.array([f[0] if f.size else -1 for f in follows], np.int64)[:, None]
        if world.t == 1:
            acts.mute = first
        elif world.t == 3:
            acts.unmute = first

    drive(world, mute_then_unmute)
    events = world.step()
    assert events.metrics["mutes"] > 50 and world.mutes.edge_count == events.metrics["mutes"]
    world.step()
    muted = world.mutes.edge_count
    events = world.step()
    assert events.metrics["unmutes"] > 0
    assert world.mutes.edge_count == muted - events.metrics["unmutes"]
    unmuted = events.mute_dst[events.mute_action < 0]
    src = events.mute_src[events.mute_action < 0]
    assert not world.mutes.follows(src, unmuted).any()


# ---------------------------------------------------------------- report


def test_reports_strike_an_account_whatever_its_activity():
    world = make_world(moderation={"survival": 0.0, "strikes": 1, "check_every": 1})
    world.step()
    quiet = int(world.population.ids_of(Role.CITIZEN)[0])
    world.detector.rate[:] = 0.0

    def report_quiet(obs, acts):
        acts.report = (obs.feed >= 0) & (obs.feed_author == quiet)

    # the account's posts must be shown to be reported: a few, liked enough to trend
    ids = world.posts.add(np.full(5, quiet), world.t - 1, PostKind.POST, np.zeros(5), np.zeros(5))
    world.posts.likes[ids] = 1000
    drive(world, report_quiet)
    assert not world.population.suspended[quiet]
    events = world.step()
    reports = int((world.posts.author[events.report_post] == quiet).sum())
    assert reports >= 2 and events.metrics["reports"] == events.report_post.size
    # struck at the check (a quiet account: its rate never would), suspended at once
    assert world.detector.rate[quiet] < world.detector.threshold
    assert world.population.suspended[quiet] and quiet in events.suspended.tolist()


# ---------------------------------------------------------------- search


def test_a_search_pins_the_newest_posts_on_its_topic_in_the_next_feed():
    world = make_world(
        population={"activity": {"mean": 0.5}, "topics": 3}, actions={"search_results": 4}
    )
    world.step()
    world.step()
    searcher = int(world.population.ids_of(Role.CITIZEN)[3])
    world.population.visits[searcher] = 1.0

    def search_topic_2(obs, acts):
        acts.search = np.where(obs.users == searcher, 2, -1)

    drive(world, search_topic_2)
    events = world.step()
    assert events.search_user.tolist() == [searcher] and events.metrics["searches"] == 1
    drive(world, lambda obs, acts: None)
    world.step()
    seen = world.policies[Role.CITIZEN].seen[-1]
    row = int(np.flatnonzero(seen.users == searcher)[0])
    pinned = seen.feed[row][:4]
    assert np.all(world.posts.topic[pinned] == 2)
    assert np.all(world.posts.author[pinned] != searcher)
    assert np.all(np.diff(pinned) < 0)  # newest first
    # answered once: the search is spent
    assert world.pending_search[searcher] == -1


# ---------------------------------------------------------------- all of them


def test_the_scripted_rates_take_every_action_and_likes_stay_below_views():
    world = make_world(actions={"dislike": True}, roles={"citizen": RATES})
    totals = dict.fromkeys(("quotes", "dislikes", "mentions", "reports", "mutes", "searches"), 0)
    for _ in range(6):
        metrics = world.step().metrics
        for key in totals:
            totals[key] += metrics[key]
    assert all(v > 0 for v in totals.values()), totals
    posts = world.posts
    assert np.all(posts.likes <= posts.views) and np.all(posts.dislikes <= posts.views)


def test_without_rates_the_baseline_takes_none_of_them():
    world = make_world()
    for _ in range(3):
        m = world.step().metrics
        assert m["quotes"] == m["mentions"] == m["mutes"] == m["searches"] == 0
    assert world.mutes is None and world.pending_search is None


def test_a_run_with_every_action_resumes_exactly(tmp_path):
    scenario = validate(
        {
            "users": 500,
            "steps": 8,
            "seed": 6,
            "actions": {"dislike": True},
            "feed": {"ranking": "hot"},
            "roles": {"citizen": RATES},
            "moderation": {"check_every": 2},
            "record": {"flush_every": 3},
        }
    )
    assert_resume_is_exact(
        scenario, tmp_path, stop_after=4,
        tables=("posts", "dislikes", "reports", "mentions", "mutes", "searches"),
    )  # fmt: skip


def test_trending_topics_rank_the_topics_by_their_posts_engagement():
    world = make_world(population={"activity": {"mean": 0.5}, "topics": 4})
    world.step()
    world.step()
    posts, t = world.posts, world.t
    lo = posts.window_start(t, world.recommender.window)
    heat = (1.0 + posts.likes[lo:] + 2.0 * posts.reposts[lo:] + posts.replies[lo:]) * 0.5 ** (
        t - posts.step[lo:]
    )
    total = np.bincount(posts.topic[lo:], weights=heat, minlength=4)
    policy = drive(world, lambda obs, acts: None)
    world.step()
    trending = policy.seen[-1].trending_topics
    assert sorted(trending.tolist()) == [0, 1, 2, 3]
    assert np.all(np.diff(total[trending]) <= 1e-9) and len(set(total.round(6))) > 1


def test_a_quote_joins_the_cascade_of_the_post_it_shares():
    from townsquare.metrics.cascades import Cascades

    # post 0; 1 reposts 0; 2 quotes 1; 3 a reply to 0 (its own conversation)
    kind = np.array([PostKind.POST, PostKind.REPOST, PostKind.QUOTE, PostKind.REPLY])
    cascades = Cascades(np.array([0, 1, 2, 3]), kind, np.array([-1, 0, 1, 0]))
    assert cascades.root.tolist() == [0, 0, 0, 3]
    assert cascades.sizes().tolist() == [3, 1]
    assert cascades.edges()[0].tolist() == [1, 2]
