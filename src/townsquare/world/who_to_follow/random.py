"""``random``: accounts drawn uniformly, a new draw for every reader and step."""

from __future__ import annotations

import numba
import numpy as np

from ..draws import unit_hash
from .contract import FollowRecommender, Scratch, empty_suggestions, mark_own, partitions

#: draws per suggestion before a reader is given fewer (only where nearly every account
#: is followed, hidden or the reader)
TRIES = 64


@numba.njit(cache=True, parallel=True)
def _random_kernel(readers, offset, out_deg, pool, hidden, seed, parts, marks, out):
    n = offset.shape[0]
    count = out.shape[1]
    per = (readers.shape[0] + parts - 1) // parts
    for part in numba.prange(parts):
        mark = marks[part]  # the partition's scratch, zeros on entry and on exit
        for i in range(part * per, min(readers.shape[0], (part + 1) * per)):
            u = readers[i]
            mark_own(mark, u, offset, out_deg, pool, True)
            filled = 0
            for draw in range(TRIES * count):
                if filled == count:
                    break
                c = min(int(unit_hash(seed, u, draw) * n), n - 1)
                if mark[c] or hidden[c]:
                    continue
                out[i, filled] = c
                mark[c] = True  # never twice
                filled += 1
            for j in range(filled, count):
                out[i, j] = -1
            mark_own(mark, u, offset, out_deg, pool, False)
            for j in range(filled):
                mark[out[i, j]] = False


class RandomAccounts(FollowRecommender):
    name = "random"
    summary = "accounts drawn uniformly among those the reader does not follow (a baseline)"
    source = "Y Social's random follow recommender (YSocialTwin/YServer); OASIS's random"

    def __init__(self):
        self.scratch = Scratch()

    def suggest(self, graph, readers, hidden, count, seed):
        if readers.size == 0:
            return empty_suggestions(readers, count)
        out = np.empty((readers.shape[0], count), np.int64)
        _random_kernel(
            readers, graph.offset, graph.out_deg, graph.pool, hidden, seed,
            partitions(readers),
            self.scratch.get("mark", partitions(readers), graph.n, np.bool_), out,
        )  # fmt: skip
        return out
