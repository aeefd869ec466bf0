"""``personalised``: the engagement feed's candidates, closest to the reader's opinion first."""

from __future__ import annotations

from .contract import ContentRecommender, ReaderTerm, Scores, WindowView


class Personalised(ContentRecommender):
    name = "personalised"
    summary = (
        "followees' and trending posts, the post whose stance is closest to the reader's "
        "opinion on its topic first (newer first among equally close ones)"
    )
    source = (
        "the filter bubble of Pariser (2011) as modelled by Perra & Rocha, Sci. Rep. 9:7261 "
        "(2019): feeds that favour like-minded content"
    )

    def scores(self, view: WindowView) -> Scores:
        # recency breaks ties among equally close posts, too small to change any other order
        recency = 1e-6 * (view.ids - view.lo) / (view.hi - view.lo + 1)
        return Scores(base=recency, discovery=view.heat, reader=ReaderTerm.CLOSENESS)
