"""The step's opinion metrics in parallel are numpy's to the bit: the same pairwise
sums, the powers made as numpy makes them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from townsquare.world.moments import BLOCK, opinion_moments, pairwise_sum


def _numpy(x):
    """mean, std and Sarle's coefficient as whole-array numpy (the metrics before)."""
    n = x.shape[0]
    with np.errstate(all="ignore"):
        mean, std = (float(x.mean()), float(x.std())) if n else (np.nan, np.nan)
    if n < 4:
        return mean, std, np.nan
    d = x - x.mean()
    d2 = d * d
    m2 = d2.mean()
    if m2 <= 1e-24:
        return mean, std, np.nan
    g = (d2 * d).mean() / m2**1.5
    k = (d2 * d2).mean() / m2**2 - 3.0
    G = g * np.sqrt(n * (n - 1)) / (n - 2)
    K = ((n + 1) * k + 6) * (n - 1) / ((n - 2) * (n - 3))
    return mean, std, float((G * G + 1) / (K + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


def _same(a, b):
    return all(x == y or (np.isnan(x) and np.isnan(y)) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    "n", [0, 1, 3, 4, 7, 8, 9, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 3, 8193, 100_003]
)
def test_moments_are_numpys_bits_at_every_split_of_the_tree(n):
    rng = np.random.default_rng(n)
    for x in (
        np.clip(rng.normal(0.2, 0.5, n), -1, 1),
        rng.choice([-1.0, 1.0], n),  # two camps
        np.full(n, 0.25),  # no spread: NaN coefficient
    ):
        assert _same(opinion_moments(x), _numpy(x)), n
        if n:
            assert pairwise_sum(x) == np.add.reduce(x)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(0, 700), elements=st.floats(-1, 1, width=64)))
def test_moments_of_any_opinions_are_numpys(x):
    assert _same(opinion_moments(x), _numpy(x))
    if x.size:
        assert pairwise_sum(x) == np.add.reduce(x)


def test_a_sum_of_negative_zeros_is_numpys_zero():
    for n in (3, 50, 500):
        x = np.full(n, -0.0)
        assert str(pairwise_sum(x)) == str(np.add.reduce(x)) == "0.0"


def test_a_strided_view_gives_numpys_moments_of_the_view():
    x = np.random.default_rng(2).normal(size=(5000, 3))[:, 1]
    assert not x.flags.c_contiguous
    assert _same(opinion_moments(x), _numpy(x))


def test_the_bimodality_coefficient_takes_one_dimension_of_opinions():
    from townsquare.world import bimodality_coefficient

    x = np.random.default_rng(3).choice([-0.9, 0.9], 500).astype(np.float32)
    assert bimodality_coefficient(x) == _numpy(x.astype(np.float64))[2] > 5 / 9
    with pytest.raises(ValueError, match="1-D array of opinions, not shape"):
        bimodality_coefficient(np.zeros((4, 4)))
