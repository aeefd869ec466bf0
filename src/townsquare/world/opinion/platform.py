"""Opinion rules on the platform: how users' opinions move after reading their feeds.

One contract for all: ``rule(opinion, users, feed_stance, feed_topic, shown,
susceptibility, epsilon, mu, rng)`` updates ``opinion`` in place for the readers
``users`` (row i of the feed arrays is ``users[i]``'s feed). All readers update
simultaneously, so the order of users never matters. Users with susceptibility 0 never
move.
"""

from __future__ import annotations

import numpy as np


def _own(opinion, users, feed_topic, shown):
    return np.take_along_axis(opinion[users], np.where(shown, feed_topic, 0), axis=1)


def _one_read_post(rng, shown):
    """Column of one post each reader read, uniformly at random; -1 for empty feeds."""
    if shown.shape[1] == 0:
        return np.full(shown.shape[0], -1)
    keys = np.where(shown, rng.random(shown.shape), -1.0)
    col = keys.argmax(axis=1)
    return np.where(shown[np.arange(shown.shape[0]), col], col, -1)


def _close_posts(opinion, users, feed_stance, feed_topic, shown, epsilon):
    """Per topic: (index of readers with close posts, their gap sums, their counts), the
    close posts being those read within ``epsilon`` of the reader's opinion on that topic."""
    gap = feed_stance - _own(opinion, users, feed_topic, shown)
    close = shown & (np.abs(gap) < epsilon)
    for t in range(opinion.shape[1]):
        on_topic = close & (feed_topic == t)
        count = on_topic.sum(axis=1)
        moved = np.flatnonzero(count > 0)
        if moved.size:
            yield t, moved, np.where(on_topic, gap, 0.0).sum(axis=1)[moved], count[moved]


def bounded_confidence(
    opinion, users, feed_stance, feed_topic, shown, susceptibility, epsilon, mu, rng=None
) -> None:
    """Move toward the mean stance of the read posts within ``epsilon`` of one's opinion
    on their topic, by ``mu * susceptibility``; farther posts are ignored."""
    if users.size == 0:
        return
    for t, moved, gap_sum, count in _close_posts(
        opinion, users, feed_stance, feed_topic, shown, epsilon
    ):
        rows = users[moved]
        step = mu * susceptibility[rows] * (gap_sum / count)
        opinion[rows, t] = np.clip(opinion[rows, t] + step, -1.0, 1.0)


def hegselmann_krause(
    opinion, users, feed_stance, feed_topic, shown, susceptibility, epsilon, mu, rng=None
) -> None:
    """Hegselmann–Krause on the feed: the new opinion is the mean of one's own opinion and
    the read posts within ``epsilon``, reached in full for susceptibility 1 (``mu`` unused)."""
    if users.size == 0:
        return
    for t, moved, gap_sum, count in _close_posts(
        opinion, users, feed_stance, feed_topic, shown, epsilon
    ):
        rows = users[moved]
        # mean of (own, close posts) minus own = sum of gaps / (count + 1)
        step = susceptibility[rows] * (gap_sum / (count + 1))
        opinion[rows, t] = np.clip(opinion[rows, t] + step, -1.0, 1.0)


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


OPINION_RULES = {
    "bounded_confidence": bounded_confidence,
    "hegselmann_krause": hegselmann_krause,
    "deffuant": deffuant,
    "voter": voter,
}
