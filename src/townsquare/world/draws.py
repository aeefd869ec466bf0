"""Draws that no call order can change: a uniform number hashed from integers.

A random feed order or a random walk drawn this way depends only on (seed, step, user,
...), never on a generator's position, so a run split into parts, resumed from a
checkpoint or asked for its readers in another order draws the same numbers.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def unit_hash(seed, a, b):
    """A uniform number in [0, 1) from (seed, a, b): splitmix64's finaliser (Steele et
    al., OOPSLA 2014) on the three mixed together."""
    z = np.uint64(seed) ^ (np.uint64(a) * np.uint64(0x9E3779B97F4A7C15))
    z ^= np.uint64(b) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def step_seed(seed: int, step: int) -> int:
    """A seed of the step's own, below 2^63: mixes the step into the run's."""
    return (int(seed) ^ (int(step) * 0x9E3779B97F4A7C15)) & 0x7FFFFFFFFFFFFFFF
