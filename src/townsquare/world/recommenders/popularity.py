"""``popularity``: the platform's most-liked posts first, newest first among equals."""

from __future__ import annotations

from .contract import ContentRecommender, Scores, WindowView, recency


class Popularity(ContentRecommender):
    name = "popularity"
    summary = (
        "the posts of the whole platform with the most likes first (no decay with age), "
        "the newer first among equally liked ones"
    )
    source = (
        "Y Social's ReverseChronoPopularity (YSocialTwin/YServer, content_management.py: "
        "visible posts by reaction count, then newest)"
    )

    def scores(self, view: WindowView) -> Scores:
        score = view.column("likes") + recency(view)
        return Scores(base=score, discovery=score)
