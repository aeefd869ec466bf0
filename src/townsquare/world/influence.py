"""Influence on a propagation graph: the Independent Cascade model (Kempe, Kleinberg &
Tardos, KDD 2003), as ACORN measures a socialbot's reach (Le, Tran-Thanh & Lee, WWW 2022;
MODELS.md section 3).

A `PropagationGraph` holds edges ``u -> v`` meaning what ``u`` spreads can reach ``v``
(a Hoaxy news-propagation edge; on the platform, a follower edge read backwards), in
compressed sparse rows. `spread` is the Monte Carlo mean of the number of users an
Independent Cascade from a seed set activates (the seeds included): each newly active
user gets one chance to activate each of its out-neighbours, with probability ``p``.

Runs draw from a seeded generator in a numba kernel: the same graph, seeds, ``p``,
``runs`` and seed give the same spread, and the runs of one call share no state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

#: ACORN's edge probability (MODELS.md section 3: "edge probability p, e.g. 0.8")
EDGE_PROBABILITY = 0.8


@dataclass(frozen=True)
class PropagationGraph:
    """``n`` users, out-edges of ``u`` in ``targets[offsets[u]:offsets[u + 1]]``."""

    n: int
    offsets: np.ndarray  # int64 (n + 1,)
    targets: np.ndarray  # int64 (edges,)

    @classmethod
    def from_edges(cls, n: int, src, dst) -> PropagationGraph:
        """From edge arrays; self-loops and repeated edges are dropped, ids checked."""
        src = np.asarray(src, np.int64).ravel()
        dst = np.asarray(dst, np.int64).ravel()
        if src.shape != dst.shape:
            raise ValueError("src and dst must have the same length")
        if n < 1:
            raise ValueError("a propagation graph needs at least one user")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ValueError(f"edge ids must lie in [0, {n})")
        keep = src != dst
        pairs = np.unique(np.stack([src[keep], dst[keep]], 1), axis=0)
        counts = np.bincount(pairs[:, 0], minlength=n) if pairs.size else np.zeros(n, np.int64)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        targets = pairs[:, 1].astype(np.int64) if pairs.size else np.zeros(0, np.int64)
        return cls(n, offsets, targets)

    @property
    def out_degree(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def in_degree(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=self.n)

    @property
    def edge_count(self) -> int:
        return int(self.targets.size)


@numba.njit(cache=True)
def _uniform(state):  # pragma: no cover - numba
    """SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): the next state and a uniform in
    [0, 1). The kernel's own generator, so no global random state is touched."""
    state = np.uint64(state + np.uint64(0x9E3779B97F4A7C15))
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def _cascades(offsets, targets, seeds, p, runs, seed):  # pragma: no cover - numba
    state = np.uint64(seed)
    n = offsets.size - 1
    active = np.zeros(n, np.int64)  # the run in which each user was activated (+1)
    frontier = np.empty(n, np.int64)
    total = 0
    for r in range(1, runs + 1):
        size = 0
        for s in seeds:
            if active[s] != r:
                active[s] = r
                frontier[size] = s
                size += 1
        head = 0
        while head < size:
            u = frontier[head]
            head += 1
            for k in range(offsets[u], offsets[u + 1]):
                v = targets[k]
                if active[v] != r:
                    state, x = _uniform(state)
                    if x < p:
                        active[v] = r
                        frontier[size] = v
                        size += 1
        total += size
    return total / runs


def spread(
    graph: PropagationGraph,
    seeds,
    p: float = EDGE_PROBABILITY,
    runs: int = 200,
    seed: int = 0,
) -> float:
    """The expected number of users an Independent Cascade from ``seeds`` activates,
    seeds included (Monte Carlo over ``runs`` cascades)."""
    seeds = np.unique(np.asarray(seeds, np.int64).ravel())
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"edge probability {p!r} is not in [0, 1]")
    if runs < 1:
        raise ValueError("runs: at least one cascade")
    if seeds.size == 0:
        return 0.0
    if seeds[0] < 0 or seeds[-1] >= graph.n:
        raise ValueError(f"seed users must lie in [0, {graph.n})")
    seed = int(seed) % 2**64
    return float(_cascades(graph.offsets, graph.targets, seeds, float(p), int(runs), seed))


