"""``engagement``: followees' and trending posts, most engaged with first."""

from __future__ import annotations

from .contract import ContentRecommender, Scores, WindowView


class Engagement(ContentRecommender):
    name = "engagement"
    summary = (
        "followees' posts and the platform's trending posts, ranked by engagement "
        "(1 + likes + 2 reposts + replies) halved every half_life steps"
    )
    source = (
        "Twitter Engineering, 'Twitter's Recommendation Algorithm' (31 March 2023): "
        "in-network and out-of-network candidates ranked by predicted engagement"
    )

    def scores(self, view: WindowView) -> Scores:
        return Scores(base=view.heat, discovery=view.heat)
