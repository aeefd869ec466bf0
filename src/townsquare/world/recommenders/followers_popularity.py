"""``followers_popularity``: followees' posts only, the most liked first."""

from __future__ import annotations

from .contract import ContentRecommender, Scores, WindowView, recency


class FollowersPopularity(ContentRecommender):
    name = "followers_popularity"
    summary = (
        "followees' posts only, the most liked first, the newer first among equally "
        "liked ones (no stranger is ever shown)"
    )
    source = (
        "Y Social's ReverseChronoFollowersPopularity, its followed accounts' share "
        "(YSocialTwin/YServer, content_management.py)"
    )
    discovers = False

    def scores(self, view: WindowView) -> Scores:
        return Scores(base=view.column("likes") + recency(view), discovery=None)
