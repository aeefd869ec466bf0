"""``adamic_adar``: accounts followed by the reader's followees, rare connectors weighing most."""

from __future__ import annotations

from .contract import FollowRecommender, Scratch, empty_suggestions, partitions
from .two_hop import ADAMIC_ADAR, two_hop


class AdamicAdar(FollowRecommender):
    name = "adamic_adar"
    summary = (
        "accounts two follows away, by the sum over the reader's followees who follow them "
        "of 1 / ln(that followee's degree): a shared neighbour with few ties counts more"
    )
    source = (
        "Adamic & Adar, Social Networks 25:211 (2003); Liben-Nowell & Kleinberg (2007); "
        "Y Social's adamic_adar follow recommender (YSocialTwin/YServer)"
    )

    def __init__(self):
        self.scratch = Scratch()

    def suggest(self, graph, readers, hidden, count, seed):
        if readers.size == 0:
            return empty_suggestions(readers, count)
        return two_hop(
            ADAMIC_ADAR, graph, readers, hidden, count, partitions(readers), self.scratch
        )
