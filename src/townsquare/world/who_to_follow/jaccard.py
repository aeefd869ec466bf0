"""``jaccard``: accounts whose followers overlap most with the reader's followees."""

from __future__ import annotations

from .contract import FollowRecommender, Scratch, empty_suggestions, partitions
from .two_hop import JACCARD, two_hop


class Jaccard(FollowRecommender):
    name = "jaccard"
    summary = (
        "accounts two follows away, by the Jaccard overlap of the reader's followees and "
        "the account's followers: |out(u) ∩ in(c)| / |out(u) ∪ in(c)|"
    )
    source = (
        "Liben-Nowell & Kleinberg, J. Am. Soc. Inf. Sci. Technol. 58:1019 (2007); Y Social's "
        "jaccard follow recommender (YSocialTwin/YServer, interaction_management.py)"
    )

    def __init__(self):
        self.scratch = Scratch()

    def suggest(self, graph, readers, hidden, count, seed):
        if readers.size == 0:
            return empty_suggestions(readers, count)
        return two_hop(JACCARD, graph, readers, hidden, count, partitions(readers), self.scratch)
