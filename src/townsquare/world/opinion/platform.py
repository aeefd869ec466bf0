"""Opinion rules on the platform: how users' opinions move after reading their feeds.

One contract for all: ``rule(opinion, users, feed_stance, feed_topic, shown,
susceptibility, epsilon, mu, rng)`` updates ``opinion`` in place for the readers
``users`` (row i of the feed arrays is ``users[i]``'s feed). All readers update
simultaneously, so the order of users never matters. Users with susceptibility 0 never
move.
"""

from __future__ import annotations

import numba
import numpy as np

from ..moments import pairwise_tree


def _one_read_post(rng, shown):
    """Column of one post each reader read, uniformly at random; -1 for empty feeds."""
    if shown.shape[1] == 0:
        return np.full(shown.shape[0], -1)
    keys = np.where(shown, rng.random(shown.shape), -1.0)
    col = keys.argmax(axis=1)
    return np.where(shown[np.arange(shown.shape[0]), col], col, -1)


@numba.njit(cache=True)
def _pairwise_sum(a, n):
    """numpy's pairwise summation of ``a[:n]`` (what ``sum(axis=1)`` does on a contiguous
    row), so the compiled rules give numpy's bits exactly (`moments.pairwise_tree`)."""
    return pairwise_tree(a, 0, n, 0.0, 1)


@numba.njit(cache=True, inline="always")
def _move(opinion, u, t, total, count, susceptibility, mu, krause):
    """User u's opinion on topic t after reading ``count`` close posts whose gaps to it sum
    to ``total``: by mu x susceptibility of their mean gap, or (Hegselmann–Krause) to the
    mean of its own and theirs."""
    total = 0.0 + total
    if krause:
        step = susceptibility[u] * (total / (count + 1))
    else:
        step = mu * susceptibility[u] * (total / count)
    opinion[u, t] = min(max(opinion[u, t] + step, -1.0), 1.0)


#: readers per block of a parallel rule, each block with its own scratch rows
ROW_BLOCK = 512


@numba.njit(cache=True, parallel=True)
def _close_mean_kernel(opinion, users, feed_stance, feed_topic, shown, susceptibility,
                       epsilon, mu, krause):  # fmt: skip
    """Each reader moves on each topic toward the read posts within ``epsilon`` (see
    `bounded_confidence` and `hegselmann_krause`); readers are distinct users, so rows
    are independent."""
    n, k = feed_stance.shape
    topics = opinion.shape[1]
    for b in numba.prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        gap = np.empty(k)
        masked = np.empty(k)
        for i in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK)):
            u = users[i]
            for j in range(k):
                gap[j] = feed_stance[i, j] - opinion[u, feed_topic[i, j] if shown[i, j] else 0]
            for t in range(topics):
                count = 0
                for j in range(k):
                    on = shown[i, j] and abs(gap[j]) < epsilon and feed_topic[i, j] == t
                    masked[j] = gap[j] if on else 0.0
                    count += on
                if count:
                    _move(opinion, u, t, _pairwise_sum(masked, k), count, susceptibility, mu,
                          krause)  # fmt: skip


@numba.njit(cache=True, parallel=True)
def _close_mean_compact_kernel(opinion, users, start, col, post, post_stance, post_topic, k,
                               susceptibility, epsilon, mu, krause):  # fmt: skip
    """`_close_mean_kernel` on feeds kept as their shown slots (`compact_feeds`): each
    read post's stance and topic back in its column of a zeroed row, so the sums are the
    same bits."""
    topics = opinion.shape[1]
    n = users.shape[0]
    # rows in blocks, each with one scratch row: an array made per reader costs more
    # than the reader's sums
    for b in numba.prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        masked = np.empty(k)
        for i in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK)):
            u = users[i]
            for t in range(topics):
                masked[:] = 0.0
                count = 0
                for q in range(start[i], start[i + 1]):
                    p = post[q]
                    gap = post_stance[p] - opinion[u, post_topic[p]]
                    if post_topic[p] == t and abs(gap) < epsilon:
                        masked[col[q]] = gap
                        count += 1
                if count:
                    _move(opinion, u, t, _pairwise_sum(masked, k), count, susceptibility, mu,
                          krause)  # fmt: skip