def top_out_degree(graph: PropagationGraph, t: int) -> np.ndarray:
    """The ``t`` users of largest out-degree (ties by id): ACORN's reference seed set."""
    order = np.lexsort((np.arange(graph.n), -graph.out_degree))
    return order[: min(t, graph.n)]


def hub_and_spoke_communities(
    rng: np.random.Generator,
    n: int = 1500,
    min_size: int = 5,
    size_exponent: float = 2.0,
    within: float = 1.0,
    across: float = 0.05,
) -> PropagationGraph:
    """ACORN's training graphs (MODELS.md section 3: "each episode a new ~1500-node graph
    of hub-and-spoke communities joined by sparse cross edges"), a new one per call.

    Users are split into communities whose sizes follow a discrete power law of exponent
    ``size_exponent`` from ``min_size`` up (stated reason: a few large stars and many
    small ones, the shape of news cascades, most of which are small stars: Goel, Anderson,
    Hofman & Watts, "The structural virality of online diffusion", Management Science
    2016). In each community the hub reaches every member; each member also reaches a
    Poisson(``within``) number of members of its own community (stated reason: spokes
    re-share inside their community, one on average) and a Poisson(``across``) number of
    users anywhere (stated reason: sparse cross edges, one user in twenty). Ids are
    shuffled, so a hub is not known by its id.
    """
    if n < min_size:
        raise ValueError(f"n {n}: at least min_size {min_size} users")
    sizes = []
    left = n
    while left > 0:
        # inverse-transform draw of a continuous power law, floored: P(s) ~ s^-exponent
        s = int(min_size * (1.0 - rng.random()) ** (-1.0 / (size_exponent - 1.0)))
        s = min(max(s, min_size), left)
        if left - s < min_size:  # no community smaller than min_size at the end
            s = left
        sizes.append(s)
        left -= s
    order = rng.permutation(n)
    src_parts, dst_parts = [], []
    start = 0
    for s in sizes:
        members = order[start : start + s]
        start += s
        hub, spokes = members[0], members[1:]
        src_parts.append(np.full(spokes.size, hub))
        dst_parts.append(spokes)
        extra = rng.poisson(within, spokes.size)
        src_parts.append(np.repeat(spokes, extra))
        dst_parts.append(members[rng.integers(0, s, int(extra.sum()))])
    cross = rng.poisson(across, n)
    src_parts.append(np.repeat(np.arange(n), cross))
    dst_parts.append(rng.integers(0, n, int(cross.sum())))
    return PropagationGraph.from_edges(n, np.concatenate(src_parts), np.concatenate(dst_parts))


def load_propagation_folder(folder) -> list[tuple[str, PropagationGraph]]:
    """Every edge list in ``folder`` (``*.edgelist``, ``*.txt``, ``*.csv``, ``*.tsv``;
    `world.loaders.load_edge_list` reads them), by file name, as propagation graphs: a
    line ``u v`` means what ``u`` spreads reaches ``v`` (a Hoaxy retweet edge). A
    `ValueError` naming the folder when it holds none."""
    from pathlib import Path

    from .loaders import load_edge_list

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".edgelist", ".txt", ".csv", ".tsv"))
    if not files:
        raise ValueError(f"{folder}: holds no edge lists (*.edgelist, *.txt, *.csv, *.tsv)")
    out = []
    for path in files:
        g = load_edge_list(path, directed=True, max_users=10_000_000)
        out.append((path.stem, PropagationGraph.from_edges(g.n, g.src, g.dst)))
    return out
