"""Polarisation of an opinion distribution."""

from __future__ import annotations

import numpy as np

from ..world.world import bimodality_coefficient

__all__ = ["bimodality_coefficient", "esteban_ray"]


def esteban_ray(opinions: np.ndarray, bins: int = 20, alpha: float = 1.6) -> float:
    """Esteban–Ray polarisation (Econometrica 1994) of opinions in [-1, 1].

    P = sum_i sum_j pi_i^(1+alpha) pi_j |y_i - y_j| over ``bins`` equal-width groups with
    population shares pi and centres y (K = 1). Zero for consensus; largest for two equal
    groups at -1 and +1, where it is 2 * 0.5^(2+alpha).
    """
    x = np.clip(np.asarray(opinions, np.float64), -1.0, 1.0)
    if x.size == 0:
        return float("nan")
    counts, edges = np.histogram(x, bins=bins, range=(-1.0, 1.0))
    pi = counts / x.size
    y = 0.5 * (edges[:-1] + edges[1:])
    dist = np.abs(y[:, None] - y[None, :])
    return float(((pi ** (1 + alpha))[:, None] * pi[None, :] * dist).sum())
