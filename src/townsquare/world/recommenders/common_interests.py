"""``common_interests``: posts on the topics the reader writes about first."""

from __future__ import annotations

import numpy as np

from .contract import ContentRecommender, ReaderTerm, Scores, WindowView, recency


class CommonInterests(ContentRecommender):
    name = "common_interests"
    summary = (
        "followees' and trending posts on the topics the reader itself wrote about in the "
        "window first (by the share of its own posts on the topic), newest first otherwise"
    )
    source = (
        "Y Social's CommonInterests (YSocialTwin/YServer, content_management.py: posts "
        "whose topics overlap the user's interests, by the number that match); a user's "
        "interests are what it wrote, as Y Social's search reads the hashtags a user used"
    )

    def scores(self, view: WindowView) -> Scores:
        n, topics = view.opinion.shape
        author = view.column("author").astype(np.int64)
        topic = view.column("topic").astype(np.int64)
        written = np.bincount(author * topics + topic, minlength=n * topics)
        interests = written.reshape(n, topics).astype(np.float64)
        interests /= np.maximum(interests.sum(axis=1, keepdims=True), 1.0)
        on_topic = np.zeros((view.hi - view.lo, topics))
        on_topic[np.arange(view.hi - view.lo), topic] = 1.0
        # recency only orders posts of equal interest
        return Scores(
            base=1e-6 * recency(view),
            discovery=view.heat,
            reader=ReaderTerm.DOT,
            user_vectors=interests,
            post_vectors=on_topic,
        )
