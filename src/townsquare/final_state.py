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
``quotes``           int64   quotes written over the run (shares with a stance of their own)
``follows``          int64   follows made over the run (new edges; unfollows not subtracted)
``suspended``        bool    suspended by the detector at the end
==================== ======= ==========================================================

with a start/end pair for every topic ``t0``, ``t1``, … of ``population.topics``.
``graph.parquet`` holds the final follow edges, ``src`` follows ``dst`` (int64), sorted
by (src, dst). Both describe the world of the run's last checkpoint; the schema metadata
``townsquare.step`` says at which step.

Everything is built from whole arrays (no loop over users), so writing them costs a few
seconds at 10^6 users; the edges are gathered and written a batch of followers at a time
(`GRAPH_BATCH`), so at 10^7 users the edge list never sits in memory whole. The files
are written beside their names and renamed onto them (`outputs.replace_file`), and
depend on nothing but the world: the same scenario and seed give byte-identical files,
interrupted and resumed or not.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .outputs import replace_file
from .world.feed import sort_small
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
    # each author's posts of each kind, in one pass (no mask and copy per kind)
    written = np.zeros((len(PostKind), n), np.int64)
    _count_by_kind(posts.author, posts.kind, written, numba.get_num_threads())
    for name, kind in (("posts", PostKind.POST), ("reposts", PostKind.REPOST),
                       ("replies", PostKind.REPLY), ("quotes", PostKind.QUOTE)):  # fmt: skip
        columns[name] = pa.array(written[kind])
    columns["follows"] = pa.array(np.asarray(population.follows_made, np.int64))
    columns["suspended"] = pa.array(np.asarray(population.suspended, np.bool_))
    return _with_step(pa.table(columns), step)


@numba.njit(cache=True, parallel=True)
def _count_by_kind(author, kind, written, parts):
    """``written[kind, author]`` counts; each of ``parts`` threads counts the authors of
    its own id range (reading every post), so no two threads add to one cell."""
    n = written.shape[1]
    for part in numba.prange(parts):
        lo, hi = n * part // parts, n * (part + 1) // parts
        for p in range(author.shape[0]):
            a = author[p]
            if lo <= a < hi:
                written[kind[p], a] += 1


def graph_table(graph: FollowGraph, step: int | None = None) -> pa.Table:
    """The follow edges ``src -> dst`` (src follows dst), sorted by (src, dst)."""
    return _with_step(_edges_of(graph, 0, graph.n), step)


def _edges_of(graph: FollowGraph, lo: int, hi: int) -> pa.Table:
    """The edges of followers ``lo:hi``, sorted by (src, dst)."""
    # in follower order already: only each follower's followees need sorting, in place
    # (at 10^8 edges a sort of src * n + dst keys took three more arrays of that size)
    src, dst = graph.edges(lo, hi)
    starts = np.zeros(hi - lo + 1, np.int64)
    np.cumsum(graph.out_deg[lo:hi], out=starts[1:])
    _sort_each_group(dst, starts)
    # int64 arrays become arrow arrays without a copy
    return pa.table({"src": pa.array(src), "dst": pa.array(dst)})


#: groups this small are sorted by insertion, in place (most followee lists: a
#: follower has about ten), larger ones by numpy's sort
SMALL_GROUP = 32


@numba.njit(cache=True, parallel=True)
def _sort_each_group(values, starts):
    for g in numba.prange(starts.shape[0] - 1):
        group = values[starts[g] : starts[g + 1]]
        if group.shape[0] > SMALL_GROUP:
            group.sort()
        else:
            sort_small(group)


#: edges gathered, sorted and written at a time: at 10^7 users the whole edge list took
#: two more arrays of 0.8 GB, on fresh pages, for the few seconds of the write
GRAPH_BATCH = 1 << 22


def _write_graph(graph: FollowGraph, step: int, path: Path) -> None:
    """``graph.parquet`` written a batch of followers at a time (about `GRAPH_BATCH`
    edges, every follower's edges in one batch): the rows and bytes depend on the graph
    only, and memory holds one batch."""
    ends = np.cumsum(graph.out_deg, dtype=np.int64)
    # a batch ends before the first follower whose edges reach past a multiple of
    # GRAPH_BATCH (that follower starts the next one), so a batch holds at most
    # GRAPH_BATCH edges plus one follower's
    cuts = np.searchsorted(ends, np.arange(GRAPH_BATCH, graph.edge_count, GRAPH_BATCH), "right")
    bounds = np.unique(np.concatenate([[0, graph.n], cuts])).tolist()
    schema = pa.schema([("src", pa.int64()), ("dst", pa.int64())])
    schema = _with_step(schema.empty_table(), step).schema
    with pq.ParquetWriter(path, schema, **_encodings(schema)) as writer:
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            writer.write_table(_edges_of(graph, lo, hi).replace_schema_metadata(schema.metadata))


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
    # one table in memory at a time, the edges a batch at a time
    users = users_table(population, graph, posts, start_opinion, step)
    users_path = _write_to(root / USERS_FILE, users)
    users = None
    graph_path = replace_file(root / GRAPH_FILE, lambda tmp: _write_graph(graph, step, tmp))
    return users_path, graph_path


def _write_to(path: Path, table: pa.Table) -> Path:
    return replace_file(path, lambda tmp: _write(table, tmp))


def _float(column: np.ndarray) -> pa.Array:
    return pa.array(np.ascontiguousarray(column, np.float64))


def _with_step(table: pa.Table, step: int | None) -> pa.Table:
    if step is None:
        return table
    return table.replace_schema_metadata({"townsquare.step": str(int(step))})


def _write(table: pa.Table, path: Path) -> None:
    # no timestamps in parquet: the bytes depend on the table and pyarrow's version only
    pq.write_table(table, path, **_encodings(table.schema))


def _encodings(schema: pa.Schema) -> dict:
    """How each column is written: a dictionary for labels (the roles), deltas for
    integers (ids in order, counts: Parquet's DELTA_BINARY_PACKED, which current
    versions of pyarrow, DuckDB, polars and Spark (from 3.3) read), floats and flags
    plain, all compressed. At 10^7 users trying a dictionary of ids or opinions and
    giving up took half the time of writing the tables, and made larger files."""
    labels = [f.name for f in schema if pa.types.is_string(f.type)]
    integers = [f.name for f in schema if pa.types.is_integer(f.type)]
    return {
        "compression": "zstd",
        "use_dictionary": labels,
        "column_encoding": dict.fromkeys(integers, "DELTA_BINARY_PACKED"),
    }
