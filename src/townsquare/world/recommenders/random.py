"""``random``: posts in a random order, a new one for every reader and step."""

from __future__ import annotations

import numpy as np

from .contract import ContentRecommender, ReaderTerm, Scores, WindowView

_SAMPLE = 0x52414E44  # the tag of the step's draw of out-of-network posts


class Random(ContentRecommender):
    name = "random"
    summary = (
        "followees' posts and a random sample of the platform's, in a random order of "
        "each reader's own (a baseline with no ranking at all)"
    )
    source = "OASIS's random recommender (camel-ai/oasis, rec_sys_random); Y Social's Random"

    def scores(self, view: WindowView) -> Scores:
        # the out-of-network list: `trending` posts drawn uniformly from the window
        sample = view.rng(_SAMPLE).random(view.hi - view.lo)
        return Scores(base=np.zeros(view.hi - view.lo), discovery=sample, reader=ReaderTerm.RANDOM)
