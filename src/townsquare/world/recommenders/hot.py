"""``hot``: Reddit's hot score, the newest well-voted posts of the whole platform first."""

from __future__ import annotations

import numpy as np

from .contract import ContentRecommender, Scores, WindowView

#: Reddit counts time from this Unix second (8 December 2005), in units of 45,000 s
#: (12.5 hours): a post that much newer outranks one with ten times the net votes
EPOCH = 1134028003
DECAY_SECONDS = 45000.0
#: the simulation's step 0 on Reddit's clock (any fixed second does: only differences
#: between posts order them); the day the OASIS paper was posted, 2024-11-18
START = 1731888000


def hot_score(ups: np.ndarray, downs: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Reddit's ``_hot``: sign(s) log10(max(|s|, 1)) + (seconds - EPOCH) / 45000, s = ups - downs."""
    s = np.asarray(ups, np.float64) - downs
    order = np.log10(np.maximum(np.abs(s), 1.0))
    return np.sign(s) * order + (seconds - EPOCH) / DECAY_SECONDS


class Hot(ContentRecommender):
    name = "hot"
    summary = (
        "the platform's posts by Reddit's hot score: log10 of net votes (likes - dislikes) "
        "plus "
        "the post's recency in units of 12.5 hours; followees' posts compete with the rest"
    )
    source = (
        "reddit/r2 'r2/lib/db/_sorts.pyx' (_hot), as OASIS uses it "
        "(camel-ai/oasis, oasis/social_platform/recsys.py, calculate_hot_score)"
    )

    def scores(self, view: WindowView) -> Scores:
        seconds = START + view.column("step").astype(np.float64) * (view.step_days * 86400.0)
        # net votes: likes less dislikes where the platform has a down-vote
        downs = view.column("dislikes") if view.posts.has_dislikes else 0.0
        score = hot_score(view.column("likes"), downs, seconds)
        return Scores(base=score, discovery=score)
