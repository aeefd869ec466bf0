"""Follow recommenders ("who to follow"), one per file behind one contract
(`contract.FollowRecommender`): the accounts suggested to a reader. The scenario picks one
with ``who_to_follow.recommender``; docs/platform.md sets them beside Y Social's."""

from __future__ import annotations

from .adamic_adar import AdamicAdar
from .contract import FollowRecommender
from .jaccard import Jaccard
from .preferential_attachment import PreferentialAttachment
from .random import RandomAccounts
from .random_walk import RandomWalk
from .service import Suggestions, WhoToFollow

FOLLOW_RECOMMENDERS: dict[str, type[FollowRecommender]] = {
    cls.name: cls
    for cls in (Jaccard, AdamicAdar, PreferentialAttachment, RandomWalk, RandomAccounts)
}
NAMES: tuple[str, ...] = tuple(FOLLOW_RECOMMENDERS)


def by_name(name: str, **settings) -> FollowRecommender:
    """The follow recommender called ``name`` (settings: ``walks`` and ``restart`` of
    `RandomWalk`), or a ValueError listing the ones there are."""
    cls = FOLLOW_RECOMMENDERS.get(name)
    if cls is None:
        raise ValueError(f"unknown follow recommender {name!r}: choose one of {', '.join(NAMES)}")
    return cls(**settings) if cls is RandomWalk else cls()


__all__ = [
    "FOLLOW_RECOMMENDERS",
    "NAMES",
    "FollowRecommender",
    "Suggestions",
    "WhoToFollow",
    "by_name",
]
