"""Content recommenders, one per file behind one contract (`contract.ContentRecommender`):
what a feed offers and in which order. `by_name` finds one by the scenario's
``feed.ranking``; docs/platform.md sets them beside OASIS's and Y Social's."""

from __future__ import annotations

from .chronological import Chronological
from .collaborative import Collaborative
from .comments import Comments
from .common_interests import CommonInterests
from .contract import ContentRecommender, ReaderTerm, Scores, WindowView
from .embedding import Embedding
from .engagement import Engagement
from .followers_popularity import FollowersPopularity
from .hot import Hot
from .personalised import Personalised
from .popularity import Popularity
from .random import Random
from .reverse_chronological import ReverseChronological

#: every content recommender by its ``feed.ranking`` name, in the order the docs list them
CONTENT_RECOMMENDERS: dict[str, type[ContentRecommender]] = {
    cls.name: cls
    for cls in (
        Chronological,
        ReverseChronological,
        Popularity,
        FollowersPopularity,
        Comments,
        Engagement,
        Personalised,
        CommonInterests,
        Collaborative,
        Embedding,
        Hot,
        Random,
    )
}
NAMES: tuple[str, ...] = tuple(CONTENT_RECOMMENDERS)


def by_name(name: str) -> ContentRecommender:
    """The recommender called ``name``, or a ValueError listing the ones there are."""
    cls = CONTENT_RECOMMENDERS.get(name)
    if cls is None:
        raise ValueError(f"unknown feed ranking {name!r}: choose one of {', '.join(NAMES)}")
    return cls()


__all__ = [
    "CONTENT_RECOMMENDERS",
    "NAMES",
    "ContentRecommender",
    "ReaderTerm",
    "Scores",
    "WindowView",
    "by_name",
]
