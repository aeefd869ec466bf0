"""One method for simulated and real networks: the realism facts are measured on a run
exactly as on the real networks of ``shared/data`` (docs/realism.md, "The instrument").

* **The repost network** is built as the real retweet networks were (Garimella et al.,
  ACM TSC 2018, and the README of ``shared/data/retweet``): every repost links the
  reposter and the author of the post it shares; a pair's weight counts its reposts in
  either direction; pairs with fewer than `MIN_PAIR_WEIGHT` reposts are dropped; the
  largest connected component is kept. F3 reads its weighted degrees, F6 the weighted
  modularity of a two-way split of it.
* **The two-way split** (F6) is found from the network alone, on both sides, by one
  algorithm: spectral bisection (the halves of the normalised Laplacian's Fiedler vector
  by rank, a balanced cut as METIS makes for the original authors) refined by
  Kernighan-Lin on the weights (networkx). On the real retweet networks it finds
  modularity 0.43 (gunsense) and 0.46 (ff) where the authors' METIS split has 0.48 and
  0.47; those given splits are shown beside it.
* **Echo chambers** (F5) are read on the undirected simple follow (link) graph, largest
  component, on both sides, among accounts whose leaning is an opinion: a run's
  socialbots hold a campaign stance and follow by the thousand, and polblogs, the real
  network F5 is read on, holds blogs, no bots.
* **Followers** (F2): the in-degree of the follow graph (the degree, for undirected
  friendship networks), fitted the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from .inequality import gini, top_share
from .networks import (
    largest_component,
    leaning_assortativity,
    modularity,
    neighbour_leaning_correlation,
    restrict,
    undirected_simple,
)
from .tails import fit_power_law

#: pairs with fewer reposts are not in the network, as in the real retweet networks
#: ("edges with 2+ retweets", shared/data/retweet)
MIN_PAIR_WEIGHT = 2
#: the fewest users a repost network needs for F3 and F6: its top 1% must hold at least
#: one user, and a two-way split of a handful of users says nothing of a conversation
MIN_NETWORK_NODES = 100
#: Kernighan-Lin refinement is pure Python (networkx): above this many nodes the split
#: is the spectral one alone (the real networks have 5,401 and 7,106 nodes)
REFINE_MAX_NODES = 50_000


@dataclass
class RepostNetwork:
    """Weighted undirected pairs (u < v) among ``ids.size`` nodes relabelled 0..k-1;
    ``ids`` are the original user ids."""

    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    ids: np.ndarray

    @property
    def n(self) -> int:
        return int(self.ids.size)

    def degree(self) -> np.ndarray:
        """Weighted degree of every node: the reposts it made or received in the kept
        pairs."""
        return np.bincount(self.u, weights=self.w, minlength=self.n) + np.bincount(
            self.v, weights=self.w, minlength=self.n
        )


def weighted_pairs(src, dst, n: int, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unordered pair once (u < v) with the summed weight of its edges in both
    directions (1 per edge without weights); self-loops dropped."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    w = np.ones(src.size) if weight is None else np.asarray(weight, np.float64)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    keys, inverse = np.unique(lo[keep] * n + hi[keep], return_inverse=True)
    total = np.bincount(inverse, weights=w[keep], minlength=keys.size)
    return keys // n, keys % n, total


def repost_network(src, dst, n: int, weight=None) -> RepostNetwork:
    """The repost (retweet) network as the real ones were built; see the module
    docstring. ``src, dst``: one row per repost (or per weighted edge of a real file)."""
    u, v, w = weighted_pairs(src, dst, n, weight)
    strong = w >= MIN_PAIR_WEIGHT
    u, v, w = u[strong], v[strong], w[strong]
    if u.size == 0:
        empty = np.zeros(0, np.int64)
        return RepostNetwork(empty, empty, np.zeros(0), empty)
    touched = np.zeros(n, bool)
    touched[u] = touched[v] = True
    keep = largest_component(u, v, n) & touched
    inside = keep[u] & keep[v]
    ru, rv, ids = restrict(u, v, keep)
    return RepostNetwork(ru, rv, w[inside], ids)


def two_way_split(net: RepostNetwork, seed: int = 0) -> np.ndarray:
    """0/1 per node: spectral bisection refined by Kernighan-Lin (module docstring)."""
    n = net.n
    if n < 4:
        return np.zeros(n, np.int64)
    adj = sp.coo_matrix(
        (np.r_[net.w, net.w], (np.r_[net.u, net.v], np.r_[net.v, net.u])), shape=(n, n)
    ).tocsr()
    degree = np.asarray(adj.sum(axis=1)).ravel()
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    normalised = sp.diags(scale) @ adj @ sp.diags(scale)
    start = np.random.default_rng(seed).random(n)  # ARPACK's start vector, seeded
    try:
        values, vectors = eigsh(normalised, k=2, which="LA", v0=start)
    except ArpackNoConvergence as exc:  # keep what converged: still a usable direction
        values, vectors = exc.eigenvalues, exc.eigenvectors
        if values.size < 2:
            return (np.arange(n) >= n // 2).astype(np.int64)
    fiedler = vectors[:, np.argsort(values)[0]] * scale
    # halves by rank, not by comparison with the median: a vector with many equal
    # entries (a star, say) would otherwise put every node on one side
    side = np.zeros(n, np.int64)
    side[np.argsort(fiedler, kind="stable")[n // 2 :]] = 1
    if n > REFINE_MAX_NODES:
        return side
    import networkx as nx
    from networkx.algorithms.community import kernighan_lin_bisection

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.w.tolist(), strict=True))
    first = set(np.flatnonzero(side == 0).tolist())
    a, b = kernighan_lin_bisection(
        graph, partition=(first, set(range(n)) - first), weight="weight", seed=seed
    )
    refined = np.zeros(n, np.int64)
    refined[sorted(b)] = 1
    return refined


def repost_facts(net: RepostNetwork, side: np.ndarray | None = None) -> dict[str, float]:
    """F3 and F6 on a repost network; ``side`` (0/1 per node, -1 none) is a given split,
    measured beside the instrument's own. Under `MIN_NETWORK_NODES` users they are not
    measurable (NaN)."""
    if net.n < MIN_NETWORK_NODES:
        nan = float("nan")
        return {
            "repost_degree_gini": nan,
            "repost_degree_top1_share": nan,
            "camp_modularity": nan,
            "repost_network_nodes": float(net.n),
        }
    degree = net.degree()
    split = two_way_split(net)
    out = {
        "repost_degree_gini": gini(degree),
        "repost_degree_top1_share": top_share(degree, 0.01),
        "camp_modularity": modularity(net.u, net.v, split, net.n, weight=net.w),
        "repost_network_nodes": float(net.n),
    }
    if side is not None:
        out["given_split_modularity"] = modularity(net.u, net.v, side, net.n, weight=net.w)
    return out


def echo_chamber_facts(
    src, dst, n: int, leaning: np.ndarray, holders: np.ndarray | None = None
) -> dict[str, float]:
    """F5 on the undirected simple graph's largest component. ``holders`` (bool per
    node) keeps only the edges between accounts whose leaning is an opinion: a run's
    socialbots hold a campaign stance, and the real networks F5 is read on (polblogs'
    blogs) hold no bots."""
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    if holders is not None:
        keep = holders[src] & holders[dst]
        src, dst = src[keep], dst[keep]
    u, v = undirected_simple(src, dst, n)
    if u.size < 2:
        return {
            "neighbour_leaning_correlation": float("nan"),
            "leaning_assortativity": float("nan"),
        }
    keep = largest_component(u, v, n)
    s, d, ids = restrict(u, v, keep)
    lean = np.asarray(leaning, np.float64)[ids]
    return {
        "neighbour_leaning_correlation": neighbour_leaning_correlation(s, d, lean, directed=False),
        "leaning_assortativity": leaning_assortativity(s, d, lean),
    }


def posted_leanings(author, stance, shared, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's leaning as real echo-chamber studies read it, from what it posted
    (Cinelli et al., PNAS 2021: the mean leaning of the content a user produced or
    shared): the mean stance of its ``shared`` posts, and how many there are (0: no
    leaning can be read)."""
    author = np.asarray(author, np.int64)[shared]
    count = np.bincount(author, minlength=n)
    total = np.bincount(author, weights=np.asarray(stance, np.float64)[shared], minlength=n)
    return np.divide(total, count, out=np.zeros(n), where=count > 0), count


def follower_facts(followers: np.ndarray) -> dict[str, float]:
    """F2 and the informational follower inequality, from follower counts."""
    fit = fit_power_law(followers)
    return {
        "follower_tail_alpha": fit.alpha,
        "follower_tail_xmin": fit.xmin,
        "follower_gini": gini(followers),
        "follower_top1_share": top_share(followers, 0.01),
    }
