"""The run directory: what a run leaves behind, readable without townsquare.

```
RUN/
  config.yaml        the resolved scenario (every default filled in)
  summary.json       totals, seed, wall time, complete: true|false
  metrics.parquet    one row per step
  events.duckdb      tables posts, likes, follows, detections (SQL)
  checkpoints/       world state at the last flushed step (npz + json), for --resume
```

Events are buffered in memory and flushed every ``record.flush_every`` steps, together
with a checkpoint, so an interrupted run holds events exactly up to its checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .world.world import StepEvents

POST_KINDS = np.array(["post", "repost", "reply"])

_TABLES = {
    "posts": "id BIGINT, step INTEGER, author BIGINT, kind VARCHAR, parent BIGINT, "
    "stance DOUBLE, topic SMALLINT, text VARCHAR",
    "likes": "step INTEGER, user_id BIGINT, post_id BIGINT",
    "follows": "step INTEGER, follower BIGINT, followee BIGINT, action VARCHAR",
    "detections": "step INTEGER, user_id BIGINT",
}


def _texts(texts, keep, n: int) -> pa.Array:
    if texts is None:
        return pa.nulls(n, pa.string())
    return pa.array(np.asarray(texts, dtype=object)[keep], pa.string())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class EventRecorder:
    """Buffers step events and appends them to ``events.duckdb``.

    ``mode`` is ``all``, ``sample`` (only events of a fixed random subset of users, so
    per-user histories stay whole) or ``none``.
    """

    def __init__(self, path: Path, mode: str, keep_user: np.ndarray | None = None):
        self.path = path
        self.mode = mode
        self.keep_user = keep_user
        self._buffer: dict[str, list[pa.Table]] = {name: [] for name in _TABLES}
        self.rows_written = dict.fromkeys(_TABLES, 0)
        if mode != "none":
            with duckdb.connect(str(path)) as con:
                for name, cols in _TABLES.items():
                    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")

    def _keep(self, users: np.ndarray) -> np.ndarray | slice:
        if self.mode == "sample" and self.keep_user is not None:
            return self.keep_user[users]
        return slice(None)

    def add(self, ev: StepEvents) -> None:
        if self.mode == "none":
            return
        k = self._keep(ev.post_author)
        self._buffer["posts"].append(
            pa.table(
                {
                    "id": ev.post_id[k],
                    "step": np.full(ev.post_id[k].shape[0], ev.step, np.int32),
                    "author": ev.post_author[k],
                    "kind": POST_KINDS[ev.post_kind[k]],
                    "parent": ev.post_parent[k],
                    "stance": ev.post_stance[k],
                    "topic": ev.post_topic[k].astype(np.int16),
                    "text": _texts(ev.post_text, k, ev.post_id[k].shape[0]),
                }
            )
        )
        k = self._keep(ev.like_user)
        self._buffer["likes"].append(
            pa.table(
                {
                    "step": np.full(ev.like_user[k].shape[0], ev.step, np.int32),
                    "user_id": ev.like_user[k].astype(np.int64),
                    "post_id": ev.like_post[k].astype(np.int64),
                }
            )
        )
        k = self._keep(ev.follow_src)
        actions = np.where(ev.follow_action[k] > 0, "follow", "unfollow")
        self._buffer["follows"].append(
            pa.table(
                {
                    "step": np.full(actions.shape[0], ev.step, np.int32),
                    "follower": ev.follow_src[k].astype(np.int64),
                    "followee": ev.follow_dst[k].astype(np.int64),
                    "action": actions,
                }
            )
        )
        k = self._keep(ev.suspended)
        self._buffer["detections"].append(
            pa.table(
                {
                    "step": np.full(ev.suspended[k].shape[0], ev.step, np.int32),
                    "user_id": ev.suspended[k].astype(np.int64),
                }
            )
        )

    def flush(self) -> None:
        if self.mode == "none" or not any(self._buffer.values()):
            return
        with duckdb.connect(str(self.path)) as con:
            for name, tables in self._buffer.items():
                if not tables:
                    continue
                batch = pa.concat_tables(tables)
                if batch.num_rows:
                    con.register("batch", batch)
                    con.execute(f"INSERT INTO {name} SELECT * FROM batch")
                    con.unregister("batch")
                self.rows_written[name] += batch.num_rows
        self._buffer = {name: [] for name in _TABLES}

    def drop_from(self, step: int) -> None:
        """Forget events at or after ``step`` (written before an interruption)."""
        self._buffer = {name: [] for name in _TABLES}
        if self.mode == "none" or not self.path.exists():
            return
        with duckdb.connect(str(self.path)) as con:
            for name in _TABLES:
                con.execute(f"DELETE FROM {name} WHERE step >= ?", [step])
            # deletes leave a database that only checkpointing compacts
            con.execute("CHECKPOINT")


class RunStore:
    """Paths and writers of one run directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.config = self.root / "config.yaml"
        self.summary = self.root / "summary.json"
        self.metrics = self.root / "metrics.parquet"
        self.events = self.root / "events.duckdb"
        self.checkpoints = self.root / "checkpoints"

    def create(self, config_yaml: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)
        _atomic_write(self.config, config_yaml.encode())

    def write_summary(self, summary: dict) -> None:
        _atomic_write(self.summary, (json.dumps(summary, indent=2) + "\n").encode())

    def read_summary(self) -> dict:
        return json.loads(self.summary.read_text())

    def write_metrics(self, rows: list[dict]) -> None:
        if not rows:
            return
        columns = {name: [r[name] for r in rows] for name in rows[0]}
        table = pa.table(
            {
                name: pa.array(vals, pa.int64() if isinstance(vals[0], int) else pa.float64())
                for name, vals in columns.items()
            }
        )
        tmp = self.metrics.with_name("metrics.parquet.tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, self.metrics)

    def read_metrics(self) -> list[dict]:
        if not self.metrics.exists():
            return []
        return pq.read_table(self.metrics).to_pylist()

    # checkpoint: world arrays in npz (no pickle) + latest.json naming the valid one.
    # The npz is written first under a step-stamped name and latest.json is replaced
    # atomically afterwards, so a crash at any point leaves a consistent pair.
    def save_checkpoint(self, arrays: dict[str, np.ndarray], meta_json: str, extra: dict) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        name = f"world-{extra['step']:08d}.npz"
        tmp = self.checkpoints / (name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, self.checkpoints / name)
        meta = {"file": name, "world": json.loads(meta_json), **extra}
        _atomic_write(self.checkpoints / "latest.json", json.dumps(meta).encode())
        for old in self.checkpoints.glob("world-*.npz"):
            if old.name != name:
                old.unlink()

    def has_checkpoint(self) -> bool:
        return (self.checkpoints / "latest.json").exists()

    def load_checkpoint(self) -> tuple[dict[str, np.ndarray], str, dict]:
        meta = json.loads((self.checkpoints / "latest.json").read_text())
        with np.load(self.checkpoints / meta.pop("file"), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return arrays, json.dumps(meta.pop("world")), meta
