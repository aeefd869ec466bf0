"""Synthetic follow graphs.

Each generator returns ``(src, dst, community)``: edges as arrays (``src`` follows ``dst``)
and a per-user community label (-1 where the model has none). Randomness comes from the
``numpy.random.Generator`` passed in, so one seed fixes the graph.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.spatial import cKDTree


@numba.njit(cache=True)
def _preferential_attachment(n, out_k, attractiveness, uniforms, src, dst):
    """Directed preferential attachment with initial attractiveness.

    Node t follows ``out_k[t]`` earlier nodes, each chosen with probability proportional
    to (followers + attractiveness). Drawing a uniform earlier *edge target* picks a node
    proportionally to its followers, so the choice is O(1): with probability
    E / (E + a t) take an existing edge's target, else a uniform earlier node.
    """
    e = 0
    u = 0
    nu = uniforms.shape[0]
    for t in range(1, n):
        k = min(out_k[t], t)
        first = e
        for _ in range(k):
            for _attempt in range(8):
                r1 = uniforms[u % nu]
                r2 = uniforms[(u + 1) % nu]
                u += 2
                if e > 0 and r1 * (e + attractiveness * t) < e:
                    target = dst[int(r2 * e)]
                else:
                    target = int(r2 * t)
                fresh = True
                for j in range(first, e):
                    if dst[j] == target:
                        fresh = False
                        break
                if fresh:
                    src[e] = t
                    dst[e] = target
                    e += 1
                    break
    return e


def power_law(
    rng: np.random.Generator, n: int, mean_degree: float, attractiveness: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Barabási–Albert-style growth with a tunable follower tail.

    Each user follows 1 + Poisson(mean_degree - 1) earlier users. Follower counts follow a
    power law with exponent about 2 + attractiveness / mean_degree (Dorogovtsev, Mendes &
    Samukhin 2000), so attractiveness = 0.3 * mean_degree gives the ~2.3 measured on
    Twitter (Kwak et al. 2010, REALISM F2); large attractiveness approaches a random graph.
    """
    out_k = 1 + rng.poisson(max(mean_degree - 1.0, 0.0), size=n)
    total = int(out_k.sum())
    src = np.empty(total, np.int64)
    dst = np.empty(total, np.int64)
    uniforms = rng.random(max(4 * total, 16))
    e = _preferential_attachment(n, out_k, float(attractiveness), uniforms, src, dst)
    return src[:e], dst[:e], np.full(n, -1, np.int8)


def two_communities(
    rng: np.random.Generator,
    n: int,
    mean_degree: float,
    cross_fraction: float,
    share: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed two-block stochastic block model.

    Users split into community 0 (a ``share`` of them) and 1. Each user follows on average
    ``mean_degree`` others, a ``cross_fraction`` of them in the other community.
    """
    n0 = int(round(n * share))
    sizes = np.array([n0, n - n0])
    starts = np.array([0, n0])
    community = np.repeat(np.arange(2, dtype=np.int8), sizes)
    srcs, dsts = [], []
    for a in range(2):
        for b in range(2):
            if sizes[a] == 0 or sizes[b] == 0:
                continue
            frac = (1.0 - cross_fraction) if a == b else cross_fraction
            m = rng.poisson(sizes[a] * mean_degree * frac)
            srcs.append(starts[a] + rng.integers(0, sizes[a], m))
            dsts.append(starts[b] + rng.integers(0, sizes[b], m))
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    return src, dst, community


def random_geometric(
    rng: np.random.Generator, n: int, radius: float | None = None, mean_degree: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points uniform in the unit square, mutual follows between points closer than radius.

    Give ``radius`` directly, or ``mean_degree`` to pick radius = sqrt(k / (pi n)).
    """
    if radius is None:
        if mean_degree is None:
            raise ValueError("random_geometric needs radius or mean_degree")
        radius = float(np.sqrt(mean_degree / (np.pi * max(n, 1))))
    points = rng.random((n, 2))
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray").astype(np.int64)
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return src, dst, np.full(n, -1, np.int8)
