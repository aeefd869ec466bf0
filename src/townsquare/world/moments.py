"""Mean, standard deviation and bimodality of opinions, computed in parallel with
numpy's bits.

A step's metrics describe every citizen's opinion: at ten million users numpy's
``mean``, ``std`` and the bimodality coefficient made eight passes over the opinions and
their powers, one core at a time, with an 80 MB array for each temporary. Here the
sums are numpy's pairwise sums (`pairwise_sum`, the same tree of partial sums, so the
same bits), the powers are made as they are summed, and the two halves of the tree go
to two threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: numpy's pairwise summation: blocks of at most this many values are summed in eight
#: running partial sums; longer runs are halved (at a multiple of 8)
BLOCK = 128


@numba.njit(cache=True, inline="always")
def _value(x, i, centre, power):
    """x[i] (power 1), or the power of its distance d to ``centre`` as numpy forms it
    from ``d = x - centre``: d * d, (d * d) * d or (d * d) * (d * d)."""
    if power == 1:
        return x[i]
    d = x[i] - centre
    d2 = d * d
    if power == 2:
        return d2
    if power == 3:
        return d2 * d
    return d2 * d2


@numba.njit(cache=True)
def _block(x, lo, n, centre, power):
    if n < 8:
        res = 0.0
        for i in range(n):
            res += _value(x, lo + i, centre, power)
        return res
    r0 = _value(x, lo, centre, power)
    r1 = _value(x, lo + 1, centre, power)
    r2 = _value(x, lo + 2, centre, power)
    r3 = _value(x, lo + 3, centre, power)
    r4 = _value(x, lo + 4, centre, power)
    r5 = _value(x, lo + 5, centre, power)
    r6 = _value(x, lo + 6, centre, power)
    r7 = _value(x, lo + 7, centre, power)
    i = 8
    while i < n - (n % 8):
        r0 += _value(x, lo + i, centre, power)
        r1 += _value(x, lo + i + 1, centre, power)
        r2 += _value(x, lo + i + 2, centre, power)
        r3 += _value(x, lo + i + 3, centre, power)
        r4 += _value(x, lo + i + 4, centre, power)
        r5 += _value(x, lo + i + 5, centre, power)
        r6 += _value(x, lo + i + 6, centre, power)
        r7 += _value(x, lo + i + 7, centre, power)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += _value(x, lo + i, centre, power)
        i += 1
    return res


@numba.njit(cache=True)
def pairwise_tree(x, lo, n, centre, power):
    """numpy's pairwise sum of the values lo .. lo + n - 1 (``pairwise_sum`` in numpy's
    loops_utils.h), by an explicit stack of the halves still to add."""
    if n <= BLOCK:
        return _block(x, lo, n, centre, power)
    frames_lo = np.empty(64, np.int64)
    frames_n = np.empty(64, np.int64)
    frames_state = np.empty(64, np.int64)
    values = np.empty(64)
    top, vtop = 0, 0
    frames_lo[0], frames_n[0], frames_state[0] = lo, n, 0
    while top >= 0:
        a, m, state = frames_lo[top], frames_n[top], frames_state[top]
        if m <= BLOCK:
            values[vtop] = _block(x, a, m, centre, power)
            vtop += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if state == 0:
            frames_state[top] = 1
            top += 1
            frames_lo[top], frames_n[top], frames_state[top] = a, half, 0
        elif state == 1:
            frames_state[top] = 2
            top += 1
            frames_lo[top], frames_n[top], frames_state[top] = a + half, m - half, 0
        else:
            vtop -= 1
            values[vtop - 1] = values[vtop - 1] + values[vtop]
            top -= 1
    return values[0]


@numba.njit(cache=True, parallel=True)
def _sums(x, centre, powers):
    """numpy's pairwise sum of each power's values, the two halves of the top split in
    parallel (the tree, and so the bits, are those of one sequential sum)."""
    n = x.shape[0]
    out = np.empty(powers.shape[0])
    if n <= BLOCK:
        for p in range(powers.shape[0]):
            out[p] = 0.0 + _block(x, 0, n, centre, powers[p])
        return out
    half = n // 2
    half -= half % 8
    parts = np.empty((powers.shape[0], 2))
    for job in numba.prange(2 * powers.shape[0]):
        p, side = job // 2, job % 2
        lo, m = (0, half) if side == 0 else (half, n - half)
        parts[p, side] = pairwise_tree(x, lo, m, centre, powers[p])
    for p in range(powers.shape[0]):
        # numpy adds the tree to its reduction's identity, 0: -0.0 comes out as 0.0
        out[p] = 0.0 + (parts[p, 0] + parts[p, 1])
    return out


def pairwise_sum(x: np.ndarray) -> float:
    """``np.add.reduce(x)`` of a contiguous float64 array, bit for bit, on two threads."""
    x = np.ascontiguousarray(x, np.float64)
    if x.shape[0] == 0:
        return 0.0
    return float(_sums(x, 0.0, np.array([1]))[0])


def opinion_moments(x: np.ndarray) -> tuple[float, float, float]:
    """(``x.mean()``, ``x.std()``, `bimodality_coefficient` of x) with numpy's bits:
    Sarle's coefficient from the bias-corrected sample skewness and excess kurtosis
    (REALISM: above 5/9 suggests two camps); NaN where n < 4 or all values are equal."""
    x = np.ascontiguousarray(x, np.float64)
    n = x.shape[0]
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = np.float64(pairwise_sum(x)) / n
    s2, s3, s4 = _sums(x, mean, np.array([2, 3, 4]))
    m2 = np.float64(s2) / n
    std = float(np.sqrt(m2))
    if n < 4 or m2 <= 1e-24:
        return float(mean), std, math.nan
    g = (np.float64(s3) / n) / m2**1.5
    k = (np.float64(s4) / n) / m2**2 - 3.0
    G = g * np.sqrt(n * (n - 1)) / (n - 2)
    K = ((n + 1) * k + 6) * (n - 1) / ((n - 2) * (n - 3))
    return float(mean), std, float((G * G + 1) / (K + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))
