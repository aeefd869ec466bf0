"""``chronological``: the reader's followees' posts, newest first."""

from __future__ import annotations

import numpy as np

from .contract import ContentRecommender, Scores, WindowView


class Chronological(ContentRecommender):
    name = "chronological"
    summary = "followees' posts only, newest first: a classic timeline"
    source = (
        "Twitter's 'Latest Tweets' timeline; the chronological feed arm of Guess et al., "
        "Science 381:398 (2023)"
    )
    discovers = False

    def scores(self, view: WindowView) -> Scores:
        return Scores(base=view.ids.astype(np.float64), discovery=None)
