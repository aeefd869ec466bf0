"""The one contract every content recommender keeps.

A content recommender says, for the posts of a step's feed window, two things and no
more:

* which posts are candidates: the reader's followees' posts (``in_network``) and an
  out-of-network list the same for every reader, the ``trending`` posts that rank highest
  by its ``discovery`` score (none when it has no discovery score);
* how a candidate is scored for a reader: a ``base`` score of the post, plus a reader's
  own term of one of a few forms (`ReaderTerm`) that the shared feed kernel computes.

The kernel (`townsquare.world.feed`) then keeps each reader's best ``k`` posts, never one
already shown (the read cursor) and never one of a suspended author, with at most the
scenario's ``out_of_network`` share of slots going to strangers. So every recommender
inherits the platform's guarantees (no repeats, likes never above views) and its speed,
and a new one is a file that computes arrays over the window's posts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import IntEnum
from typing import ClassVar, NamedTuple

import numpy as np

from ..graph import FollowGraph
from ..posts import PostStore


class ReaderTerm(IntEnum):
    """What the kernel adds to a candidate's base score for each reader."""

    #: nothing: the ranking is the same for every reader
    NONE = 0
    #: minus the distance between the post's stance and the reader's opinion on its topic
    CLOSENESS = 1
    #: the dot product of the reader's vector and the post's (``user_vectors`` row by
    #: ``post_vectors`` row)
    DOT = 2
    #: a uniform number in [0, 1) drawn from (seed, step, reader, post) by a hash: a
    #: random order per reader that no call order can change
    RANDOM = 3


class WindowView(NamedTuple):
    """What a recommender may read to score the posts ``lo:hi`` of a step's window."""

    lo: int
    hi: int
    step: int
    posts: PostStore
    graph: FollowGraph
    opinion: np.ndarray  # float64 (n, topics)
    visible: np.ndarray  # bool (hi - lo,): the author is not suspended
    #: float64 (hi - lo,): 1 + likes + 2 reposts + replies, halved every ``half_life`` steps
    heat: np.ndarray
    half_life: float
    seed: int
    step_days: float = 1.0  # days one step stands for (moderation.step_days)

    @property
    def ids(self) -> np.ndarray:
        return np.arange(self.lo, self.hi, dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        """A post column over the window (a view)."""
        return getattr(self.posts, name)[self.lo : self.hi]

    def rng(self, tag: int) -> np.random.Generator:
        """A generator of the step's own: the same draws for the same seed and step,
        however the run was split or resumed."""
        return np.random.default_rng([self.seed, self.step, tag])


class Scores(NamedTuple):
    """A recommender's scores of a window's posts."""

    base: np.ndarray  # float64 (hi - lo,)
    #: float64 (hi - lo,): the out-of-network list is the top ``trending`` visible posts by
    #: it; None: the feed holds followees' posts only
    discovery: np.ndarray | None
    reader: ReaderTerm = ReaderTerm.NONE
    user_vectors: np.ndarray | None = None  # float64 (n, d), for ReaderTerm.DOT
    post_vectors: np.ndarray | None = None  # float64 (hi - lo, d), for ReaderTerm.DOT


class ContentRecommender(ABC):
    """One way of choosing the posts a reader is shown. Subclasses live one per file in
    this package and are found by ``name`` (`townsquare.world.recommenders.by_name`)."""

    #: the scenario's ``feed.ranking`` value
    name: ClassVar[str]
    #: one line: what it shows, first
    summary: ClassVar[str]
    #: where the rule comes from (a paper, a platform, a peer simulator's source)
    source: ClassVar[str]
    #: whether the feed has an out-of-network list (``Scores.discovery``); False: the
    #: reader's followees' posts only
    discovers: ClassVar[bool] = True

    @abstractmethod
    def scores(self, view: WindowView) -> Scores:
        """The base (and reader) scores of the window's posts and its discovery score."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def recency(view: WindowView) -> np.ndarray:
    """A number in [0, 1) rising with a post's id: added to a whole-number score (likes,
    replies), it puts the newer of two equally scored posts first and changes no other
    order."""
    return (view.ids - view.lo) / (view.hi - view.lo + 1.0)


def stance_vectors(stance: np.ndarray, topic: np.ndarray, topics: int) -> np.ndarray:
    """Stances as unit vectors, one 2-d block per topic (float64 (len, 2 topics)): a stance
    s on topic t is the point at angle s pi / 2 of the circle in block t, so the dot
    product of two stances on one topic is cos(pi / 2 (s1 - s2)) (1 alike, -1 opposite)
    and of stances on different topics 0."""
    out = np.zeros((stance.shape[0], 2 * topics))
    rows = np.arange(stance.shape[0])
    angle = 0.5 * np.pi * stance
    out[rows, 2 * topic] = np.cos(angle)
    out[rows, 2 * topic + 1] = np.sin(angle)
    return out


def opinion_vectors(opinion: np.ndarray) -> np.ndarray:
    """Each user's opinions as one unit vector (float64 (n, 2 topics)): the topic blocks
    of `stance_vectors`, each scaled by 1 / sqrt(topics)."""
    n, topics = opinion.shape
    angle = 0.5 * np.pi * opinion
    out = np.empty((n, 2 * topics))
    out[:, 0::2] = np.cos(angle)
    out[:, 1::2] = np.sin(angle)
    return out / np.sqrt(topics)
