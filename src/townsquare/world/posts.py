"""Columnar store of posts, reposts, replies and quotes, with their like/repost/reply/view
(and, where the platform has them, dislike) counts, and the mentions posts make.

A post's id is its row. Ids grow with time, so "posts newer than X" is an id range and
the posts written in step t are the contiguous rows ``step_start[t]:step_start[t+1]``.
"""

from __future__ import annotations

import json
from enum import IntEnum

import numba
import numpy as np

from . import checks
from .memory import zeros_small_pages


class PostKind(IntEnum):
    POST = 0
    REPOST = 1
    REPLY = 2
    QUOTE = 3  # a repost with its own stance (and words): a share with a comment


_COLUMNS: dict[str, type] = {
    "author": np.int32,
    "step": np.int32,
    "kind": np.int8,
    "parent": np.int64,  # -1 for an original post
    "stance": np.float64,  # in [-1, 1]
    "topic": np.int16,
    "likes": np.int32,
    "reposts": np.int32,
    "replies": np.int32,
    "views": np.int32,  # distinct users the post was shown to (feeds never repeat a post)
}
#: columns a platform keeps only when it offers their action (``actions`` of the scenario):
#: at 10^7 users a column of the store is 0.3 GB by step 100
_OPTIONAL: dict[str, type] = {"dislikes": np.int32}
_COUNTERS = ("likes", "reposts", "replies", "views", "dislikes")


