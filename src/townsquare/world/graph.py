"""Directed follow graph with fast follow and unfollow.

Edge ``u -> v`` means *u follows v*: v's posts reach u's timeline, and v's follower
count is its in-degree.

Each user's followees live in one block of a shared int32 pool, with slack capacity.
Following appends into the block; when a block is full it is moved to the end of the
pool with twice the capacity (amortised O(1), never a full rebuild per step), and the
pool is compacted only when relocated blocks have left it mostly holes. Unfollowing
swaps the removed followee with the last one. Follower (in-edge) lists are not kept
incrementally, because removing a follower of a celebrity would scan millions of entries;
the rare readers who need them get a CSR transpose, cached until the graph changes.
"""

from __future__ import annotations

import numba
import numpy as np

from . import checks

_MIN_CAP = 4


@numba.njit(cache=True)
def _follow_kernel(offset, cap, out_deg, in_deg, pool, pool_end, src, dst, applied, start):
    for i in range(start, src.shape[0]):
        u = src[i]
        v = dst[i]
        applied[i] = False
        if u == v or u < 0 or v < 0:
            continue
        o = offset[u]
        d = out_deg[u]
        present = False
        for j in range(o, o + d):
            if pool[j] == v:
                present = True
                break
        if present:
            continue
        if d == cap[u]:
            new_cap = max(_MIN_CAP, 2 * cap[u])
            if pool_end + new_cap > pool.shape[0]:
                return i, pool_end  # caller grows the pool and resumes at i
            for j in range(d):
                pool[pool_end + j] = pool[o + j]
            offset[u] = pool_end
            cap[u] = new_cap
            pool_end += new_cap
            o = pool_end - new_cap
        pool[o + d] = v
        out_deg[u] = d + 1
        in_deg[v] += 1
        applied[i] = True
    return src.shape[0], pool_end


@numba.njit(cache=True)
def _unfollow_kernel(offset, out_deg, in_deg, pool, src, dst, applied):
    for i in range(src.shape[0]):
        u = src[i]
        v = dst[i]
        applied[i] = False
        if u < 0 or v < 0:
            continue
        o = offset[u]
        d = out_deg[u]
        for j in range(o, o + d):
            if pool[j] == v:
                pool[j] = pool[o + d - 1]
                out_deg[u] = d - 1
                in_deg[v] -= 1
                applied[i] = True
                break


@numba.njit(cache=True)
def _has_edge_kernel(offset, out_deg, pool, src, dst, out):
    for i in range(src.shape[0]):
        out[i] = src[i] >= 0 and dst[i] >= 0 and has_edge(offset, out_deg, pool, src[i], dst[i])


@numba.njit(cache=True, inline="always")
def has_edge(offset, out_deg, pool, u, v):
    """Whether ``u`` follows ``v``: a scan of u's block (kernels of other modules call it
    on this graph's arrays, or on a graph of the same layout, such as mutes)."""
    for j in range(offset[u], offset[u] + out_deg[u]):
        if pool[j] == v:
            return True
    return False


