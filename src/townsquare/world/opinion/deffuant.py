"""Deffuant–Weisbuch bounded confidence on a graph (Deffuant et al., Adv. Complex Syst. 2000).

Each interaction picks a random agent i and a random neighbour j; if their opinions
(in [-1, 1]) differ by less than ``epsilon`` both move toward each other by ``mu`` times
the gap. Above epsilon = 1/2 (on [0, 1]; 1 on this [-1, 1] scale) the population reaches
consensus; below, about floor(1 / (2 epsilon')) clusters form, epsilon' being the bound
on the [0, 1] scale, i.e. epsilon / 2 here.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _deffuant(indptr, indices, opinion, epsilon, mu, max_steps, seed):
    np.random.seed(seed)  # numba's own generator, seeded per run
    n = opinion.shape[0]
    for _ in range(max_steps):
        i = np.random.randint(n)
        deg = indptr[i + 1] - indptr[i]
        if deg == 0:
            continue
        j = indices[indptr[i] + np.random.randint(deg)]
        gap = opinion[j] - opinion[i]
        if abs(gap) < epsilon:
            opinion[i] += mu * gap
            opinion[j] -= mu * gap


def deffuant_run(
    indptr, indices, opinion, epsilon: float, mu: float = 0.5, max_steps: int = 10**6, seed: int = 0
) -> np.ndarray:
    """Run ``max_steps`` interactions; ``opinion`` (float64) is updated in place and returned."""
    _deffuant(
        indptr, indices, opinion, float(epsilon), float(mu), np.int64(max_steps), np.int64(seed)
    )
    return opinion


def clusters(opinion: np.ndarray, gap: float = 0.05, min_share: float = 0.02) -> list[float]:
    """Centres of the opinion clusters: groups separated by more than ``gap``, holding at
    least ``min_share`` of the agents (stray minor clusters are left out)."""
    x = np.sort(np.asarray(opinion))
    if x.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(x) > gap) + 1
    groups = np.split(x, cuts)
    return [float(g.mean()) for g in groups if g.size >= min_share * x.size]
