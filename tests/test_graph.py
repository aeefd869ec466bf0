"""FollowGraph against a reference set-of-edges model.

The stateful test drives a graph (and a twin restored from its state) through random
follow/unfollow batches with duplicates, self-follows, ``-1`` (no user) entries, repeated
unfollows, whole-row follows that force block relocation and pool growth, and restores
from states whose blocks are spread apart so that the next relocation compacts the pool.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from townsquare.world import FollowGraph

N = 10  # few users, so duplicates and repeated unfollows are common

user = st.integers(0, N - 1)
user_or_none = st.integers(-1, N - 1)  # -1 is "no user": ignored by follow and unfollow
batch = st.lists(st.tuples(user_or_none, user_or_none), max_size=40)


def arrays(pairs) -> tuple[np.ndarray, np.ndarray]:
    src = np.array([p[0] for p in pairs], np.int64)
    dst = np.array([p[1] for p in pairs], np.int64)
    return src, dst


def edge_set(g: FollowGraph) -> set[tuple[int, int]]:
    src, dst = g.edges()
    pairs = list(zip(src.tolist(), dst.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)), "edges() lists an edge twice"
    return set(pairs)


def copy_state(g: FollowGraph) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in g.state().items()}


def spread_state(g: FollowGraph, gap: int) -> dict[str, np.ndarray]:
    """g's state with ``gap`` empty slots before every block and no spare room at the end.

    Such a pool is mostly holes, so the next block relocation must compact it.
    """
    state = copy_state(g)
    offset, cap, out_deg = state["offset"], state["cap"], state["out_deg"]
    new_offset = np.zeros_like(offset)
    pos = 0
    for u in range(g.n):
        pos += gap
        new_offset[u] = pos
        pos += int(cap[u])
    pool = np.full(pos, -1, np.int32)
    for u in range(g.n):
        pool[new_offset[u] : new_offset[u] + out_deg[u]] = g.followees(u)
    state["offset"] = new_offset
    state["pool"] = pool
    state["pool_size"] = np.array(pos)
    return state


def check_against_model(g: FollowGraph, model: set[tuple[int, int]]) -> None:
    n = g.n
    assert edge_set(g) == model
    assert g.edge_count == len(model)
    src, dst = g.edges()
    assert np.array_equal(g.in_deg, np.bincount(dst, minlength=n))
    assert np.array_equal(g.out_deg, np.bincount(src, minlength=n))
    assert np.array_equal(g.follower_count, g.in_deg)
    assert np.array_equal(g.followee_count, g.out_deg)
    for u in range(n):
        assert sorted(g.followees(u).tolist()) == sorted(v for a, v in model if a == u)
    # follows() on every ordered pair, plus -1 entries, which are never followed
    us, vs = np.meshgrid(np.arange(-1, n), np.arange(-1, n), indexing="ij")
    got = g.follows(us.ravel(), vs.ravel())
    want = [(int(a), int(b)) in model for a, b in zip(us.ravel(), vs.ravel(), strict=True)]
    assert got.tolist() == want
    # followers_csr: the transpose of the model, refreshed after every change
    indptr, followers = g.followers_csr()
    assert indptr.shape == (n + 1,) and indptr[0] == 0 and indptr[-1] == len(model)
    for v in range(n):
        got_f = sorted(followers[indptr[v] : indptr[v + 1]].tolist())
        assert got_f == sorted(a for a, b in model if b == v)
    # block layout sanity: every block inside the used part of the pool, no overlap
    assert np.all(g.out_deg <= g.cap)
    assert g.pool_end <= g.pool.shape[0]
    order = np.argsort(g.offset, kind="stable")
    ends = g.offset[order] + g.cap[order]
    assert np.all(g.offset >= 0) and np.all(ends <= g.pool_end)
    assert np.all(ends[:-1] <= g.offset[order][1:])


def assert_same_graph(a: FollowGraph, b: FollowGraph) -> None:
    assert a.n == b.n
    for name in ("offset", "cap", "out_deg", "in_deg"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.pool_end == b.pool_end
    assert a.pool.shape == b.pool.shape
    for u in range(a.n):
        assert np.array_equal(a.followees(u), b.followees(u))
    for x, y in zip(a.edges(), b.edges(), strict=True):
        assert np.array_equal(x, y)


class FollowGraphMachine(RuleBasedStateMachine):
    """Operations on a FollowGraph and on a twin restored from its state must agree."""

    @initialize(initial=st.lists(st.tuples(user, user), max_size=40))
    def start(self, initial):
        src, dst = arrays(initial)
        self.g = FollowGraph(N, src, dst)
        self.model = {(u, v) for u, v in initial if u != v}
        self.twin = FollowGraph.from_state(copy_state(self.g))

    def _apply(self, method: str, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        a = getattr(self.g, method)(src, dst)
        b = getattr(self.twin, method)(src, dst)
        assert a.dtype == np.bool_ and a.shape == src.shape
        assert np.array_equal(a, b), "the restored twin diverged"
        return a

    def _follow(self, pairs) -> None:
        expected = []
        for u, v in pairs:
            new = u >= 0 and v >= 0 and u != v and (u, v) not in self.model
            if new:
                self.model.add((u, v))
            expected.append(new)
        applied = self._apply("follow", *arrays(pairs))
        assert applied.tolist() == expected

    def _unfollow(self, pairs) -> None:
        expected = []
        for u, v in pairs:
            present = (u, v) in self.model
            self.model.discard((u, v))
            expected.append(present)
        applied = self._apply("unfollow", *arrays(pairs))
        assert applied.tolist() == expected

    @rule(pairs=batch)
    def follow(self, pairs):
        self._follow(pairs)

    @rule(pairs=batch)
    def unfollow(self, pairs):
        self._unfollow(pairs)

    @rule(pairs=batch)
    def follow_then_unfollow_same_batch(self, pairs):
        self._follow(pairs)
        self._unfollow(pairs)  # every listed edge exists now, except -1 and self pairs
        self._unfollow(pairs)  # and none does any more

    @rule(u=user, followees=st.lists(user, min_size=1, max_size=3 * N))
    def follow_many(self, u, followees):
        """One user follows up to everyone in one batch: the block doubles repeatedly."""
        self._follow([(u, v) for v in followees])

    @rule(u=user)
    def unfollow_everyone(self, u):
        self._unfollow([(u, v) for v in range(N)] * 2)

    @rule(v=user)
    def everyone_follows(self, v):
        self._follow([(u, v) for u in range(N)])

    @rule()
    def restore_from_state(self):
        self.twin = FollowGraph.from_state(copy_state(self.g))
        assert_same_graph(self.g, self.twin)

    @rule(gap=st.integers(1, 40))
    def restore_from_spread_out_state(self, gap):
        state = spread_state(self.g, gap)
        self.g = FollowGraph.from_state(state)
        self.twin = FollowGraph.from_state(state)

    @invariant()
    def matches_model(self):
        if hasattr(self, "g"):
            check_against_model(self.g, self.model)
            check_against_model(self.twin, self.model)
            assert_same_graph(self.g, self.twin)


TestFollowGraphMachine = FollowGraphMachine.TestCase
TestFollowGraphMachine.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 30),
    data=st.data(),
)
def test_constructor_dedups_and_drops_self_loops(n, data):
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120)
    )
    g = FollowGraph(n, *arrays(pairs))
    check_against_model(g, {(u, v) for u, v in pairs if u != v})


def layout_of(n, src, dst):
    """The blocks the constructor lays out, by whole-array numpy (as it was built before
    it worked in place): followees sorted within each follower's block, a block's slack
    after it, the pool a quarter longer than the blocks."""
    keys = np.unique(src[src != dst] * n + dst[src != dst])
    s, d = keys // n, (keys % n).astype(np.int32)
    out_deg = np.bincount(s, minlength=n).astype(np.int32)
    cap = np.maximum(4, out_deg + (out_deg >> 2) + 2).astype(np.int32)
    offset = np.zeros(n, np.int64)
    offset[1:] = np.cumsum(cap)[:-1]
    pool = np.full(max(int(cap.sum()) * 5 // 4, 16), -1, np.int32)
    starts = np.concatenate([[0], np.cumsum(out_deg)])
    pool[offset[s] + np.arange(keys.size) - starts[s]] = d
    return {"offset": offset, "cap": cap, "out_deg": out_deg, "pool": pool,
            "in_deg": np.bincount(d, minlength=n).astype(np.int32)}  # fmt: skip


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(0, 40), data=st.data())
def test_the_constructor_lays_out_what_numpy_lays_out(n, data):
    ids = st.integers(0, max(n - 1, 0))
    pairs = data.draw(st.lists(st.tuples(ids, ids), max_size=200 if n else 0))
    src, dst = arrays(pairs)
    g = FollowGraph(n, src, dst)
    want = layout_of(n, src, dst)
    for name, values in want.items():
        got = getattr(g, name)
        assert got.dtype == values.dtype and np.array_equal(got, values), name
    assert g.pool_end == int(want["cap"].sum())
    # the caller's arrays are untouched
    assert [a.tolist() for a in arrays(pairs)] == [src.tolist(), dst.tolist()]


def test_big_batches_relocate_blocks_and_grow_the_pool():
    rng = np.random.default_rng(7)
    n = 300
    g = FollowGraph(n)
    model: set[tuple[int, int]] = set()
    pool_sizes = {g.pool.shape[0]}
    for _ in range(6):
        src = rng.integers(0, 40, 3000)  # a few heavy followers
        dst = rng.integers(0, n, 3000)
        src = np.concatenate([src, src[:500]])  # and duplicates within the batch
        dst = np.concatenate([dst, dst[:500]])
        applied = g.follow(src, dst)
        expected = []
        for u, v in zip(src.tolist(), dst.tolist(), strict=True):
            new = u != v and (u, v) not in model
            if new:
                model.add((u, v))
            expected.append(new)
        assert applied.tolist() == expected
        pool_sizes.add(g.pool.shape[0])
        check_against_model(g, model)
    assert len(pool_sizes) > 1, "the pool never grew"
    assert g.cap.max() >= 4 * 64, "heavy followers' blocks should have doubled many times"
    # unfollow half of the edges, including a second time
    src, dst = g.edges()
    half = np.arange(src.size) % 2 == 0
    assert g.unfollow(src[half], dst[half]).all()
    assert not g.unfollow(src[half], dst[half]).any()
    model -= set(zip(src[half].tolist(), dst[half].tolist(), strict=True))
    check_against_model(g, model)


def test_relocation_into_a_mostly_empty_pool_compacts_it():
    g = FollowGraph(6, [0, 0, 1, 2, 3], [1, 2, 0, 3, 4])
    model = edge_set(g)
    state = spread_state(g, gap=200)
    h = FollowGraph.from_state(state)
    assert h.pool_end > 2 * int(h.cap.sum())
    before = h.pool_end
    # user 5 follows everyone: its block is full after 4, so it relocates and needs room
    new = [(5, v) for v in range(5)]
    assert h.follow(*arrays(new)).all()
    model |= set(new)
    assert h.pool_end < before, "the pool was grown instead of compacted"
    assert h.pool.shape[0] < state["pool"].shape[0]
    check_against_model(h, model)
    # and it keeps working afterwards
    assert h.unfollow([5, 0], [0, 1]).all()
    model -= {(5, 0), (0, 1)}
    check_against_model(h, model)


def test_followers_csr_is_cached_until_the_graph_changes():
    g = FollowGraph(4, [0, 1, 2], [3, 3, 0])
    indptr, followers = g.followers_csr()
    again = g.followers_csr()
    assert again[0] is indptr and again[1] is followers
    assert sorted(followers[indptr[3] : indptr[4]].tolist()) == [0, 1]
    g.follow([3], [0])
    indptr, followers = g.followers_csr()
    assert sorted(followers[indptr[0] : indptr[1]].tolist()) == [2, 3]
    g.unfollow([0], [3])
    indptr, followers = g.followers_csr()
    assert followers[indptr[3] : indptr[4]].tolist() == [1]


def test_state_round_trip_is_identical_and_behaves_identically():
    rng = np.random.default_rng(11)
    n = 200
    g = FollowGraph(n, rng.integers(0, n, 2000), rng.integers(0, n, 2000))
    g.follow(rng.integers(0, 20, 2000), rng.integers(0, n, 2000))
    g.unfollow(rng.integers(0, n, 1500), rng.integers(0, n, 1500))
    state = copy_state(g)
    h = FollowGraph.from_state(state)
    assert_same_graph(g, h)
    for key, value in h.state().items():
        assert np.array_equal(value, state[key]), key
    for _ in range(5):
        src, dst = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
        assert np.array_equal(g.follow(src, dst), h.follow(src, dst))
        src, dst = rng.integers(0, n, 1000), rng.integers(0, n, 1000)
        assert np.array_equal(g.unfollow(src, dst), h.unfollow(src, dst))
        assert_same_graph(g, h)
    for a, b in zip(g.followers_csr(), h.followers_csr(), strict=True):
        assert np.array_equal(a, b)


def test_state_round_trip_of_an_empty_graph():
    g = FollowGraph(0)
    h = FollowGraph.from_state(copy_state(g))
    assert h.n == 0 and h.edge_count == 0
    assert h.edges()[0].size == 0
    assert h.followers_csr()[0].tolist() == [0]


@pytest.mark.parametrize(
    ("n", "src", "dst"),
    [
        (3, [0, 3], [1, 2]),  # follower out of range
        (3, [0, 1], [1, 3]),  # followee out of range
        (3, [-1], [1]),
        (3, [0], [-2]),
        (0, [0], [0]),
    ],
)
def test_constructor_rejects_out_of_range_ids(n, src, dst):
    with pytest.raises(ValueError, match="range|must"):
        FollowGraph(n, np.array(src), np.array(dst))


def test_constructor_rejects_mismatched_lengths_and_negative_size():
    with pytest.raises(ValueError, match="same length"):
        FollowGraph(3, np.array([0, 1]), np.array([1]))
    with pytest.raises(ValueError):
        FollowGraph(-1)


def test_updates_reject_bad_input_and_leave_the_graph_unchanged():
    g = FollowGraph(3, [0], [1])
    with pytest.raises(ValueError):
        g.follow([0, 1], [2])
    with pytest.raises(ValueError):
        g.unfollow([0], [1, 2])
    with pytest.raises(ValueError):
        g.follow([0], [3])
    with pytest.raises(ValueError):
        g.unfollow([5], [0])
    check_against_model(g, {(0, 1)})


def test_empty_batches_are_no_ops():
    g = FollowGraph(3, [0], [1])
    assert g.follow([], []).shape == (0,)
    assert g.unfollow([], []).shape == (0,)
    assert g.follows([], []).shape == (0,)
    check_against_model(g, {(0, 1)})
