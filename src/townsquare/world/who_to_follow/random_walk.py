"""``random_walk``: the accounts most visited by short walks from the reader."""

from __future__ import annotations

import numba
import numpy as np

from ..draws import unit_hash
from .contract import (
    FollowRecommender,
    Scratch,
    empty_suggestions,
    keep_best,
    mark_own,
    partitions,
    write_row,
)

#: no walk goes further (a restart chance of 0.15 ends 99.97% of walks sooner)
MAX_LENGTH = 50


@numba.njit(cache=True, parallel=True)
def _walk_kernel(
    readers, offset, out_deg, pool, hidden, walks, restart, seed, parts, visit_rows,
    mark_rows, touch_rows, out,
):  # fmt: skip
    count = out.shape[1]
    per = (readers.shape[0] + parts - 1) // parts
    for part in numba.prange(parts):
        # the partition's scratch, zeros on entry and on exit
        visits, mark, touched = visit_rows[part], mark_rows[part], touch_rows[part]
        best_ids = np.empty(count, np.int64)
        best_scores = np.empty(count)
        for i in range(part * per, min(readers.shape[0], (part + 1) * per)):
            u = readers[i]
            mark_own(mark, u, offset, out_deg, pool, True)
            nt = 0
            draw = 0
            for _ in range(walks):
                cur = u
                for _ in range(MAX_LENGTH):
                    deg = out_deg[cur]
                    if deg == 0:
                        break
                    pick = int(unit_hash(seed, u, draw) * deg)
                    draw += 1
                    cur = pool[offset[cur] + min(pick, deg - 1)]
                    if not mark[cur] and not hidden[cur]:
                        if visits[cur] == 0:
                            touched[nt] = cur
                            nt += 1
                        visits[cur] += 1
                    go_home = unit_hash(seed, u, draw) < restart
                    draw += 1
                    if go_home:
                        break
            filled = 0
            for t in range(nt):
                c = touched[t]
                filled = keep_best(best_ids, best_scores, filled, c, np.float64(visits[c]))
                visits[c] = 0
            write_row(out, i, best_ids, filled)
            mark_own(mark, u, offset, out_deg, pool, False)


class RandomWalk(FollowRecommender):
    name = "random_walk"
    summary = (
        "the accounts most often reached by `walks` random walks along follows from the "
        "reader, each returning home with chance `restart` after every step (personalised "
        "PageRank by Monte Carlo)"
    )
    source = (
        "Gupta et al., 'WTF: The Who to Follow Service at Twitter', WWW 2013 (the 'circle "
        "of trust' of an egocentric random walk); Liben-Nowell & Kleinberg (2007), rooted "
        "PageRank; Fogaras et al., Internet Math. 2:333 (2005), Monte Carlo walks"
    )

    def __init__(self, walks: int = 10, restart: float = 0.15):
        self.walks = int(walks)
        self.restart = float(restart)
        self.scratch = Scratch()

    def suggest(self, graph, readers, hidden, count, seed):
        if readers.size == 0:
            return empty_suggestions(readers, count)
        out = np.empty((readers.shape[0], count), np.int64)
        parts, n = partitions(readers), graph.n
        _walk_kernel(
            readers, graph.offset, graph.out_deg, graph.pool, hidden, self.walks,
            self.restart, seed, parts, self.scratch.get("visits", parts, n, np.int32),
            self.scratch.get("mark", parts, n, np.bool_),
            self.scratch.get("touched", parts, n, np.int64), out,
        )  # fmt: skip
        return out
