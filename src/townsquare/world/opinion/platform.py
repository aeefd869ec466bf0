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

from ..feed import shown_starts


def _one_read_post(rng, shown):
    """Column of one post each reader read, uniformly at random; -1 for empty feeds."""
    if shown.shape[1] == 0:
        return np.full(shown.shape[0], -1)
    keys = np.where(shown, rng.random(shown.shape), -1.0)
    col = keys.argmax(axis=1)
    return np.where(shown[np.arange(shown.shape[0]), col], col, -1)


@numba.njit(cache=True)
def _block_sum(a, lo, n):
    """numpy's pairwise summation of a block of at most 128 values."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True)
def _pairwise_sum(a, n):
    """numpy's pairwise summation of ``a[:n]`` (what ``sum(axis=1)`` does on a contiguous
    row: blocks of up to 128 summed as above, halves of longer runs added), so the
    compiled rules give numpy's bits exactly. Feeds hold at most 1,000 posts, so the
    halving goes at most 3 deep: an explicit stack of partial sums stands in for
    numpy's recursion."""
    if n <= 128:
        return _block_sum(a, 0, n)
    # post-order walk of numpy's split tree: (lo, n, state) frames; values on a stack
    frames_lo = np.empty(64, np.int64)
    frames_n = np.empty(64, np.int64)
    frames_state = np.empty(64, np.int64)
    values = np.empty(64)
    top, vtop = 0, 0
    frames_lo[0], frames_n[0], frames_state[0] = 0, n, 0
    while top >= 0:
        lo, m, state = frames_lo[top], frames_n[top], frames_state[top]
        if m <= 128:
            values[vtop] = _block_sum(a, lo, m)
            vtop += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if state == 0:  # first the left half
            frames_state[top] = 1
            top += 1
            frames_lo[top], frames_n[top], frames_state[top] = lo, half, 0
        elif state == 1:  # then the right half
            frames_state[top] = 2
            top += 1
            frames_lo[top], frames_n[top], frames_state[top] = lo + half, m - half, 0
        else:  # both done: left + right
            vtop -= 1
            right = values[vtop]
            values[vtop - 1] = values[vtop - 1] + right
            top -= 1
    return values[0]


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


@numba.njit(cache=True, parallel=True)
def _close_mean_kernel(opinion, users, feed_stance, feed_topic, shown, susceptibility,
                       epsilon, mu, krause):  # fmt: skip
    """Each reader moves on each topic toward the read posts within ``epsilon`` (see
    `bounded_confidence` and `hegselmann_krause`); readers are distinct users, so rows
    are independent."""
    n, k = feed_stance.shape
    topics = opinion.shape[1]
    for i in numba.prange(n):
        u = users[i]
        gap = np.empty(k)
        for j in range(k):
            gap[j] = feed_stance[i, j] - opinion[u, feed_topic[i, j] if shown[i, j] else 0]
        masked = np.empty(k)
        for t in range(topics):
            count = 0
            for j in range(k):
                on = shown[i, j] and abs(gap[j]) < epsilon and feed_topic[i, j] == t
                masked[j] = gap[j] if on else 0.0
                count += on
            if count:
                _move(opinion, u, t, _pairwise_sum(masked, k), count, susceptibility, mu, krause)


@numba.njit(cache=True, parallel=True)
def _close_mean_compact_kernel(opinion, users, start, col, post, post_stance, post_topic, k,
                               susceptibility, epsilon, mu, krause):  # fmt: skip
    """`_close_mean_kernel` on feeds kept as their shown slots (`compact_feeds`): each
    read post's stance and topic back in its column of a zeroed row, so the sums are the
    same bits."""
    topics = opinion.shape[1]
    for i in numba.prange(users.shape[0]):
        u = users[i]
        masked = np.empty(k)
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
                _move(opinion, u, t, _pairwise_sum(masked, k), count, susceptibility, mu, krause)


@numba.njit(cache=True, parallel=True)
def _shown_slots_of(feed, start, col, post):
    n, k = feed.shape
    for i in numba.prange(n):
        q = start[i]
        for j in range(k):
            if feed[i, j] >= 0:
                col[q], post[q] = j, feed[i, j]
                q += 1


def compact_feeds(feed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shown slots of each row of a feed of post ids, in order: row i's are
    ``start[i]:start[i + 1]`` of (column, post). At k = 20 a feed is mostly empty slots,
    and a slot's stance and topic are its post's: a sixth of the bytes of a feed's
    stances, topics and shown marks, at most."""
    start = shown_starts(feed)
    shown = int(start[-1])
    # post ids fit 32 bits below 2^31 posts (ten million users write about 0.9 M a step)
    wide = feed.size and int(feed.max()) >= 2**31
    col = np.empty(shown, np.int16 if feed.shape[1] <= 2**15 else np.int32)
    post = np.empty(shown, np.int64 if wide else np.int32)
    _shown_slots_of(feed, start, col, post)
    return start, col, post


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
