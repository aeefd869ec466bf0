"""Columnar store of posts, reposts and replies, with their like/repost/reply/view counts.

A post's id is its row. Ids grow with time, so "posts newer than X" is an id range and
the posts written in step t are the contiguous rows ``step_start[t]:step_start[t+1]``.
"""

from __future__ import annotations

import json
from enum import IntEnum

import numpy as np


class PostKind(IntEnum):
    POST = 0
    REPOST = 1
    REPLY = 2


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


class PostStore:
    def __init__(self, capacity: int = 1024):
        self.size = 0
        self._cols = {name: np.zeros(max(capacity, 16), dtype) for name, dtype in _COLUMNS.items()}
        self.step_start: list[int] = [0]  # step_start[t] = first id written in step t
        self.text: dict[int, str] = {}  # sparse: only posts that carry text

    def __len__(self) -> int:
        return self.size

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            return cols[name][: self.size]
        raise AttributeError(name)

    def _reserve(self, extra: int) -> None:
        need = self.size + extra
        cap = self._cols["author"].shape[0]
        if need <= cap:
            return
        new_cap = max(need, 2 * cap)
        for name, col in self._cols.items():
            grown = np.zeros(new_cap, col.dtype)
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
        ids = np.arange(self.size, self.size + m, dtype=np.int64)
        sl = slice(self.size, self.size + m)
        c = self._cols
        c["author"][sl] = author
        c["step"][sl] = step
        c["kind"][sl] = kind
        c["stance"][sl] = stance
        c["topic"][sl] = topic
        c["parent"][sl] = -1 if parent is None else parent
        for counter in ("likes", "reposts", "replies", "views"):
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
            hits = np.bincount(post_ids - lo)
            col = self._cols[counter]
            col[lo : lo + hits.shape[0]] += hits.astype(col.dtype)

    def end_step(self) -> None:
        self.step_start.append(self.size)

    def window_start(self, step: int, window: int) -> int:
        """First id of the posts written in the last ``window`` steps before ``step``."""
        return self.step_start[max(0, step - window)]

    def state(self) -> dict[str, np.ndarray]:
        out = {f"col_{k}": v[: self.size] for k, v in self._cols.items()}
        out["step_start"] = np.array(self.step_start, np.int64)
        # texts as UTF-8 JSON bytes: numpy string arrays would drop trailing NULs
        encoded = json.dumps([[i, self.text[i]] for i in sorted(self.text)]).encode()
        out["text_json"] = np.frombuffer(encoded, np.uint8)
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> PostStore:
        size = int(state["col_author"].shape[0])
        store = cls(capacity=max(size * 5 // 4, 16))
        for name in _COLUMNS:
            store._cols[name][:size] = state[f"col_{name}"]
        store.size = size
        store.step_start = [int(x) for x in state["step_start"]]
        pairs = json.loads(np.asarray(state["text_json"], np.uint8).tobytes().decode())
        store.text = {int(i): str(t) for i, t in pairs}
        return store
