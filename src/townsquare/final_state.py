"""The run's final state as two tables any tool reads: ``users.parquet`` and ``graph.parquet``.

``users.parquet`` has one row per user, in id order:

==================== ======= ==========================================================
column               type    what
==================== ======= ==========================================================
``id``               int64   the user id (0 .. users-1, the ids of events.duckdb)
``role``             string  ``citizen``, ``influencer``, ``candidate`` or ``socialbot``
``opinion_start_tK`` float64 the opinion on topic K at step 0 (``checkpoints/start.npz``)
``opinion_end_tK``   float64 the opinion on topic K at the end
``followers``        int64   how many users follow this one at the end
``followees``        int64   how many users this one follows at the end
``posts``            int64   original posts written over the run (not reposts or replies)
``reposts``          int64   reposts made over the run
``replies``          int64   replies written over the run
``follows``          int64   follows made over the run (new edges; unfollows not subtracted)
``suspended``        bool    suspended by the detector at the end
==================== ======= ==========================================================

with a start/end pair for every topic ``t0``, ``t1``, … of ``population.topics``.
``graph.parquet`` holds the final follow edges, ``src`` follows ``dst`` (int64), sorted
by (src, dst). Both describe the world of the run's last checkpoint; the schema metadata
``townsquare.step`` says at which step.

Everything is built from whole arrays (no loop over users), so writing them costs a few
seconds at 10^6 users. The files are written beside their names and renamed onto them
(`outputs.replace_file`), and depend on nothing but the world: the same scenario and seed
give byte-identical files, interrupted and resumed or not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .outputs import replace_file
from .world.graph import FollowGraph
from .world.population import ROLE_NAMES, Population
from .world.posts import PostKind, PostStore

USERS_FILE = "users.parquet"
GRAPH_FILE = "graph.parquet"


def users_table(
    population: Population,
    graph: FollowGraph,
    posts: PostStore,
    start_opinion: np.ndarray,
    step: int | None = None,
) -> pa.Table:
    """One row per user (see the module's table); ``start_opinion``: (users, topics)."""
    n, topics = population.n, population.topics
    if start_opinion.shape != (n, topics):
        raise ValueError(
            f"opinion at start has shape {start_opinion.shape}, the world ({n}, {topics})"
        )
    labels = pa.array(ROLE_NAMES, pa.string())
    columns: dict[str, pa.Array] = {
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "role": labels.take(pa.array(population.role.astype(np.int64))),
    }
    for k in range(topics):
        columns[f"opinion_start_t{k}"] = _float(start_opinion[:, k])
        columns[f"opinion_end_t{k}"] = _float(population.opinion[:, k])
    columns["followers"] = pa.array(graph.in_deg.astype(np.int64))
    columns["followees"] = pa.array(graph.out_deg.astype(np.int64))
    for name, kind in (("posts", PostKind.POST), ("reposts", PostKind.REPOST),
                       ("replies", PostKind.REPLY)):  # fmt: skip
        authors = posts.author[posts.kind == kind]
        columns[name] = pa.array(np.bincount(authors, minlength=n).astype(np.int64))
    columns["follows"] = pa.array(np.asarray(population.follows_made, np.int64))
    columns["suspended"] = pa.array(np.asarray(population.suspended, np.bool_))
    return _with_step(pa.table(columns), step)


def graph_table(graph: FollowGraph, step: int | None = None) -> pa.Table:
    """The follow edges ``src -> dst`` (src follows dst), sorted by (src, dst)."""
    # in follower order already; only each follower's followees need sorting, so src
    # stays as it is and one sort of the keys src * n + dst orders dst within each group
    src, dst = graph.edges()
    if src.size:
        offset = src * graph.n
        dst = np.sort(offset + dst) - offset
    return _with_step(
        pa.table({"src": pa.array(src.astype(np.int64)), "dst": pa.array(dst.astype(np.int64))}),
        step,
    )


def write_final_state(
    root: str | Path,
    population: Population,
    graph: FollowGraph,
    posts: PostStore,
    start_opinion: np.ndarray,
    step: int,
) -> tuple[Path, Path]:
    """Write ``root/users.parquet`` and ``root/graph.parquet``; returns their paths."""
    root = Path(root)
    users = users_table(population, graph, posts, start_opinion, step)
    edges = graph_table(graph, step)
    return (
        replace_file(root / USERS_FILE, lambda tmp: _write(users, tmp)),
        replace_file(root / GRAPH_FILE, lambda tmp: _write(edges, tmp)),
    )


def _float(column: np.ndarray) -> pa.Array:
    return pa.array(np.ascontiguousarray(column, np.float64))


def _with_step(table: pa.Table, step: int | None) -> pa.Table:
    if step is None:
        return table
    return table.replace_schema_metadata({"townsquare.step": str(int(step))})


def _write(table: pa.Table, path: Path) -> None:
    # no timestamps in parquet: the bytes depend on the table and pyarrow's version only
    pq.write_table(table, path, compression="zstd")