@numba.njit(cache=True, parallel=True)
def _gather_edges(offset, out_deg, pool, first, src_out, dst_out):
    """Each follower's edges at its place in the list (``starts``: the out-degrees'
    running sum), followers in parallel; follower u is ``first + u``."""
    n = offset.shape[0]
    starts = np.empty(n + 1, np.int64)
    starts[0] = 0
    for u in range(n):
        starts[u + 1] = starts[u] + out_deg[u]
    for b in numba.prange((n + 4095) // 4096):
        for u in range(b * 4096, min(n, (b + 1) * 4096)):
            o, k = offset[u], starts[u]
            for j in range(out_deg[u]):
                src_out[k + j] = first + u
                dst_out[k + j] = pool[o + j]


@numba.njit(cache=True)
def _compact_kernel(offset, cap, out_deg, pool, new_pool):
    pos = 0
    for u in range(offset.shape[0]):
        o = offset[u]
        d = out_deg[u]
        for j in range(d):
            new_pool[pos + j] = pool[o + j]
        offset[u] = pos
        pos += cap[u]
    return pos


@numba.njit(cache=True)
def _drop_repeats(keys):
    """Keep the first of each run of equal values of a sorted array, in place; returns
    how many are kept."""
    m = 0
    for i in range(keys.shape[0]):
        if i == 0 or keys[i] != keys[i - 1]:
            keys[m] = keys[i]
            m += 1
    return m


@numba.njit(cache=True)
def _count_degrees(keys, n, out_deg, in_deg):
    """Out- and in-degrees of the edges ``keys`` (follower * n + followee)."""
    for key in keys:
        out_deg[key // n] += 1
        in_deg[key % n] += 1


@numba.njit(cache=True)
def _fill_pool(keys, n, offset, pool):
    """Each follower's followees, in key order, from the start of its block."""
    u_last, j = -1, 0
    for key in keys:
        u = key // n
        if u != u_last:
            u_last, j = u, 0
        pool[offset[u] + j] = key % n
        j += 1


def _slack_capacity(deg: np.ndarray) -> np.ndarray:
    return np.maximum(_MIN_CAP, deg + (deg >> 2) + 2).astype(np.int32)


class FollowGraph:
    """Who follows whom, for ``n`` users."""

    def __init__(self, n: int, src: np.ndarray | None = None, dst: np.ndarray | None = None):
        if n < 0:
            raise ValueError("a graph needs a non-negative number of users")
        self.n = n = int(n)
        src = np.zeros(0, np.int64) if src is None else np.asarray(src, np.int64)
        dst = np.zeros(0, np.int64) if dst is None else np.asarray(dst, np.int64)
        if src.shape != dst.shape:
            raise ValueError("src and dst must have the same length")
        src, dst = src.ravel(), dst.ravel()  # edges as flat lists, whatever their shape
        if src.size and (src.min() < 0 or dst.min() < 0 or src.max() >= n or dst.max() >= n):
            raise ValueError(f"edge endpoints must lie in [0, {n})")
        # sorted by follower, then followee, self-follows and repeats dropped; built in
        # place (at 10^8 edges every temporary array is 0.8 GB: the numpy expressions
        # this replaced took the build to 7 GB)
        keep = src != dst
        if keep.all():
            keys = src * n
            keys += dst
        else:
            keys = src[keep]
            keys *= n
            keys += dst[keep]
        del keep
        keys.sort()
        keys = keys[: _drop_repeats(keys)]
        self.out_deg = np.zeros(n, np.int32)
        self.in_deg = np.zeros(n, np.int32)
        _count_degrees(keys, n, self.out_deg, self.in_deg)
        self.cap = _slack_capacity(self.out_deg)
        self.offset = np.zeros(n, np.int64)
        if n:
            np.cumsum(self.cap[:-1], out=self.offset[1:])
        self.pool_end = int(self.cap.sum())
        self.pool = np.full(max(self.pool_end * 5 // 4, 16), -1, np.int32)
        _fill_pool(keys, n, self.offset, self.pool)
        self.version = 0
        self._followers_cache: tuple[int, np.ndarray, np.ndarray] | None = None

    # ----------------------------------------------------------------- queries
    @property
    def edge_count(self) -> int:
        return int(self.out_deg.sum(dtype=np.int64))

    @property
    def follower_count(self) -> np.ndarray:
        return self.in_deg

    @property
    def followee_count(self) -> np.ndarray:
        return self.out_deg

    def followees(self, user: int) -> np.ndarray:
        o = self.offset[user]
        return self.pool[o : o + self.out_deg[user]].copy()

    def follows(self, src, dst) -> np.ndarray:
        """Whether each ``src[i]`` follows ``dst[i]`` (vectorised; -1 entries give False)."""
        src = np.ascontiguousarray(src, np.int64).ravel()
        dst = np.ascontiguousarray(dst, np.int64).ravel()
        self._check_ids(src, dst)
        out = np.zeros(src.shape[0], np.bool_)
        _has_edge_kernel(self.offset, self.out_deg, self.pool, src, dst, out)
        return out

    def edges(self, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The edges of followers ``lo:hi`` (all by default) as (follower, followee)
        arrays, grouped by follower."""
        hi = self.n if hi is None else hi
        if not 0 <= lo <= hi <= self.n:
            raise ValueError(f"followers {lo}:{hi} are not within 0:{self.n}")
        m = int(self.out_deg[lo:hi].sum(dtype=np.int64))
        src = np.empty(m, np.int64)
        dst = np.empty(m, np.int64)
        _gather_edges(self.offset[lo:hi], self.out_deg[lo:hi], self.pool, lo, src, dst)
        return src, dst

    def followers_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, followers): ``followers[indptr[v]:indptr[v+1]]`` follow v."""
        if self._followers_cache is None or self._followers_cache[0] != self.version:
            src, dst = self.edges()
            order = np.argsort(dst, kind="stable")
            indptr = np.zeros(self.n + 1, np.int64)
            np.cumsum(np.bincount(dst, minlength=self.n), out=indptr[1:])
            self._followers_cache = (self.version, indptr, src[order])
        return self._followers_cache[1], self._followers_cache[2]

    # ----------------------------------------------------------------- updates
    def follow(self, src, dst) -> np.ndarray:
        """Add edges ``src[i] -> dst[i]`` in order; returns which were new."""
        src = np.ascontiguousarray(src, np.int64).ravel()
        dst = np.ascontiguousarray(dst, np.int64).ravel()
        self._check_ids(src, dst)
        applied = np.zeros(src.shape[0], np.bool_)
        start = 0
        while True:
            start, self.pool_end = _follow_kernel(
                self.offset,
                self.cap,
                self.out_deg,
                self.in_deg,
                self.pool,
                self.pool_end,
                src,
                dst,
                applied,
                start,
            )
            if start >= src.shape[0]:
                break
            self._make_room()
        self.version += 1
        return applied

    def unfollow(self, src, dst) -> np.ndarray:
        """Remove edges ``src[i] -> dst[i]`` in order; returns which existed."""
        src = np.ascontiguousarray(src, np.int64).ravel()
        dst = np.ascontiguousarray(dst, np.int64).ravel()
        self._check_ids(src, dst)
        applied = np.zeros(src.shape[0], np.bool_)
        _unfollow_kernel(self.offset, self.out_deg, self.in_deg, self.pool, src, dst, applied)
        self.version += 1
        return applied

    def _check_ids(self, src: np.ndarray, dst: np.ndarray) -> None:
        if src.shape != dst.shape:
            raise ValueError("src and dst must have the same length")
        if src.size and (src.max() >= self.n or dst.max() >= self.n):
            raise ValueError(f"user ids must be below {self.n}")
        if src.size and (src.min() < -1 or dst.min() < -1):
            raise ValueError("user ids must be >= 0 (or -1 for none)")

    def _make_room(self) -> None:
        live = int(self.cap.sum())
        # holes left by moved blocks never exceed the live capacity, so compact once they
        # are a third of the pool
        if self.pool_end > live * 3 // 2:
            # Mostly holes left by relocated blocks: compact in place of growing.
            new_pool = np.full(max(live * 3 // 2, 16), -1, np.int32)
            self.pool_end = int(
                _compact_kernel(self.offset, self.cap, self.out_deg, self.pool, new_pool)
            )
            self.pool = new_pool
        else:
            grown = np.full(max(self.pool.shape[0] * 2, 16), -1, np.int32)
            grown[: self.pool_end] = self.pool[: self.pool_end]
            self.pool = grown

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, np.ndarray]:
        return {
            "n": np.array(self.n),
            "offset": self.offset,
            "cap": self.cap,
            "out_deg": self.out_deg,
            "in_deg": self.in_deg,
            "pool": self.pool[: self.pool_end],
            "pool_size": np.array(self.pool.shape[0]),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], n: int | None = None) -> FollowGraph:
        """The graph `state` saved, after checking every value (the kernels index the
        pool without bounds checks, so a checkpoint is never trusted); anything wrong is
        a ``ValueError`` naming the array. ``n``: the number of users it must have."""
        users = checks.scalar_int(state, "n", 0)
        if n is not None and users != n:
            raise ValueError(f"n: the graph has {users} users, the population {n}")
        offset = checks.array(state, "offset", np.int64, (users,))
        cap = checks.array(state, "cap", np.int32, (users,))
        out_deg = checks.array(state, "out_deg", np.int32, (users,))
        in_deg = checks.array(state, "in_deg", np.int32, (users,))
        used = checks.array(state, "pool", np.int32)
        pool_end = int(used.shape[0])
        # the pool at most doubles past its used part; the bound keeps a forged size from
        # allocating without limit
        pool_size = checks.scalar_int(state, "pool_size", pool_end, 4 * pool_end + 64)
        checks.within("cap", cap, 0)
        checks.within("out_deg", out_deg, 0)
        checks.refuse("out_deg", out_deg > cap, "above the block capacity (cap)", out_deg)
        outside = (offset < 0) | (offset > pool_end - cap.astype(np.int64))
        checks.refuse("offset", outside, f"with a block outside the pool of {pool_end}", offset)
        blocks = np.flatnonzero(cap > 0)
        order = blocks[np.argsort(offset[blocks], kind="stable")]
        ends = offset[order] + cap[order]
        checks.refuse("offset", offset[order][1:] < ends[:-1], "with overlapping blocks")
        # every followee, where the kernels will read it
        edges = int(out_deg.sum(dtype=np.int64))  # <= pool_end: blocks are disjoint
        row_start = np.zeros(users + 1, np.int64)
        np.cumsum(out_deg, out=row_start[1:])
        shift = np.repeat(offset - row_start[:-1], out_deg)
        followee = used[shift + np.arange(edges)]
        checks.refuse("pool", (followee < 0) | (followee >= users), "not a user id", followee)
        follower = np.repeat(np.arange(users, dtype=np.int32), out_deg)
        checks.refuse("pool", followee == follower, "a user following itself", followee)
        counted = np.bincount(followee, minlength=users)
        checks.refuse("in_deg", counted != in_deg, "not the count of followers in pool", in_deg)
        g = cls.__new__(cls)
        g.n = users
        g.offset, g.cap, g.out_deg, g.in_deg = offset, cap, out_deg, in_deg
        g.pool_end = pool_end
        g.pool = np.full(pool_size, -1, np.int32)
        g.pool[:pool_end] = used
        g.version = 0
        g._followers_cache = None
        return g
