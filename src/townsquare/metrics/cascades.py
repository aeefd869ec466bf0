"""Repost cascades: each repost belongs to the cascade of the post it ultimately shares."""

from __future__ import annotations

import numpy as np

REPOST = 1


def cascade_roots(kind: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """For every post, the id of the post at the root of its repost chain (itself for
    posts and replies: a reply starts a conversation, and reposting it shares the reply)."""
    kind = np.asarray(kind)
    root = np.arange(kind.size, dtype=np.int64)
    is_repost = kind == REPOST
    root[is_repost] = np.asarray(parent, np.int64)[is_repost]
    # pointer jumping: chains halve every pass, so log2(depth) passes
    while True:
        nxt = np.where(is_repost[root], np.asarray(parent, np.int64)[root], root)
        if np.array_equal(nxt, root):
            return root
        root = nxt


def cascade_sizes(kind: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Size of every cascade (root post plus all reposts in its chain), one per non-repost."""
    root = cascade_roots(kind, parent)
    counts = np.bincount(root, minlength=np.asarray(kind).size)
    return counts[np.asarray(kind) != REPOST]


def repost_degree(
    author: np.ndarray, kind: np.ndarray, parent: np.ndarray, n_users: int
) -> np.ndarray:
    """Weighted degree in the repost network: each repost links the reposter and the
    author of the shared post; a user's degree counts both directions (as in the retweet
    networks of Garimella et al. 2018)."""
    author = np.asarray(author, np.int64)
    reposts = np.flatnonzero(np.asarray(kind) == REPOST)
    root = cascade_roots(kind, parent)[reposts]
    return (
        np.bincount(author[reposts], minlength=n_users)
        + np.bincount(author[root], minlength=n_users)
    ).astype(np.float64)


def repost_edges(author, kind, parent) -> tuple[np.ndarray, np.ndarray]:
    """(reposter, original author) for every repost, self-reposts dropped."""
    author = np.asarray(author, np.int64)
    reposts = np.flatnonzero(np.asarray(kind) == REPOST)
    src = author[reposts]
    dst = author[cascade_roots(kind, parent)[reposts]]
    keep = src != dst
    return src[keep], dst[keep]
