"""``embedding``: posts whose vector is nearest the reader's profile vector first."""

from __future__ import annotations

import numpy as np

from .contract import (
    ContentRecommender,
    ReaderTerm,
    Scores,
    WindowView,
    opinion_vectors,
    recency,
    stance_vectors,
)

_SAMPLE = 0x454D4244  # the tag of the step's coarse random draw of candidates


def date_score(age: np.ndarray) -> np.ndarray:
    """OASIS's freshness factor: ln((271.8 - age) / 100), 1.0 for a new post (age in steps).
    It falls to 0 at 171.8 steps and is negative beyond (NaN past 271.8), which OASIS
    leaves to its runs of at most 90 steps; here it stays at 0 from there on, so a long
    feed window ranks old posts last instead of reversing or failing."""
    return np.log(np.maximum((271.8 - age) / 100.0, 1.0))


class Embedding(ContentRecommender):
    name = "embedding"
    summary = (
        "followees' posts and a random sample of the platform's, by the cosine between the "
        "post's vector and the reader's profile vector (its newest post of the window, or "
        "its opinions where it wrote none), times a freshness factor"
    )
    source = (
        "OASIS's TwHIN-BERT recommender (camel-ai/oasis, oasis/social_platform/recsys.py, "
        "rec_sys_personalized_twh: cosine of the user's bio and newest post to the post, "
        "times ln((271.8 - age) / 100), over a random coarse sample of posts); a stance on "
        "a topic is the vector (contract.stance_vectors)"
    )

    def scores(self, view: WindowView) -> Scores:
        n, topics = view.opinion.shape
        author = view.column("author")
        topic = view.column("topic").astype(np.int64)
        vectors = stance_vectors(view.column("stance"), topic, topics)
        # the profile: the newest row each user wrote in the window (ids rise with time),
        # its opinions (a bio stating them) where it wrote none
        newest = np.full(n, -1, np.int64)
        np.maximum.at(newest, author, np.arange(view.hi - view.lo))
        profile = opinion_vectors(view.opinion)
        wrote = newest >= 0
        profile[wrote] = vectors[newest[wrote]]
        age = view.step - view.column("step").astype(np.float64)
        return Scores(
            base=1e-6 * recency(view),
            discovery=view.rng(_SAMPLE).random(view.hi - view.lo),
            reader=ReaderTerm.DOT,
            user_vectors=profile,
            post_vectors=vectors * date_score(age)[:, None],
        )
