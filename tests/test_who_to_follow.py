"""Follow recommenders (townsquare.world.who_to_follow): the contract every one keeps,
each one's ranking against its definition computed here by brute force, and readers in a
running world following the accounts suggested to them."""

from __future__ import annotations

import math
import typing

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resume_checks import assert_resume_is_exact
from townsquare.build import build_world
from townsquare.config import WhoToFollowConfig, validate
from townsquare.errors import UserError
from townsquare.world import Observations, Role
from townsquare.world.graph import FollowGraph
from townsquare.world.who_to_follow import NAMES, by_name

#: u0 follows 1 and 2; 1 follows 3 and 4; 2 follows 3 and 5; 6 follows 5 and 4
SMALL = FollowGraph(7, np.array([0, 0, 1, 1, 2, 2, 6, 6]), np.array([1, 2, 3, 4, 3, 5, 5, 4]))


def suggest(name, graph, readers, hidden=None, count=3, seed=1, **settings):
    hidden = np.zeros(graph.n, bool) if hidden is None else hidden
    return by_name(name, **settings).suggest(
        graph, np.asarray(readers, np.int64), hidden, count, seed
    )


def random_graph(n: int, edges: int, seed: int) -> FollowGraph:
    rng = np.random.default_rng(seed)
    # a few accounts everybody follows, as on a platform
    hubs = rng.integers(0, min(5, n), edges)
    dst = np.where(rng.random(edges) < 0.3, hubs, rng.integers(0, n, edges))
    src = rng.integers(0, n, edges)
    keep = src != dst
    return FollowGraph(n, src[keep], dst[keep])


def followees(graph: FollowGraph) -> list[set[int]]:
    return [set(graph.followees(u).tolist()) for u in range(graph.n)]


def test_the_config_offers_exactly_the_recommenders_there_are():
    assert typing.get_args(WhoToFollowConfig.model_fields["recommender"].annotation) == (
        "none",
        *NAMES,
    )
    for name in NAMES:
        rule = by_name(name)
        assert rule.name == name and rule.summary and rule.source


def test_unknown_follow_recommender_is_one_line():
    with pytest.raises(ValueError, match="unknown follow recommender 'pagerank': choose one of"):
        by_name("pagerank")
    with pytest.raises(UserError, match="who_to_follow.recommender"):
        validate({"users": 100, "who_to_follow": {"recommender": "pagerank"}})


def test_jaccard_and_adamic_adar_on_a_graph_worked_by_hand():
    # u0's followees 1 and 2 both follow 3: Jaccard 2 / (2 + 2 - 2) = 1; 4 and 5 are
    # followed by one of them and by 6: 1 / 3 each, the lower id first
    assert suggest("jaccard", SMALL, [0]).tolist() == [[3, 4, 5]]
    # each shared neighbour has degree 3: 3 scores 2 / ln 3, 4 and 5 1 / ln 3
    assert suggest("adamic_adar", SMALL, [0]).tolist() == [[3, 4, 5]]
    # 6's followees follow nobody: nothing two follows away
    assert suggest("jaccard", SMALL, [6]).tolist() == [[-1, -1, -1]]


def test_preferential_attachment_suggests_the_most_followed_not_yet_followed():
    # followers: 3, 4, 5 two each; 1 and 2 one each
    assert suggest("preferential_attachment", SMALL, [0, 6, 3]).tolist() == [
        [3, 4, 5],
        [3, 1, 2],
        [4, 5, 1],
    ]


@pytest.mark.parametrize("seed", range(3))
def test_jaccard_and_adamic_adar_match_their_definitions(seed):
    graph = random_graph(300, 2400, seed)
    out = followees(graph)
    followers = [set() for _ in range(graph.n)]
    for u, fs in enumerate(out):
        for v in fs:
            followers[v].add(u)
    degree = graph.in_deg + graph.out_deg
    readers = np.arange(graph.n)
    for name in ("jaccard", "adamic_adar"):
        got = suggest(name, graph, readers, count=5)
        for u in readers[::7]:
            scores = {}
            for c in set().union(*(out[z] for z in out[u])) - out[u] - {u}:
                shared = out[u] & followers[c]
                if name == "jaccard":
                    scores[c] = len(shared) / len(out[u] | followers[c])
                else:
                    scores[c] = sum(1 / math.log(degree[z]) for z in shared)
            best = sorted(scores, key=lambda c: (-scores[c], c))[:5]
            row = got[u][got[u] >= 0].tolist()
            assert len(row) == len(best)
            assert np.allclose([scores[c] for c in row], [scores[c] for c in best])


def test_random_walk_prefers_accounts_many_paths_reach():
    # u0 follows 1, 2, 3; all three follow 4, only 1 follows 5; 4 and 5 lead nowhere
    graph = FollowGraph(6, np.array([0, 0, 0, 1, 2, 3, 1]), np.array([1, 2, 3, 4, 4, 4, 5]))
    got = suggest("random_walk", graph, [0], count=2, walks=200)
    assert got.tolist() == [[4, 5]]
    # a reader whose walks reach nobody new gets nothing
    assert suggest("random_walk", graph, [4], count=2).tolist() == [[-1, -1]]