class PostStore:
    def __init__(self, capacity: int = 1024, dislikes: bool = False):
        self.size = 0
        columns = {**_COLUMNS, **({"dislikes": np.int32} if dislikes else {})}
        self._cols = {
            name: zeros_small_pages(max(capacity, 16), dtype) for name, dtype in columns.items()
        }
        #: mentions, kept aside (they are rare): the mentioning post's id, rising, and the
        #: account it addresses
        self.mention_post = np.zeros(0, np.int64)
        self.mention_target = np.zeros(0, np.int64)
        self.step_start: list[int] = [0]  # step_start[t] = first id written in step t
        self.text: dict[int, str] = {}  # sparse: only posts that carry text
        #: rows [0, clean_rows) are unchanged since `mark_clean` (a run's last checkpoint):
        #: every write lowers it, so a checkpoint rewrites only what may have changed
        self.clean_rows = 0

    def __len__(self) -> int:
        return self.size

    def __deepcopy__(self, memo: dict) -> PostStore:
        """A copy of the posts written, with room to grow, not of the store's reserved
        room (`reserve`): a world forked every step (planners) copies what it holds."""
        clone = PostStore.__new__(PostStore)
        memo[id(self)] = clone
        clone.size = self.size
        clone._cols = {}
        for name, col in self._cols.items():
            room = zeros_small_pages(max(self.size * 5 // 4, 16), col.dtype)
            room[: self.size] = col[: self.size]
            clone._cols[name] = room
        clone.step_start = list(self.step_start)
        clone.mention_post = self.mention_post.copy()
        clone.mention_target = self.mention_target.copy()
        clone.text = dict(self.text)  # ids to immutable strings
        clone.clean_rows = self.clean_rows
        return clone

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            return cols[name][: self.size]
        raise AttributeError(name)

    def _reserve(self, extra: int) -> None:
        need = self.size + extra
        cap = self._cols["author"].shape[0]
        if need > cap:
            self._grow(max(need, 2 * cap))

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` posts in all, taken in one move. Memory never written costs
        nothing (the columns are zero pages until a post lands there), so a run reserves
        what it expects to write instead of copying the store each time it doubles
        (`Run.execute`)."""
        if rows > self._cols["author"].shape[0]:
            self._grow(int(rows))

    def _grow(self, new_cap: int) -> None:
        for name, col in self._cols.items():
            grown = zeros_small_pages(new_cap, col.dtype)
            grown[: self.size] = col[: self.size]
            self._cols[name] = grown

    def add(
        self,
        author,
        step: int,
        kind,
        stance,
        topic,
        parent=None,
        text: list[str | None] | None = None,
    ) -> np.ndarray:
        """Append a batch of posts; returns their ids."""
        author = np.asarray(author)
        m = int(author.shape[0])
        if text is not None and len(text) != m:
            raise ValueError(f"got {len(text)} texts for {m} posts")
        self._reserve(m)
        self.clean_rows = min(self.clean_rows, self.size)
        ids = np.arange(self.size, self.size + m, dtype=np.int64)
        sl = slice(self.size, self.size + m)
        c = self._cols
        c["author"][sl] = author
        c["step"][sl] = step
        c["kind"][sl] = kind
        c["stance"][sl] = stance
        c["topic"][sl] = topic
        c["parent"][sl] = -1 if parent is None else parent
        for counter in _COUNTERS:
            if counter in c:
                c[counter][sl] = 0
        if text is not None:
            for i, t in zip(ids.tolist(), text, strict=True):
                if t is not None:
                    self.text[i] = t
        self.size += m
        return ids

    def count(self, counter: str, post_ids: np.ndarray) -> None:
        """Add one to ``counter`` for each occurrence of an id in ``post_ids``."""
        if post_ids.size:
            # Feeds only show recent posts, so the ids touched span a short range.
            lo = int(post_ids.min())
            self.clean_rows = min(self.clean_rows, lo)
            hits = np.bincount(post_ids - lo)
            col = self._cols[counter]
            col[lo : lo + hits.shape[0]] += hits.astype(col.dtype)

    @property
    def has_dislikes(self) -> bool:
        return "dislikes" in self._cols

    def mention(self, post_ids: np.ndarray, targets: np.ndarray) -> None:
        """Record that each of ``post_ids`` (just written, rising) addresses ``targets``."""
        if post_ids.size:
            self.mention_post = np.concatenate([self.mention_post, post_ids.astype(np.int64)])
            self.mention_target = np.concatenate([self.mention_target, targets.astype(np.int64)])

    def mentions_since(self, lo: int) -> tuple[np.ndarray, np.ndarray]:
        """The mentions made by posts ``lo`` and later: (post ids, addressed accounts)."""
        first = int(np.searchsorted(self.mention_post, lo))
        return self.mention_post[first:], self.mention_target[first:]

    def count_shown(self, counter: str, feed: np.ndarray) -> None:
        """Add one to ``counter`` for each post id of ``feed`` (any shape; -1: none)."""
        self.clean_rows = min(self.clean_rows, _count_shown(feed.reshape(-1), self._cols[counter]))

    def restate(self, post_ids: np.ndarray, stance: np.ndarray) -> None:
        """Set the stance of ``post_ids`` (what their words say: text/layer.py)."""
        if post_ids.size:
            self._cols["stance"][post_ids] = stance
            self.clean_rows = min(self.clean_rows, int(post_ids.min()))

    def mark_clean(self) -> None:
        """Every row is as the last checkpoint saved it (`clean_rows`)."""
        self.clean_rows = self.size

    def end_step(self) -> None:
        self.step_start.append(self.size)

    def window_start(self, step: int, window: int) -> int:
        """First id of the posts written in the last ``window`` steps before ``step``."""
        return self.step_start[max(0, step - window)]

    def state(self) -> dict[str, np.ndarray]:
        out = {f"col_{k}": v[: self.size] for k, v in self._cols.items()}
        out["step_start"] = np.array(self.step_start, np.int64)
        out["mention_post"] = self.mention_post
        out["mention_target"] = self.mention_target
        # texts as UTF-8 JSON bytes: numpy string arrays would drop trailing NULs
        encoded = json.dumps([[i, self.text[i]] for i in sorted(self.text)]).encode()
        out["text_json"] = np.frombuffer(encoded, np.uint8)
        return out

    @classmethod
    def from_state(
        cls,
        state: dict[str, np.ndarray],
        n_users: int | None = None,
        t: int | None = None,
        topics: int | None = None,
    ) -> PostStore:
        """The store `state` saved, after checking every value (a checkpoint is never
        trusted); anything wrong is a ``ValueError`` naming the array. When given, authors
        must be below ``n_users`` and topics below ``topics``; with ``t`` (a world's
        checkpoint) the store must be a history of exactly ``t`` steps in which every
        shared or answered post was written before the post that shares or answers it."""
        size = int(checks.array(state, "col_author", np.int32).shape[0])
        columns = {**_COLUMNS, **{k: d for k, d in _OPTIONAL.items() if f"col_{k}" in state}}
        col = {name: checks.array(state, f"col_{name}", d, (size,)) for name, d in columns.items()}
        checks.within("col_author", col["author"], 0, None if n_users is None else n_users - 1)
        checks.among("col_kind", col["kind"], [k.value for k in PostKind])
        parent = col["parent"]
        checks.within("col_parent", parent, -1, size - 1)
        if t is not None:  # a world's history: shared and answered posts came first
            later = parent >= np.arange(size)
            checks.refuse("col_parent", later, "not -1 or an earlier post", parent)
        original = col["kind"] == PostKind.POST
        checks.refuse(
            "col_parent", original != (parent == -1), "not -1 exactly for original posts", parent
        )
        checks.within("col_stance", col["stance"], -1.0, 1.0)
        checks.within("col_topic", col["topic"], 0, None if topics is None else topics - 1)
        for counter in _COUNTERS:
            if counter in col:
                checks.within(f"col_{counter}", col[counter], 0)
        # step_start[s] is the first id written in step s; posts after its last entry
        # belong to the step in progress
        step_start = checks.array(state, "step_start", np.int64)
        if step_start.shape[0] == 0 or step_start[0] != 0 or step_start[-1] > size:
            raise ValueError(f"step_start: must start at 0 and stay within the {size} posts")
        written = np.diff(step_start, append=size)
        checks.within("step_start", written, 0)  # never decreasing
        if t is not None and (step_start.shape[0] != t + 1 or written[-1]):
            raise ValueError(
                f"step_start: {step_start.shape[0]} entries ending at {step_start[-1]}; a "
                f"world at step {t} has {t + 1} ending at its {size} posts"
            )
        expected = np.repeat(np.arange(step_start.shape[0], dtype=np.int32), written)
        checks.refuse(
            "col_step", col["step"] != expected, "not the step of step_start", col["step"]
        )
        text_bytes = checks.array(state, "text_json", np.uint8)
        try:
            pairs = json.loads(text_bytes.tobytes().decode())
            if not isinstance(pairs, list):
                raise TypeError(f"a JSON {type(pairs).__name__}")
            text = {}
            for i, body in pairs:
                if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < size:
                    raise ValueError(f"post id {i!r:.20}")
                if not isinstance(body, str):
                    raise ValueError(f"text of post {i} is not a string")
                text[i] = body
        except (ValueError, TypeError) as exc:  # JSON, UTF-8 and shape errors alike
            raise ValueError(f"text_json: not a list of [post id, text] ({exc})") from None
        # mentions: rising posts of the store (a checkpoint before mentions has none)
        mention_post = np.zeros(0, np.int64)
        mention_target = np.zeros(0, np.int64)
        if "mention_post" in state or "mention_target" in state:
            mention_post = checks.array(state, "mention_post", np.int64)
            mention_target = checks.array(state, "mention_target", np.int64, mention_post.shape)
            checks.within("mention_post", mention_post, 0, size - 1)
            checks.within("mention_post", np.diff(mention_post), 1)  # rising, once each
            checks.within(
                "mention_target", mention_target, 0, None if n_users is None else n_users - 1
            )
        store = cls(capacity=max(size * 5 // 4, 16), dislikes="dislikes" in col)
        for name in columns:
            store._cols[name][:size] = col[name]
        store.mention_post, store.mention_target = mention_post, mention_target
        store.size = size
        store.step_start = step_start.tolist()
        store.text = text
        return store


@numba.njit(cache=True)
def _count_shown(ids, column):
    """Counts each id >= 0 and returns the lowest (the column's length if none)."""
    lowest = column.shape[0]
    for post in ids:
        if post >= 0:
            column[post] += 1
            lowest = min(lowest, post)
    return lowest
