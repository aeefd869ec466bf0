"""Network measures of echo chambers and division, on edge arrays.

Edges are ``(src, dst)`` arrays over ``n`` nodes. Measures that the literature defines on
undirected simple graphs (modularity, assortativity, random-walk controversy) first
symmetrise and deduplicate the edges with `undirected_simple`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def undirected_simple(src, dst, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each undirected pair once (u < v), self-loops dropped."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    keys = np.unique(lo[keep] * n + hi[keep])
    return keys // n, keys % n


def largest_component(src, dst, n: int) -> np.ndarray:
    """Boolean mask of the nodes in the largest (weakly) connected component."""
    if n == 0:
        return np.zeros(0, bool)
    adj = sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="weak")
    return labels == np.bincount(labels).argmax()


def restrict(src, dst, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges among the kept nodes, relabelled 0..k-1; also returns the kept node ids."""
    ids = np.flatnonzero(keep)
    new_id = np.full(keep.size, -1, np.int64)
    new_id[ids] = np.arange(ids.size)
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    inside = keep[src] & keep[dst]
    return new_id[src[inside]], new_id[dst[inside]], ids


def modularity(src, dst, community, n: int | None = None, weight=None) -> float:
    """Newman modularity of a partition of the undirected graph.

    Unweighted: on the simple graph (each pair once). Weighted: the weights of both
    directions of a pair add up (retweet counts, as in Garimella et al. 2018).
    """
    community = np.asarray(community)
    n = community.size if n is None else n
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    if weight is None:
        u, v = undirected_simple(src, dst, n)
        w = np.ones(u.size)
    else:
        keep = src != dst
        u, v, w = src[keep], dst[keep], np.asarray(weight, np.float64)[keep]
    m = w.sum()
    if m <= 0:
        return float("nan")
    deg = np.bincount(u, weights=w, minlength=n) + np.bincount(v, weights=w, minlength=n)
    labels, comm = np.unique(community, return_inverse=True)
    same = comm[u] == comm[v]
    inside = np.bincount(comm[u][same], weights=w[same], minlength=labels.size)
    degree_sum = np.bincount(comm, weights=deg, minlength=labels.size)
    return float((inside / m - (degree_sum / (2.0 * m)) ** 2).sum())


def leaning_assortativity(src, dst, leaning, n: int | None = None) -> float:
    """Newman's scalar assortativity of leaning on the undirected simple graph: the
    correlation of the leanings at the two ends of an edge (both orientations)."""
    leaning = np.asarray(leaning, np.float64)
    n = leaning.size if n is None else n
    u, v = undirected_simple(src, dst, n)
    if u.size < 2:
        return float("nan")
    a = np.concatenate([leaning[u], leaning[v]])
    b = np.concatenate([leaning[v], leaning[u]])
    return _pearson(a, b)


def neighbour_leaning_correlation(src, dst, leaning, directed: bool = True) -> float:
    """Correlation between a user's leaning and the mean leaning of its neighbours.

    ``directed``: neighbours are those the user follows (src -> dst); otherwise the
    undirected simple graph's neighbours. Users without neighbours are left out.
    """
    leaning = np.asarray(leaning, np.float64)
    n = leaning.size
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    if not directed:
        u, v = undirected_simple(src, dst, n)
        src, dst = np.concatenate([u, v]), np.concatenate([v, u])
    count = np.bincount(src, minlength=n)
    total = np.bincount(src, weights=leaning[dst], minlength=n)
    has = count > 0
    if has.sum() < 2:
        return float("nan")
    return _pearson(leaning[has], total[has] / count[has])


def random_walk_controversy(
    src,
    dst,
    side,
    n: int | None = None,
    top: float = 0.01,
    iterations: int = 200,
    tol: float = 1e-10,
) -> float:
    """Random-walk controversy (Garimella et al., ACM TSC 2018).

    The ``top`` share (at least one node) of highest-degree nodes on each side absorb
    random walks on the undirected graph. With walks started uniformly at random,
    P_XY is the probability that a walk that ended on side Y started on side X;
    RWC = P_XX P_YY - P_XY P_YX (near 1: two sides that rarely reach each other's hubs).
    ``side`` is 0/1 per node; other values take no side.
    """
    side = np.asarray(side)
    n = side.size if n is None else n
    u, v = undirected_simple(src, dst, n)
    if u.size == 0:
        return float("nan")
    deg = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    absorb = np.zeros(n, bool)
    hub_side = np.full(n, -1)
    for s in (0, 1):
        members = np.flatnonzero(side == s)
        if members.size == 0:
            return float("nan")
        k = max(1, int(round(top * members.size)))
        hubs = members[np.argsort(-deg[members], kind="stable")[:k]]
        absorb[hubs] = True
        hub_side[hubs] = s
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    step = sp.csr_matrix((1.0 / np.maximum(deg[rows], 1), (rows, cols)), shape=(n, n))
    # h[v] = probability that a walk from v is absorbed by side-0 hubs (1 - that: side 1).
    # Iterate h <- P h on transient nodes, fixed on hubs; isolated nodes never absorb.
    h = np.where(absorb, (hub_side == 0).astype(np.float64), 0.5)
    transient = ~absorb & (deg > 0)
    for _ in range(iterations):
        nxt = step @ h
        change = np.abs(nxt[transient] - h[transient]).max() if transient.any() else 0.0
        h[transient] = nxt[transient]
        if change < tol:
            break
    live = deg > 0
    ends_0 = np.where(live, h, 0.0)
    ends_1 = np.where(live, 1.0 - h, 0.0)
    p = np.zeros((2, 2))
    for a in (0, 1):
        start = side == a
        p[a, 0] = ends_0[start].sum()
        p[a, 1] = ends_1[start].sum()
    # condition on where the walk ended
    p = p / np.maximum(p.sum(axis=0, keepdims=True), 1e-300)
    return float(p[0, 0] * p[1, 1] - p[0, 1] * p[1, 0])


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
