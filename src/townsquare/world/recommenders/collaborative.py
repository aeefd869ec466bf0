"""``collaborative``: posts that users like the reader reacted to first."""

from __future__ import annotations

import numpy as np

from ..posts import PostKind
from .contract import ContentRecommender, ReaderTerm, Scores, WindowView, recency


class Collaborative(ContentRecommender):
    name = "collaborative"
    summary = (
        "followees' and trending posts by how many users like the reader reposted, "
        "quoted or replied to them: each reaction counts (1 + cos(pi/2 (o_reactor - o_reader))) / 2, "
        "1 for a reactor of the reader's opinion on the topic, 0 for the opposite one"
    )
    source = (
        "Y Social's SimilarUsersReact and CommonUserInterests (YSocialTwin/YServer, "
        "content_management.py: posts that similar users reacted to, by reaction count); "
        "similarity by leaning, which Y Social's score counts among its matches"
    )

    def scores(self, view: WindowView) -> Scores:
        n, topics = view.opinion.shape
        width = view.hi - view.lo
        kind = view.column("kind")
        parent = view.column("parent")
        # reactions the store keeps per user: reposts, quotes and replies to the window's
        # posts (a like is a count only)
        reacted = (kind != PostKind.POST) & (parent >= view.lo)
        target = parent[reacted] - view.lo
        reactor = view.column("author")[reacted]
        topic = view.posts.topic[parent[reacted]].astype(np.int64)
        angle = 0.5 * np.pi * view.opinion[reactor, topic]
        # post block t: half the sum of its reactors' opinion points on t; last column:
        # half the number of reactions
        post_vectors = np.zeros((width, 2 * topics + 1))
        np.add.at(post_vectors, (target, 2 * topic), 0.5 * np.cos(angle))
        np.add.at(post_vectors, (target, 2 * topic + 1), 0.5 * np.sin(angle))
        post_vectors[:, -1] = 0.5 * np.bincount(target, minlength=width)
        reader_angle = 0.5 * np.pi * view.opinion
        user_vectors = np.empty((n, 2 * topics + 1))
        user_vectors[:, 0:-1:2] = np.cos(reader_angle)
        user_vectors[:, 1:-1:2] = np.sin(reader_angle)
        user_vectors[:, -1] = 1.0
        return Scores(
            base=1e-6 * recency(view),
            discovery=view.heat,
            reader=ReaderTerm.DOT,
            user_vectors=user_vectors,
            post_vectors=post_vectors,
        )