def bounded_confidence(
    opinion, users, feed_stance, feed_topic, shown, susceptibility, epsilon, mu, rng=None
) -> None:
    """Move toward the mean stance of the read posts within ``epsilon`` of one's opinion
    on their topic, by ``mu * susceptibility``; farther posts are ignored."""
    if users.size == 0:
        return
    _close_mean_kernel(opinion, np.ascontiguousarray(users, np.int64), feed_stance,
                       feed_topic, shown, susceptibility, float(epsilon), float(mu), False)  # fmt: skip


def hegselmann_krause(
    opinion, users, feed_stance, feed_topic, shown, susceptibility, epsilon, mu, rng=None
) -> None:
    """Hegselmann–Krause on the feed: the new opinion is the mean of one's own opinion and
    the read posts within ``epsilon``, reached in full for susceptibility 1 (``mu`` unused)."""
    if users.size == 0:
        return
    # mean of (own, close posts) minus own = sum of gaps / (count + 1)
    _close_mean_kernel(opinion, np.ascontiguousarray(users, np.int64), feed_stance,
                       feed_topic, shown, susceptibility, float(epsilon), 0.0, True)  # fmt: skip


def deffuant(
    opinion, users, feed_stance, feed_topic, shown, susceptibility, epsilon, mu, rng
) -> None:
    """Deffuant on the feed: each reader meets one read post at random and, if it lies
    within ``epsilon``, moves toward it by ``mu * susceptibility`` of the gap."""
    if users.size == 0:
        return
    col = _one_read_post(rng, shown)
    has = col >= 0
    rows = np.flatnonzero(has)
    topic = feed_topic[rows, col[has]]
    stance = feed_stance[rows, col[has]]
    who = users[rows]
    gap = stance - opinion[who, topic]
    near = np.abs(gap) < epsilon
    who, topic, gap = who[near], topic[near], gap[near]
    opinion[who, topic] = np.clip(opinion[who, topic] + mu * susceptibility[who] * gap, -1, 1)


def voter(opinion, users, feed_stance, feed_topic, shown, susceptibility, epsilon, mu, rng) -> None:
    """Voter model on the feed: each reader takes on the stance of one read post at random,
    with probability equal to its susceptibility (``epsilon`` and ``mu`` unused)."""
    if users.size == 0:
        return
    col = _one_read_post(rng, shown)
    has = col >= 0
    rows = np.flatnonzero(has)
    adopt = rng.random(rows.size) < susceptibility[users[rows]]
    rows, cols = rows[adopt], col[has][adopt]
    opinion[users[rows], feed_topic[rows, cols]] = feed_stance[rows, cols]


def close_mean_compact(
    rule, opinion, users, compact, k, post_stance, post_topic, susceptibility, epsilon, mu
) -> None:
    """``rule`` (one of `COMPACT_RULES`) on feeds of width ``k`` kept by `compact_feeds`,
    reading each shown post's stance and topic from the post columns: the same opinions,
    bit for bit, as on the feeds themselves."""
    if users.size == 0:
        return
    krause = COMPACT_RULES[rule]
    _close_mean_compact_kernel(opinion, np.ascontiguousarray(users, np.int64), *compact,
                               post_stance, post_topic, int(k), susceptibility, float(epsilon),
                               0.0 if krause else float(mu), krause)  # fmt: skip


#: rules that also read feeds kept as their shown slots (`close_mean_compact`), with
#: whether each is Hegselmann–Krause's
COMPACT_RULES = {bounded_confidence: False, hegselmann_krause: True}

#: rules whose random draws go to readers in turn, so the readers' order matters: the
#: world hands them their readers by id
ORDER_DEPENDENT = frozenset({deffuant, voter})

OPINION_RULES = {
    "bounded_confidence": bounded_confidence,
    "hegselmann_krause": hegselmann_krause,
    "deffuant": deffuant,
    "voter": voter,
}
