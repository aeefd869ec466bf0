"""The Independent Cascade spread (world/influence.py) against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.world.influence import PropagationGraph, spread, top_out_degree


def star(n):
    return PropagationGraph.from_edges(n, np.zeros(n - 1), np.arange(1, n))


def path(n):
    return PropagationGraph.from_edges(n, np.arange(n - 1), np.arange(1, n))


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_a_star_spreads_one_plus_p_per_spoke(p):
    # from the hub every spoke is tried once: E = 1 + p (n - 1)
    g = star(51)
    assert spread(g, [0], p, runs=20_000) == pytest.approx(1 + 50 * p, rel=0.01, abs=1e-9)
    assert spread(g, [3], p) == 1.0  # a spoke reaches no one


@pytest.mark.parametrize("p", [0.5, 0.8])
def test_a_path_spreads_a_geometric_sum(p):
    # the k-th user down the path is active with probability p^k
    g = path(8)
    expected = sum(p**k for k in range(8))
    assert spread(g, [0], p, runs=40_000) == pytest.approx(expected, rel=0.01)


def test_two_paths_into_one_user_combine_as_independent_tries():
    # 0 -> 1 -> 3 and 0 -> 2 -> 3: P(3) = 1 - (1 - p^2)^2
    p = 0.6
    g = PropagationGraph.from_edges(4, [0, 0, 1, 2], [1, 2, 3, 3])
    expected = 1 + 2 * p + 1 - (1 - p * p) ** 2
    assert spread(g, [0], p, runs=40_000) == pytest.approx(expected, rel=0.01)


def test_seeds_are_counted_once_and_the_spread_is_deterministic_by_seed():
    g = star(11)
    assert spread(g, [0, 0, 1], 0.0) == 2.0
    assert spread(g, [0], 0.5, seed=3) == spread(g, [0], 0.5, seed=3)
    assert spread(g, [], 0.5) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80),
            st.lists(st.integers(0, n - 1), min_size=1, max_size=5),
        )
    )
)
def test_spread_lies_between_the_seeds_and_what_they_can_reach(case):
    n, edges, seeds = case
    src, dst = (np.array([e[i] for e in edges], np.int64) for i in (0, 1))
    g = PropagationGraph.from_edges(n, src, dst)
    s = spread(g, seeds, 0.7, runs=50)
    assert len(set(seeds)) <= s <= n
    assert spread(g, seeds, 1.0, runs=1) == spread(g, seeds, 1.0, runs=3)  # deterministic at p = 1


def test_top_out_degree_and_bad_input():
    g = PropagationGraph.from_edges(5, [0, 0, 0, 2, 2, 4], [1, 2, 3, 1, 3, 0])
    assert top_out_degree(g, 2).tolist() == [0, 2]
    assert g.out_degree.tolist() == [3, 0, 2, 0, 1] and g.edge_count == 6
    with pytest.raises(ValueError, match="edge ids"):
        PropagationGraph.from_edges(3, [0], [3])
    with pytest.raises(ValueError, match="seed users"):
        spread(g, [7])
    with pytest.raises(ValueError, match="not in"):
        spread(g, [0], p=1.5)
