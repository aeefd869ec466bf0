"""Statistics of the synthetic follow graphs."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.world import FollowGraph
from townsquare.world.generators import power_law, random_geometric, two_communities


def tail_exponent(k: np.ndarray, k_min: int, shift: float) -> float:
    """Maximum-likelihood exponent gamma of P(k) ~ (k + shift)^-gamma for k >= k_min.

    The continuous (Hill) estimator on the shifted degrees, with the usual -1/2
    correction for integer data. Preferential attachment with initial attractiveness
    ``a`` gives P(k) ~ (k + a)^-gamma, so the shift is ``a``.
    """
    x = k[k >= k_min].astype(float) + shift
    return 1.0 + x.size / np.log(x / (k_min + shift - 0.5)).sum()


def unique_pairs(src: np.ndarray, dst: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(src.tolist(), dst.tolist(), strict=True))


# ------------------------------------------------------------------ power_law
@pytest.mark.parametrize(("mean_degree", "attractiveness"), [(10, 3.0), (10, 10.0), (6, 6.0)])
def test_power_law_follower_tail_exponent(mean_degree, attractiveness):
    n = 20_000
    src, dst, community = power_law(np.random.default_rng(1), n, mean_degree, attractiveness)
    in_deg = np.bincount(dst, minlength=n)
    expected = 2.0 + attractiveness / mean_degree
    estimates = [
        tail_exponent(in_deg, k_min, attractiveness) for k_min in (mean_degree, 2 * mean_degree)
    ]
    for gamma in estimates:
        assert abs(gamma - expected) < 0.2, (estimates, expected)
    assert community.shape == (n,) and np.all(community == -1)


def test_power_law_follower_counts_are_heavy_tailed():
    n = 20_000
    src, dst, _ = power_law(np.random.default_rng(2), n, 10, 3.0)
    in_deg = np.bincount(dst, minlength=n)
    mean = in_deg.mean()
    assert 9.5 < mean < 10.5  # each user follows 1 + Poisson(9) others
    assert in_deg.max() > 100 * mean
    top = np.sort(in_deg)[::-1]
    assert top[: n // 100].sum() > 0.2 * in_deg.sum()  # top 1% hold a fifth of follows
    assert np.median(in_deg) < mean  # most users have fewer followers than average
    # a large attractiveness tends to a random graph: no hubs
    _, dst_flat, _ = power_law(np.random.default_rng(2), n, 10, 1000.0)
    flat = np.bincount(dst_flat, minlength=n)
    assert flat.max() < 0.1 * in_deg.max()
    assert flat.max() < 10 * flat.mean()


def test_power_law_out_degree_and_growth_order():
    n = 5_000
    src, dst, _ = power_law(np.random.default_rng(3), n, 8, 2.4)
    out_deg = np.bincount(src, minlength=n)
    assert abs(out_deg.mean() - 8) < 0.3
    assert out_deg[0] == 0 and np.all(out_deg[1:] >= 1)  # everyone but the first follows
    assert np.all(dst < src)  # users only follow users who joined earlier
    assert np.all(out_deg <= np.arange(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_law_has_no_self_loops_or_duplicates(seed):
    n = 3_000
    src, dst, _ = power_law(np.random.default_rng(seed), n, 12, 3.6)
    assert not np.any(src == dst)
    pairs = unique_pairs(src, dst)
    assert len(pairs) == src.size
    g = FollowGraph(n, src, dst)
    assert g.edge_count == src.size
    assert np.array_equal(g.in_deg, np.bincount(dst, minlength=n))
    gs, gd = g.edges()
    assert unique_pairs(gs, gd) == pairs


def test_power_law_is_determined_by_the_seed():
    a = power_law(np.random.default_rng(5), 2_000, 6, 1.8)
    b = power_law(np.random.default_rng(5), 2_000, 6, 1.8)
    c = power_law(np.random.default_rng(6), 2_000, 6, 1.8)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert unique_pairs(a[0], a[1]) != unique_pairs(c[0], c[1])


def test_power_law_tiny_graphs():
    for n in (0, 1, 2, 5):
        src, dst, community = power_law(np.random.default_rng(0), n, 3, 1.0)
        assert community.shape == (n,)
        assert src.shape == dst.shape
        assert np.all(dst < src)
        FollowGraph(n, src, dst)  # ids in range


# ------------------------------------------------------------------ two_communities
@pytest.mark.parametrize("cross_fraction", [0.0, 0.05, 0.3, 0.5])
def test_two_communities_cross_share(cross_fraction):
    n, k = 4_000, 10
    src, dst, community = two_communities(np.random.default_rng(4), n, k, cross_fraction)
    assert community.dtype == np.int8
    assert np.array_equal(np.bincount(community), [n // 2, n // 2])
    g = FollowGraph(n, src, dst)  # drops the rare self-loops and duplicates
    s, d = g.edges()
    assert abs(s.size / n - k) < 0.3
    share = np.mean(community[s] != community[d])
    assert abs(share - cross_fraction) < 0.01
    # both communities follow as much as each other
    out0 = np.bincount(community[s], minlength=2)
    assert abs(out0[0] - out0[1]) < 0.05 * s.size


def test_two_communities_uneven_share_and_seed():
    n = 3_000
    src, dst, community = two_communities(np.random.default_rng(8), n, 8, 0.2, share=0.25)
    assert (community == 0).sum() == 750
    assert np.all(community[:750] == 0) and np.all(community[750:] == 1)
    assert src.min() >= 0 and max(src.max(), dst.max()) < n
    # each community follows mean_degree per member, a fifth of it across
    for c in (0, 1):
        mine = community[src] == c
        assert abs(mine.sum() / (community == c).sum() - 8) < 0.4
        assert abs(np.mean(community[dst[mine]] != c) - 0.2) < 0.02
    again = two_communities(np.random.default_rng(8), n, 8, 0.2, share=0.25)
    assert np.array_equal(again[0], src) and np.array_equal(again[1], dst)
    other = two_communities(np.random.default_rng(9), n, 8, 0.2, share=0.25)
    assert unique_pairs(other[0], other[1]) != unique_pairs(src, dst)


def test_two_communities_with_an_empty_community():
    src, dst, community = two_communities(np.random.default_rng(0), 100, 5, 0.3, share=1.0)
    assert np.all(community == 0)
    assert src.size > 0 and np.all(dst < 100)


# ------------------------------------------------------------------ random_geometric
def _points(seed: int, n: int) -> np.ndarray:
    """The points random_geometric draws: its first use of the generator."""
    return np.random.default_rng(seed).random((n, 2))


@pytest.mark.parametrize("mean_degree", [6.0, 15.0])
def test_random_geometric_mean_degree_and_radius(mean_degree):
    n, seed = 4_000, 12
    src, dst, community = random_geometric(np.random.default_rng(seed), n, mean_degree=mean_degree)
    assert np.all(community == -1)
    radius = np.sqrt(mean_degree / (np.pi * n))
    pts = _points(seed, n)
    lengths = np.linalg.norm(pts[src] - pts[dst], axis=1)
    assert np.all(lengths < radius)
    # points near the border of the unit square lose part of their disc
    r = radius
    inside = 1 - 8 * r / (3 * np.pi) + r * r / (2 * np.pi)
    mean = src.size / n
    assert abs(mean - mean_degree * inside * (n - 1) / n) < 0.05 * mean_degree
    assert mean < mean_degree


def test_random_geometric_edges_are_mutual_and_complete():
    n, seed, radius = 600, 3, 0.06
    src, dst, _ = random_geometric(np.random.default_rng(seed), n, radius=radius)
    pairs = unique_pairs(src, dst)
    assert len(pairs) == src.size  # no duplicates
    assert pairs == {(b, a) for a, b in pairs}  # every follow is mutual
    assert not np.any(src == dst)
    pts = _points(seed, n)
    dist = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)
    close = (dist < radius) & ~np.eye(n, dtype=bool)
    i, j = np.nonzero(close)
    assert pairs == unique_pairs(i, j)  # exactly the pairs closer than the radius


def test_random_geometric_seed_and_arguments():
    a = random_geometric(np.random.default_rng(1), 500, mean_degree=8)
    b = random_geometric(np.random.default_rng(1), 500, mean_degree=8)
    c = random_geometric(np.random.default_rng(2), 500, mean_degree=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert unique_pairs(a[0], a[1]) != unique_pairs(c[0], c[1])
    with pytest.raises(ValueError, match="radius or mean_degree"):
        random_geometric(np.random.default_rng(1), 10)
    src, dst, _ = random_geometric(np.random.default_rng(1), 50, radius=0.0)
    assert src.size == 0 and dst.size == 0
    src, _, _ = random_geometric(np.random.default_rng(1), 50, radius=2.0)
    assert src.size == 50 * 49  # everyone within reach of everyone
