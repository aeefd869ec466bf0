"""The neighbourhood both Jaccard and Adamic-Adar score: accounts two follows away.

A candidate c is an account that one of the reader's followees z follows (the reader u
follows z, z follows c): the "followed by people you follow" of Twitter's suggestions.
The common neighbours of u and c are those z: out(u) ∩ in(c). Counting them while the
two-hop walk passes is what keeps this cheap (Y Social's server instead compares the two
accounts' followee sets, out(u) ∩ out(c), which takes a pass over every candidate's
followees; docs/platform.md).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .contract import keep_best, mark_own, write_row

JACCARD = 0
ADAMIC_ADAR = 1


@numba.njit(cache=True, parallel=True)
def two_hop_kernel(
    mode, readers, offset, out_deg, in_deg, pool, hidden, parts, scores, commons, marks,
    touches, out,
):  # fmt: skip
    count = out.shape[1]
    per = (readers.shape[0] + parts - 1) // parts
    for part in numba.prange(parts):
        # the partition's scratch, zeros on entry and on exit
        score, common, mark, touched = scores[part], commons[part], marks[part], touches[part]
        best_ids = np.empty(count, np.int64)
        best_scores = np.empty(count)
        for i in range(part * per, min(readers.shape[0], (part + 1) * per)):
            u = readers[i]
            o, d = offset[u], out_deg[u]
            mark_own(mark, u, offset, out_deg, pool, True)
            nt = 0
            for j in range(o, o + d):
                z = pool[j]
                # a shared neighbour followed by few counts more (Adamic & Adar 2003);
                # z has the reader's edge in and the candidate's out: degree >= 2
                weight = 1.0
                if mode == ADAMIC_ADAR:
                    weight = 1.0 / math.log(in_deg[z] + out_deg[z])
                for q in range(offset[z], offset[z] + out_deg[z]):
                    c = pool[q]
                    if mark[c] or hidden[c]:
                        continue
                    if common[c] == 0:
                        touched[nt] = c
                        nt += 1
                    common[c] += 1
                    score[c] += weight
            filled = 0
            for t in range(nt):
                c = touched[t]
                s = score[c]
                if mode == JACCARD:
                    # |out(u) ∩ in(c)| / |out(u) ∪ in(c)|
                    s = common[c] / (d + in_deg[c] - common[c])
                filled = keep_best(best_ids, best_scores, filled, c, s)
                score[c] = 0.0
                common[c] = 0
            write_row(out, i, best_ids, filled)
            mark_own(mark, u, offset, out_deg, pool, False)


def two_hop(mode: int, graph, readers, hidden, count, parts, scratch) -> np.ndarray:
    n = graph.n
    out = np.empty((readers.shape[0], count), np.int64)
    two_hop_kernel(
        mode, readers, graph.offset, graph.out_deg, graph.in_deg, graph.pool, hidden, parts,
        scratch.get("score", parts, n, np.float64), scratch.get("common", parts, n, np.int32),
        scratch.get("mark", parts, n, np.bool_), scratch.get("touched", parts, n, np.int64),
        out,
    )  # fmt: skip
    return out
