"""The one contract every follow recommender ("who to follow") keeps.

A follow recommender suggests up to ``count`` accounts to each reader asked about: never
the reader itself, an account it already follows, or a suspended account; best first,
the lower id first among equals; -1 where it has fewer to suggest. Suggestions depend on
the follow graph as it stands, the run's seed, the step and the reader, and on nothing
else, so readers asked in any order or split, or after a resume, get the same ones.

Each recommender is one class in its own file with a ``name``, a one-line ``summary``,
its ``source`` and `suggest`, which runs a numba kernel over the readers in parallel.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numba
import numpy as np

from ..graph import FollowGraph


class FollowRecommender(ABC):
    """Suggests accounts to follow; found by ``name`` (`who_to_follow.by_name`)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    source: ClassVar[str]

    @abstractmethod
    def suggest(
        self, graph: FollowGraph, readers: np.ndarray, hidden: np.ndarray, count: int, seed: int
    ) -> np.ndarray:
        """int64 (len(readers), count): accounts for each reader, best first, -1 padded.
        ``hidden``: bool (n,), accounts never suggested (suspended); ``seed``: the step's."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def empty_suggestions(readers: np.ndarray, count: int) -> np.ndarray:
    return np.full((readers.shape[0], count), -1, np.int64)


@numba.njit(cache=True, inline="always")
def keep_best(ids, scores, filled, candidate, score):
    """Insert ``candidate`` into the row's best list (``ids``/``scores``, best first, the
    lower id first among equal scores) if it belongs there; returns the new fill."""
    k = ids.shape[0]
    if filled == k:
        last = k - 1
        if score < scores[last] or (score == scores[last] and candidate > ids[last]):
            return filled
        pos = last
    else:
        pos = filled
        filled += 1
    while pos > 0 and (
        scores[pos - 1] < score or (scores[pos - 1] == score and ids[pos - 1] > candidate)
    ):
        ids[pos] = ids[pos - 1]
        scores[pos] = scores[pos - 1]
        pos -= 1
    ids[pos] = candidate
    scores[pos] = score
    return filled


@numba.njit(cache=True, inline="always")
def mark_own(mark, user, offset, out_deg, pool, value):
    """Set ``mark`` of the reader and of every account it follows to ``value``: True
    before its candidates are scored (never suggested), False after (scratch left clean)."""
    mark[user] = value
    for j in range(offset[user], offset[user] + out_deg[user]):
        mark[pool[j]] = value


@numba.njit(cache=True, inline="always")
def write_row(out, i, best_ids, filled):
    """Row ``i`` of the suggestions: the ``filled`` best, then -1."""
    for j in range(out.shape[1]):
        out[i, j] = best_ids[j] if j < filled else -1


class Scratch:
    """Scratch arrays of one entry per account and partition, made once and reused: the
    kernels leave them as they found them (zeros) after every reader, so a call at 10^7
    users does not allocate and clear hundreds of MB per part. A fork starts its own."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, parts: int, n: int, dtype) -> np.ndarray:
        arr = self._arrays.get(name)
        if arr is None or arr.shape != (parts, n) or arr.dtype != np.dtype(dtype):
            arr = np.zeros((parts, n), dtype)
            self._arrays[name] = arr
        return arr

    def __deepcopy__(self, memo) -> Scratch:
        return Scratch()


def partitions(readers: np.ndarray) -> int:
    """Parallel partitions of the readers: one per thread, each with its own scratch
    arrays of one entry per account (allocated once a call, never per reader)."""
    return max(1, min(numba.get_num_threads(), readers.shape[0]))
