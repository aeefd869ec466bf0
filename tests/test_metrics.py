"""Metrics on inputs with known answers, and the real-network reference figures."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.metrics import (
    cascade_sizes,
    esteban_ray,
    fit_power_law,
    gini,
    leaning_assortativity,
    lorenz_curve,
    modularity,
    neighbour_leaning_correlation,
    random_walk_controversy,
    repost_degree,
    top_share,
)
from townsquare.metrics.reference import polblogs_reference, retweet_reference


def planted_two_blocks(rng, n=2000, k_in=10, k_out=1):
    """Undirected planted partition with expected modularity (k_in - k_out) / (2 (k_in + k_out))."""
    half = n // 2
    side = np.repeat([0, 1], half)
    m_in = n * k_in // 2
    m_out = n * k_out // 2
    a = rng.integers(0, half, m_in) + half * rng.integers(0, 2, m_in)
    b = rng.integers(0, half, m_in) + (a // half) * half
    c = rng.integers(0, half, m_out)
    d = rng.integers(0, half, m_out) + half
    return np.concatenate([a, c]), np.concatenate([b, d]), side


def test_planted_two_block_graph_gives_the_expected_modularity():
    rng = np.random.default_rng(0)
    src, dst, side = planted_two_blocks(rng)
    expected = (10 - 1) / (2 * (10 + 1))  # 0.409
    assert modularity(src, dst, side) == pytest.approx(expected, abs=0.01)
    assert modularity(src, dst, rng.integers(0, 2, side.size)) == pytest.approx(0.0, abs=0.02)


def test_weighted_modularity_counts_weights():
    src = np.array([0, 1, 2, 0])
    dst = np.array([1, 0, 3, 2])
    side = np.array([0, 0, 1, 1])
    heavy_inside = modularity(src, dst, side, weight=np.array([5.0, 5.0, 5.0, 1.0]))
    heavy_across = modularity(src, dst, side, weight=np.array([1.0, 1.0, 1.0, 5.0]))
    assert heavy_inside > 0.3 > heavy_across


@pytest.mark.parametrize("alpha", [2.3, 2.8])
def test_sampled_pareto_degrees_give_their_exponent_back(alpha):
    rng = np.random.default_rng(1)
    # continuous Pareto with xmin 10, rounded down: a discrete tail with the same exponent
    sample = np.floor(10 * (1 - rng.random(50_000)) ** (-1 / (alpha - 1)))
    fit = fit_power_law(sample, discrete=True)
    assert fit.alpha == pytest.approx(alpha, abs=0.1)
    assert fit.n_tail > 1000


def test_power_law_fit_of_degenerate_input_is_nan():
    assert np.isnan(fit_power_law(np.ones(100)).alpha)
    assert np.isnan(fit_power_law(np.array([1, 2, 3])).alpha)


def test_uniform_posting_gives_the_top_decile_about_a_tenth():
    rng = np.random.default_rng(2)
    # every user posts with the same probability in each of 2000 steps
    posts = rng.binomial(2000, 0.5, 100_000)
    assert top_share(posts, 0.10) == pytest.approx(0.10, abs=0.01)
    assert gini(posts) < 0.1


def test_gini_and_lorenz_extremes():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    one_holds_all = np.zeros(1000)
    one_holds_all[0] = 1
    assert gini(one_holds_all) == pytest.approx(1.0, abs=0.002)
    assert top_share(one_holds_all, 0.01) == 1.0
    x, y = lorenz_curve(np.array([1.0, 1.0, 2.0]))
    assert x[0] == 0 and y[0] == 0 and y[-1] == pytest.approx(1.0)
    assert np.isnan(gini(np.zeros(5)))


def test_cascades_follow_repost_chains_to_their_root():
    # 0 post; 1 repost of 0; 2 repost of 1 (so of 0); 3 post; 4 reply to 3; 5 repost of 4
    kind = np.array([0, 1, 1, 0, 2, 1])
    parent = np.array([-1, 0, 1, -1, 3, 4])
    author = np.array([0, 1, 2, 3, 4, 5])
    assert sorted(cascade_sizes(kind, parent).tolist()) == [1, 2, 3]
    degree = repost_degree(author, kind, parent, 6)
    assert degree.tolist() == [2, 1, 1, 0, 1, 1]


def test_leaning_measures_on_a_segregated_graph():
    rng = np.random.default_rng(3)
    src, dst, side = planted_two_blocks(rng, k_in=20, k_out=0)
    leaning = np.where(side == 0, -1.0, 1.0)
    assert leaning_assortativity(src, dst, leaning) == pytest.approx(1.0)
    assert neighbour_leaning_correlation(src, dst, leaning, directed=False) == pytest.approx(1.0)
    shuffled = rng.permutation(leaning)
    assert abs(leaning_assortativity(src, dst, shuffled)) < 0.05


def test_random_walk_controversy_separates_split_from_mixed():
    rng = np.random.default_rng(4)
    src, dst, side = planted_two_blocks(rng, k_in=10, k_out=0)
    src2, dst2, _ = planted_two_blocks(rng, k_in=1, k_out=10)
    split = random_walk_controversy(np.concatenate([src, [0]]), np.concatenate([dst, [1500]]), side)
    mixed = random_walk_controversy(src2, dst2, side)
    assert split > 0.9
    assert abs(mixed) < 0.2


def test_esteban_ray_is_zero_for_consensus_and_largest_for_two_poles():
    assert esteban_ray(np.zeros(100)) == 0.0
    poles = np.array([-1.0] * 50 + [1.0] * 50)
    spread = np.linspace(-1, 1, 100)
    assert esteban_ray(poles) > esteban_ray(spread) > 0


def test_polblogs_figures_of_the_data_readme(data_dir):
    ref = polblogs_reference(data_dir / "polblogs")
    assert ref["nodes"] == 1222 and ref["edges"] == 16714
    assert round(ref["leaning_assortativity"], 2) == 0.81
    assert round(ref["neighbour_leaning_correlation"], 2) == 0.91
    # F6 is read on repost networks, not on a hyperlink graph
    assert "camp_modularity" not in ref


@pytest.mark.parametrize(
    ("name", "modularity_", "gini_", "top1", "own_split"),
    [("gunsense", 0.48, 0.76, 0.48, 0.43), ("ff", 0.47, 0.71, 0.46, 0.46)],
)
def test_retweet_figures_of_the_data_readme(data_dir, name, modularity_, gini_, top1, own_split):
    ref = retweet_reference(data_dir / "retweet", name)
    # the files pass through the instrument unchanged: already 2+ retweets, one component
    assert ref["nodes"] == {"gunsense": 7106, "ff": 5401}[name]
    assert round(ref["given_split_modularity"], 2) == modularity_
    assert round(ref["repost_degree_gini"], 2) == gini_
    assert round(ref["repost_degree_top1_share"], 2) == top1
    # the instrument's own split (the one a run gets) lands close to the authors' METIS one
    assert round(ref["camp_modularity"], 2) == own_split


def test_time_polarised_and_plateaus():
    from townsquare.metrics.metastability import plateaus, time_polarised

    series = np.concatenate([np.full(300, 0.5), np.linspace(0.5, 0.0, 50), np.zeros(100)])
    assert time_polarised(series, 0.2) == pytest.approx((300 + 30) / 450, abs=0.01)
    found = plateaus(series, tolerance=0.02, min_length=50)
    assert [(a, round(level, 2)) for a, _, level in found] == [(0, 0.5), (found[1][0], 0.0)]
    assert found[0][1] >= 300
    assert plateaus(np.linspace(0, 1, 100), tolerance=0.01, min_length=10) == []
    assert np.isnan(time_polarised([]))


# ---------------------------------------------------------------- the instrument
def test_the_repost_network_keeps_pairs_with_two_reposts_in_the_largest_component():
    from townsquare.metrics.instrument import repost_network, weighted_pairs

    # reposts (reposter, author): 0-1 twice (both directions), 1-2 three times,
    # 3-4 twice (a second component), 5-6 once (dropped: one repost)
    src = np.array([0, 1, 1, 2, 1, 3, 4, 5])
    dst = np.array([1, 0, 2, 1, 2, 4, 3, 6])
    u, v, w = weighted_pairs(src, dst, 7)
    assert list(zip(u.tolist(), v.tolist(), w.tolist(), strict=True)) == [
        (0, 1, 2.0),
        (1, 2, 3.0),
        (3, 4, 2.0),
        (5, 6, 1.0),
    ]
    net = repost_network(src, dst, 7)
    assert net.ids.tolist() == [0, 1, 2]
    assert net.degree().tolist() == [2.0, 5.0, 3.0]


def test_the_two_way_split_finds_two_planted_communities():
    from townsquare.metrics.instrument import RepostNetwork, two_way_split

    rng = np.random.default_rng(0)
    n = 200
    block = np.arange(n) >= n // 2
    a, b = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    keep = (block[a] == block[b]) | (rng.random(3000) < 0.05)
    lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    pairs = np.unique(lo[lo != hi] * n + hi[lo != hi])
    net = RepostNetwork(pairs // n, pairs % n, np.full(pairs.size, 2.0), np.arange(n))
    side = two_way_split(net)
    agree = (side == block).mean()
    assert max(agree, 1 - agree) > 0.95
    assert np.array_equal(side, two_way_split(net))  # deterministic


def test_the_two_way_split_survives_a_star_whose_fiedler_vector_ties():
    # a hub reposted by everyone: the spectral vector is flat over the leaves, and a
    # split by comparison with its median would leave one side empty
    from townsquare.metrics.instrument import RepostNetwork, repost_facts, two_way_split

    leaves = np.arange(1, 150)
    net = RepostNetwork(
        np.zeros(leaves.size, np.int64), leaves, np.full(leaves.size, 3.0), np.arange(150)
    )
    side = two_way_split(net)
    assert sorted(np.bincount(side).tolist()) == [75, 75]
    assert np.isfinite(repost_facts(net)["camp_modularity"])


def test_a_repost_network_too_small_for_its_top_percent_is_not_measured():
    from townsquare.metrics.instrument import MIN_NETWORK_NODES, RepostNetwork, repost_facts

    k = MIN_NETWORK_NODES - 1
    ring = np.arange(k)
    net = RepostNetwork(ring, (ring + 1) % k, np.full(k, 2.0), np.arange(k))
    facts = repost_facts(net)
    assert np.isnan(facts["repost_degree_top1_share"]) and np.isnan(facts["camp_modularity"])
    assert facts["repost_network_nodes"] == k