def test_random_walk_suggests_only_accounts_its_walks_can_reach():
    graph = random_graph(200, 600, 4)
    out = followees(graph)
    got = suggest("random_walk", graph, np.arange(graph.n), count=3)
    for u in range(graph.n):
        reach, frontier = set(), {u}
        while frontier:
            frontier = set().union(*(out[v] for v in frontier)) - reach
            reach |= frontier
        assert set(got[u][got[u] >= 0].tolist()) <= reach


def test_random_suggestions_are_uniform_over_accounts():
    graph = FollowGraph(2000, np.zeros(0, np.int64), np.zeros(0, np.int64))
    readers = np.arange(2000)
    tenths = np.zeros(10)
    for step in range(10):
        got = suggest("random", graph, readers, count=1, seed=step)
        tenths += np.bincount(got.ravel() // 200, minlength=10)
    # 20,000 draws, 2,000 expected in each tenth of the ids (sd about 42)
    assert np.all(np.abs(tenths - 2000) < 200)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    density=st.floats(0.0, 6.0),
    count=st.integers(1, 6),
)
def test_no_recommender_suggests_oneself_a_followee_a_suspended_account_or_twice(
    name, seed, n, density, count
):
    graph = random_graph(n, int(density * n), seed)
    rng = np.random.default_rng(seed)
    hidden = rng.random(n) < 0.2
    readers = np.arange(n)
    got = suggest(name, graph, readers, hidden=hidden, count=count, seed=seed)
    out = followees(graph)
    assert got.shape == (n, count)
    for u in readers:
        row = got[u]
        shown = row[row >= 0]
        assert (row[shown.size :] == -1).all()  # padding only at the end
        assert np.unique(shown).size == shown.size
        assert u not in shown and not (set(shown.tolist()) & out[u])
        assert not hidden[shown].any()
    # the same for readers asked in another order or split
    order = rng.permutation(n)
    again = suggest(name, graph, order, hidden=hidden, count=count, seed=seed)
    assert np.array_equal(again, got[order])


def _world(name: str, **extra):
    data = {
        "users": 1500,
        "steps": 6,
        "seed": 2,
        "who_to_follow": {"recommender": name, **extra},
        "population": {"activity": {"mean": 0.5}},
    }
    world, _ = build_world(validate(data))
    return world


def test_without_a_follow_recommender_nobody_is_offered_suggestions():
    world = _world("none")
    seen = {}
    policy = world.policies[Role.CITIZEN]

    class Spy:
        rowwise = True

        def act(self, obs: Observations, rng):
            seen["suggest"] = obs.suggest
            return policy.act(obs, rng)

    world.policies[Role.CITIZEN] = Spy()
    world.step()
    assert seen["suggest"] is None


@pytest.mark.parametrize("name", NAMES)
def test_citizens_follow_accounts_suggested_to_them(name):
    world = _world(name)
    world.step()
    captured = {}
    policy = world.policies[Role.CITIZEN]

    class Spy:
        rowwise = True

        def act(self, obs: Observations, rng):
            captured["users"] = obs.users.copy()
            captured["authors"] = obs.feed_author.copy()
            captured["suggested"] = obs.suggest(np.arange(len(obs))).ids
            acts = policy.act(obs, rng)
            captured["follow"] = acts.follow[:, 0].copy()
            return acts

    world.policies[Role.CITIZEN] = Spy()
    world.step()
    follow = captured["follow"]
    rows = np.flatnonzero(follow >= 0)
    from_feed = np.array([follow[i] in captured["authors"][i] for i in rows])
    from_suggestions = np.array([follow[i] in captured["suggested"][i] for i in rows])
    # every follow is a feed author's or a suggestion's, and suggestions win some
    assert np.all(from_feed | from_suggestions)
    assert (from_suggestions & ~from_feed).sum() >= 5


def test_follow_recommenders_change_whom_citizens_follow_and_nothing_when_off():
    def follows(name):
        world = _world(name)
        return [world.step().metrics["follows"] for _ in range(6)]

    none = follows("none")
    assert follows("none") == none
    assert sum(follows("preferential_attachment")) > sum(none)


def test_a_run_with_random_walk_suggestions_resumes_exactly(tmp_path):
    scenario = validate(
        {
            "users": 500,
            "steps": 8,
            "seed": 6,
            "who_to_follow": {"recommender": "random_walk"},
            "record": {"flush_every": 2},
        }
    )
    assert_resume_is_exact(scenario, tmp_path, stop_after=4, tables=("posts", "follows"))


@pytest.mark.parametrize("name", NAMES)
def test_a_recommender_asked_again_reuses_clean_scratch(name):
    # the kernels keep one row of scratch per account and partition across calls: each
    # call must leave it as it found it
    graph = random_graph(300, 1500, 9)
    hidden = np.zeros(graph.n, bool)
    rule = by_name(name)
    readers = np.arange(graph.n)
    first = rule.suggest(graph, readers, hidden, 4, 3)
    again = rule.suggest(graph, readers[::-1].copy(), hidden, 4, 3)
    assert np.array_equal(again, first[::-1])
    assert np.array_equal(by_name(name).suggest(graph, readers, hidden, 4, 3), first)
