"""``comments``: the posts with the most replies first."""

from __future__ import annotations

from .contract import ContentRecommender, Scores, WindowView, recency


class Comments(ContentRecommender):
    name = "comments"
    summary = (
        "followees' and the platform's posts with the most replies first, the newer first "
        "among equally discussed ones"
    )
    source = (
        "Y Social's ReverseChronoComments (YSocialTwin/YClient, y_client/recsys/"
        "ContentRecSys.py); its server ranks by reactions with the ordering by comments "
        "commented out, so townsquare follows the name: replies"
    )

    def scores(self, view: WindowView) -> Scores:
        score = view.column("replies") + recency(view)
        return Scores(base=score, discovery=score)
