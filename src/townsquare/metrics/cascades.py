"""Repost cascades: each repost (or quote: a share with a comment) belongs to the cascade
of the post it ultimately shares.

`Cascades` follows the repost chains once; sizes, the repost network and its degrees
are all read from that one pass.
"""

from __future__ import annotations

import numpy as np

POST, REPOST, QUOTE = 0, 1, 3


def _shares(kind: np.ndarray) -> np.ndarray:
    """Which posts share another: reposts and quotes (PostKind)."""
    return (kind == REPOST) | (kind == QUOTE)


def cascade_roots(kind: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """For every post, the id of the post at the root of its repost chain (itself for
    posts and replies: a reply starts a conversation, and reposting it shares the reply)."""
    kind = np.asarray(kind)
    parent = np.asarray(parent, np.int64)
    root = np.arange(kind.size, dtype=np.int64)
    is_repost = _shares(kind)
    root[is_repost] = parent[is_repost]
    # pointer jumping: chains halve every pass, so log2(depth) passes
    while True:
        nxt = np.where(is_repost[root], parent[root], root)
        if np.array_equal(nxt, root):
            return root
        root = nxt


class Cascades:
    """The cascades of a post store's columns (author, kind, parent)."""

    def __init__(self, author, kind, parent):
        self.author = np.asarray(author, np.int64)
        self.kind = np.asarray(kind)
        self.root = cascade_roots(self.kind, parent)
        self.shares = _shares(self.kind)
        self.reposts = np.flatnonzero(self.shares)

    def sizes(self) -> np.ndarray:
        """Size of every cascade (root plus all reposts in its chain), one per non-repost."""
        counts = np.bincount(self.root, minlength=self.kind.size)
        return counts[~self.shares]

    def post_sizes(self) -> np.ndarray:
        """Sizes of the cascades rooted at original posts (replies left out)."""
        return self.sizes()[self.kind[~self.shares] == POST]

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(reposter, original author) for every repost, self-reposts dropped."""
        src = self.author[self.reposts]
        dst = self.author[self.root[self.reposts]]
        keep = src != dst
        return src[keep], dst[keep]

    def degree(self, n_users: int) -> np.ndarray:
        """Weighted degree in the repost network: each repost links the reposter and the
        author of the shared post; a user's degree counts both directions (as in the
        retweet networks of Garimella et al. 2018)."""
        src = self.author[self.reposts]
        dst = self.author[self.root[self.reposts]]
        return (np.bincount(src, minlength=n_users) + np.bincount(dst, minlength=n_users)).astype(
            np.float64
        )


def cascade_sizes(kind, parent) -> np.ndarray:
    return Cascades(np.zeros(np.asarray(kind).size, np.int64), kind, parent).sizes()


def repost_degree(author, kind, parent, n_users: int) -> np.ndarray:
    return Cascades(author, kind, parent).degree(n_users)


def repost_edges(author, kind, parent) -> tuple[np.ndarray, np.ndarray]:
    return Cascades(author, kind, parent).edges()
