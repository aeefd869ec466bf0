"""``reverse_chronological``: the platform's newest posts, followees' and others' alike."""

from __future__ import annotations

import numpy as np

from .contract import ContentRecommender, Scores, WindowView


class ReverseChronological(ContentRecommender):
    name = "reverse_chronological"
    summary = (
        "the newest posts of the whole platform first, followees' and strangers' alike "
        "(strangers' up to the out_of_network share)"
    )
    source = (
        "Y Social's ReverseChrono (YSocialTwin/YServer, y_server/routes/content_management.py,"
        " mode 'rchrono': visible posts by id, newest first)"
    )

    def scores(self, view: WindowView) -> Scores:
        newest = view.ids.astype(np.float64)
        return Scores(base=newest, discovery=newest)
