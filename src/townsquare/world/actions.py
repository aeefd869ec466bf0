"""The platform's vocabulary between the World and policies: batches of observations and
actions for the users of one role, and the `Policy` protocol that maps one to the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .feed import compact_feeds
from .population import Role


@dataclass
class Observations:
    """What a batch of active users of one role sees this step.

    Row i belongs to user ``users[i]``; feed columns are ranked best first and padded with
    post id -1 (author -1, stance 0, followed False) when the feed is short.
    """

    step: int
    role: Role
    users: np.ndarray  # int64 (n,)
    opinion: np.ndarray  # float (n, topics): the users' own opinions
    followers: np.ndarray  # int (n,)
    followees: np.ndarray  # int (n,)
    feed: np.ndarray  # int64 (n, k) post ids
    feed_author: np.ndarray  # int64 (n, k)
    feed_stance: np.ndarray  # float (n, k)
    feed_topic: np.ndarray  # int (n, k)
    feed_likes: np.ndarray  # int (n, k)
    feed_followed: np.ndarray  # bool (n, k): the user already follows the item's author
    n_users: int
    topics: int
    #: object (n, k): the words of each feed item (None where an item has none), given
    #: only to policies that read (``reads_text = True``) and only when posts carry text
    feed_text: np.ndarray | None = None
    #: bool (n,): whether the session may post (a visit beyond the user's activity only
    #: reads, `Population.visits`); None: every row may. A post where it may not is
    #: dropped by the world.
    can_post: np.ndarray | None = None
    #: the race (`world.election.Campaign`), given to candidates when the scenario holds
    #: an election; None otherwise
    campaign: Any = None
    #: int (n_users,): every account's follower count, so a policy can weigh whom it
    #: engages (the socialbot's level 2); the graph's own array, read only (None in
    #: observations built outside a world)
    all_followers: np.ndarray | None = None
    #: int (n_users,): every account's followee count, as ``all_followers``
    all_followees: np.ndarray | None = None
    #: who to follow: ``suggest(rows)`` gives the accounts suggested to those rows' users
    #: (`who_to_follow.Suggestions`), in the step's state; None where the scenario has
    #: no follow recommender (``who_to_follow.recommender: none``)
    suggest: Callable[[np.ndarray], Any] | None = None
    #: int (topics,): the platform's trending topics, the most engaged with in the feed
    #: window first (what a "trending" tab shows; None outside a world or with no posts)
    trending_topics: np.ndarray | None = None
    #: the feed's shown slots, found once by the world: (the feed array they describe,
    #: then what `feed.compact_feeds` gives), read through `shown_slots`, which finds
    #: them afresh for any other feed (an observation made outside a world, or one
    #: whose feed was replaced)
    shown_index: tuple | None = None

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def may_post(self) -> np.ndarray:
        """bool (n,): ``can_post``, or every row where it is None."""
        return np.ones(len(self), bool) if self.can_post is None else self.can_post

    @property
    def shown(self) -> np.ndarray:
        """bool (n, k): which feed slots hold a post."""
        return self.feed >= 0

    def shown_slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The feed's shown slots row by row, (start (n + 1), column, post id): row i's
        are ``start[i]:start[i + 1]``, in column order. The world's, where they describe
        this feed; else found by one scan of it."""
        index = self.shown_index
        if index is not None and index[0] is self.feed:
            return index[1:]
        return compact_feeds(self.feed)


