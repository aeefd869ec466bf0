"""``preferential_attachment``: the most-followed accounts the reader does not follow yet."""

from __future__ import annotations

import numba
import numpy as np

from .contract import FollowRecommender, Scratch, empty_suggestions, mark_own, partitions


@numba.njit(cache=True, parallel=True)
def _first_unfollowed(readers, offset, out_deg, pool, ranked, parts, marks, out):
    count = out.shape[1]
    per = (readers.shape[0] + parts - 1) // parts
    for part in numba.prange(parts):
        mark = marks[part]  # the partition's scratch, zeros on entry and on exit
        for i in range(part * per, min(readers.shape[0], (part + 1) * per)):
            u = readers[i]
            mark_own(mark, u, offset, out_deg, pool, True)
            filled = 0
            for c in ranked:
                if filled == count:
                    break
                if not mark[c]:
                    out[i, filled] = c
                    filled += 1
            for j in range(filled, count):
                out[i, j] = -1
            mark_own(mark, u, offset, out_deg, pool, False)


class PreferentialAttachment(FollowRecommender):
    name = "preferential_attachment"
    summary = (
        "the accounts with the most followers that the reader does not follow yet (score "
        "|out(u)| x |in(c)|, the same order for every reader)"
    )
    source = (
        "Barabási & Albert, Science 286:509 (1999); Liben-Nowell & Kleinberg (2007); "
        "Y Social's preferential_attachment (YSocialTwin/YServer: the global top by "
        "in-degree)"
    )

    def __init__(self):
        self.scratch = Scratch()

    def suggest(self, graph, readers, hidden, count, seed):
        if readers.size == 0:
            return empty_suggestions(readers, count)
        # enough of the top for any reader: its own followees and itself may be among them
        visible = np.flatnonzero(~hidden)
        top = min(visible.size, count + int(graph.out_deg[readers].max()) + 1)
        followers = graph.in_deg[visible]
        if top < visible.size:
            pick = np.argpartition(-followers, top - 1)[:top]
        else:
            pick = np.arange(visible.size)
        # most followers first, the lower id first among equals
        ranked = visible[pick[np.lexsort((visible[pick], -followers[pick]))]]
        out = np.empty((readers.shape[0], count), np.int64)
        _first_unfollowed(
            readers, graph.offset, graph.out_deg, graph.pool, ranked.astype(np.int64),
            partitions(readers),
            self.scratch.get("mark", partitions(readers), graph.n, np.bool_), out,
        )  # fmt: skip
        return out
