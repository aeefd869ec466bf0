"""Opinion update rules applied after users read their feeds."""

from __future__ import annotations

import numpy as np


def bounded_confidence(
    opinion: np.ndarray,
    users: np.ndarray,
    feed_stance: np.ndarray,
    feed_topic: np.ndarray,
    shown: np.ndarray,
    susceptibility: np.ndarray,
    epsilon: float,
    mu: float,
) -> None:
    """Deffuant-style bounded confidence on what each user read, in place.

    Each reader moves toward the mean stance of the posts within ``epsilon`` of their own
    opinion on that post's topic, by ``mu * susceptibility``; posts farther away are
    ignored. Readers are updated simultaneously, so the order of users does not matter.
    """
    if users.size == 0:
        return
    own = opinion[users]  # (m, topics)
    gap = feed_stance - np.take_along_axis(own, np.where(shown, feed_topic, 0), axis=1)
    close = shown & (np.abs(gap) < epsilon)
    rate = mu * susceptibility[users]
    for t in range(opinion.shape[1]):
        on_topic = close & (feed_topic == t)
        count = on_topic.sum(axis=1)
        moved = count > 0
        if not moved.any():
            continue
        mean_gap = np.where(on_topic, gap, 0.0).sum(axis=1)[moved] / count[moved]
        rows = users[moved]
        opinion[rows, t] = np.clip(opinion[rows, t] + rate[moved] * mean_gap, -1.0, 1.0)


OPINION_RULES = {"bounded_confidence": bounded_confidence}