@dataclass
class Actions:
    """What a batch of users does. Each row answers the same row of `Observations`.

    ``like``/``repost``/``reply`` select feed slots; actions on empty slots are ignored.
    ``follow``/``unfollow`` hold user ids, -1 for none.
    """

    post: np.ndarray  # bool (n,)
    post_stance: np.ndarray  # float (n,) in [-1, 1]
    post_topic: np.ndarray  # int (n,)
    like: np.ndarray  # bool (n, k)
    repost: np.ndarray  # bool (n, k)
    reply: np.ndarray  # bool (n, k)
    reply_stance: np.ndarray  # float (n, k)
    follow: np.ndarray  # int64 (n, f)
    unfollow: np.ndarray  # int64 (n, g)
    #: object (n,): a policy's own words for its posts (None: the text layer writes them)
    post_text: np.ndarray | None = None
    #: object (n, k): its own words for its replies, by feed slot (None: the text layer's)
    reply_text: np.ndarray | None = None
    #: float (n,): a new platform position on topic 0 (the user's own topic-0 opinion),
    #: NaN where it stays; what a candidate that moves its platform sets (None: nobody
    #: moves)
    position: np.ndarray | None = None
    # The actions below are optional: None is none of them (docs/platform.md). A platform
    # without one (the scenario's ``actions``) refuses a batch that takes it.
    #: bool (n, k): dislike feed slots (a down-vote)
    dislike: np.ndarray | None = None
    #: bool (n, k): quote feed slots (share with a comment), each with ``quote_stance``
    quote: np.ndarray | None = None
    #: float (n, k): the stance of each quote, in [-1, 1]
    quote_stance: np.ndarray | None = None
    #: int64 (n,): the account the row's post addresses (-1: none); it reaches that
    #: account's next feed whoever it follows
    mention: np.ndarray | None = None
    #: int64 (n, m): accounts to mute (their posts never reach the user) and to unmute
    mute: np.ndarray | None = None
    unmute: np.ndarray | None = None
    #: bool (n, k): report feed slots to the platform's moderation
    report: np.ndarray | None = None
    #: int64 (n,): a topic to search (-1: none); posts on it reach the user's next feed
    search: np.ndarray | None = None

    @classmethod
    def nothing(cls, n: int, k: int) -> Actions:
        return cls(
            post=np.zeros(n, bool),
            post_stance=np.zeros(n),
            post_topic=np.zeros(n, np.int64),
            like=np.zeros((n, k), bool),
            repost=np.zeros((n, k), bool),
            reply=np.zeros((n, k), bool),
            reply_stance=np.zeros((n, k)),
            follow=np.full((n, 0), -1, np.int64),
            unfollow=np.full((n, 0), -1, np.int64),
        )

    def check(self, n: int, k: int, topics: int) -> None:
        """Raise ValueError if shapes or ranges do not fit a batch of n users with k slots."""
        for name in ("post", "post_stance", "post_topic"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"Actions.{name} must have shape ({n},)")
        for name in ("like", "repost", "reply", "reply_stance"):
            if getattr(self, name).shape != (n, k):
                raise ValueError(f"Actions.{name} must have shape ({n}, {k})")
        for name in ("like", "repost", "reply"):
            if getattr(self, name).dtype != np.bool_:
                raise ValueError(f"Actions.{name} must be a bool array (a mask of feed slots)")
        for name in ("follow", "unfollow"):
            arr = getattr(self, name)
            if arr.ndim != 2 or arr.shape[0] != n:
                raise ValueError(f"Actions.{name} must have shape ({n}, f)")
        for name, shape in (("post_text", (n,)), ("reply_text", (n, k))):
            words = getattr(self, name)
            if words is None:
                continue
            if not isinstance(words, np.ndarray) or words.shape != shape:
                raise ValueError(f"Actions.{name} must be None or an array of shape {shape}")
            if not all(w is None or isinstance(w, str) for w in words.ravel().tolist()):
                raise ValueError(f"Actions.{name} must hold strings or None")
        if self.position is not None:
            pos = self.position
            if not isinstance(pos, np.ndarray) or pos.shape != (n,) or pos.dtype.kind != "f":
                raise ValueError(f"Actions.position must be None or floats of shape ({n},)")
            moved = pos[~np.isnan(pos)]
            if moved.size and (not np.isfinite(moved).all() or np.abs(moved).max() > 1.0):
                raise ValueError("Actions.position must lie in [-1, 1] (NaN: unchanged)")
        for name in ("dislike", "quote", "report"):
            mask = getattr(self, name)
            if mask is not None and (
                not isinstance(mask, np.ndarray) or mask.shape != (n, k) or mask.dtype != np.bool_
            ):
                raise ValueError(f"Actions.{name} must be None or a bool array of shape ({n}, {k})")
        if self.quote is not None:
            qs = self.quote_stance
            if not isinstance(qs, np.ndarray) or qs.shape != (n, k) or qs.dtype.kind != "f":
                raise ValueError(f"Actions.quote_stance must be floats of shape ({n}, {k})")
            said = qs[self.quote]
            if said.size and (not np.isfinite(said).all() or np.abs(said).max() > 1.0):
                raise ValueError("Actions.quote_stance must lie in [-1, 1] where quoting")
        for name in ("mention", "search"):
            arr = getattr(self, name)
            if arr is not None and (
                not isinstance(arr, np.ndarray) or arr.shape != (n,) or arr.dtype.kind not in "iu"
            ):
                raise ValueError(f"Actions.{name} must be None or integers of shape ({n},)")
        if self.search is not None:
            asked = self.search[self.search >= 0]
            if asked.size and asked.max() >= topics:
                raise ValueError(f"Actions.search must be -1 or a topic in [0, {topics})")
        for name in ("mute", "unmute"):
            arr = getattr(self, name)
            if arr is not None and (
                not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[0] != n
                or arr.dtype.kind not in "iu"
            ):  # fmt: skip
                raise ValueError(f"Actions.{name} must be None or integers of shape ({n}, m)")
        if self.post.any():
            topics_used = self.post_topic[self.post]
            if topics_used.min() < 0 or topics_used.max() >= topics:
                raise ValueError(f"Actions.post_topic must lie in [0, {topics})")


