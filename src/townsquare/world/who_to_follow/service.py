"""Who-to-follow as the world offers it: suggestions asked for by the readers who are
about to follow someone, in the step's state."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..draws import step_seed
from .contract import FollowRecommender


class Suggestions(NamedTuple):
    """Accounts suggested to some readers, best first: ids (-1 padded) and each
    account's public leaning (its opinion on topic 0, as a profile states it; 0 where
    there is no account)."""

    ids: np.ndarray  # int64 (m, count)
    leaning: np.ndarray  # float64 (m, count)


class WhoToFollow:
    """A follow recommender with the scenario's settings (``who_to_follow``)."""

    def __init__(self, recommender: FollowRecommender, count: int, seed: int):
        self.recommender = recommender
        self.count = int(count)
        self.seed = int(seed) & 0x7FFFFFFFFFFFFFFF

    def suggest(self, graph, opinion, hidden, step: int, readers: np.ndarray) -> Suggestions:
        readers = np.ascontiguousarray(readers, np.int64)
        ids = self.recommender.suggest(
            graph, readers, np.ascontiguousarray(hidden, np.bool_), self.count,
            step_seed(self.seed, step),
        )  # fmt: skip
        leaning = np.where(ids >= 0, opinion[np.maximum(ids, 0), 0], 0.0)
        return Suggestions(ids, leaning)

    def __repr__(self) -> str:
        return f"WhoToFollow({self.recommender!r}, count={self.count})"