#: the fields of `Actions` with one value per user (and feed slot): concatenated and
#: merged row by row
ROW_FIELDS = ("post", "post_stance", "post_topic", "like", "repost", "reply", "reply_stance")
#: every field of `Actions`, in order
ACTION_FIELDS = ROW_FIELDS + ("follow", "unfollow", "post_text", "reply_text", "position")
#: the optional actions (None: not taken), and the scenario's ``actions`` key of each
OPTIONAL_ACTIONS = {
    "dislike": "dislike",
    "quote": "quote",
    "quote_stance": "quote",
    "mention": "mention",
    "mute": "mute",
    "unmute": "mute",
    "report": "report",
    "search": "search",
}
#: the optional actions, as the scenario's ``actions`` names them
OPTIONAL_ACTION_NAMES: tuple[str, ...] = tuple(dict.fromkeys(OPTIONAL_ACTIONS.values()))


@dataclass
class Feedback:
    """The platform's response to a role's posts of the previous step, one row per post
    (`townsquare.roles.citizen.social_feedback` computes it)."""

    author: np.ndarray  # int64
    stance: np.ndarray  # float: the expressed stance
    net: np.ndarray  # float: likes + agreeing replies - disagreeing replies


@dataclass(frozen=True)
class StepContext:
    """What a policy that learns online is handed after a step: the step, its events and
    the world (read only: learning never changes the world). Its role module says what
    the step means for it (e.g. `townsquare.roles.citizen.social_feedback`)."""

    step: int
    events: Any  # StepEvents
    world: Any  # World


@runtime_checkable
class Policy(Protocol):
    """Maps a batch of observations of one role to a batch of actions.

    ``rng`` is the role's own random stream, owned and checkpointed by the World, so a
    stochastic policy stays reproducible across ``--resume``.
    """

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions: ...


# Optional policy methods the World calls when present:
#   learn(context: StepContext) -> None        online learning from the step just applied
#   metrics() -> dict[str, float]              extra columns of metrics.parquet
#   state() -> dict[str, ndarray], load_state  arrays saved in checkpoints (exact --resume)
# and the optional attribute
#   rowwise = True    act decides each row from that row alone and keeps nothing between
#                     calls, so `World.step` may ask about a large batch in parts, each
#                     with the role's stream in turn (a new random stream past
#                     `World.chunk_rows` readers; docs/world.md, "Determinism")
