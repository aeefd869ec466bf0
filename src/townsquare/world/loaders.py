"""Loaders for real networks: plain edge lists, CSV edge lists and the polblogs format.

Loaders take a path and return a `LoadedGraph`. Any problem with the file raises
`DataFileError` naming the file and, for malformed content, the line number.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: user ids are int32 in the follow graph and the post store
MAX_USERS = 2**31 - 1

_HEADER_WORDS = {"source", "target", "src", "dst", "from", "to", "u", "v", "user_a", "user_b"}
_LEANING_STANCE = {"liberal": -1.0, "left": -1.0, "conservative": 1.0, "right": 1.0}


class DataFileError(ValueError):
    """A data file is missing or malformed. ``str()`` is a one-line message."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        shown = self.path if self.path.isprintable() else repr(self.path)[1:-1]
        where = f"{shown}:{line}" if line is not None else shown
        super().__init__(f"{where}: {message}")


@dataclass
class LoadedGraph:
    """A real network: ``n`` users, edges ``src -> dst`` (src follows dst)."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    labels: list[str]
    weight: np.ndarray | None = None
    community: np.ndarray | None = None  # int8 per user, -1 unknown
    leaning: np.ndarray | None = None  # float per user in [-1, 1], NaN unknown
    #: what a reader should know about the file, one line each (e.g. dropped self-loops)
    notes: list[str] = field(default_factory=list)


def _edge_notes(path: Path, src: np.ndarray, dst: np.ndarray, directed: bool) -> list[str]:
    """Self-loops and repeated edges, which a follow graph cannot hold (it drops them)."""
    loops = int(np.count_nonzero(src == dst))
    keep = src != dst
    a, b = src[keep], dst[keep]
    if not directed:  # 'u v' and 'v u' are the same undirected edge
        a, b = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.stack([a, b]), axis=1).shape[1] if a.size else 0
    repeats = int(a.size - pairs)
    if not loops and not repeats:
        return []
    parts = []
    if loops:
        parts.append(f"{loops:,} self-loop{'s' * (loops != 1)}")
    if repeats:
        parts.append(f"{repeats:,} duplicate edge{'s' * (repeats != 1)}")
    return [f"{path}: dropped {' and '.join(parts)} (a follow graph holds each follow once)"]


def _is_int(token: str) -> bool:
    """ASCII integer literal (what `int()` reads the same everywhere)."""
    body = token[1:] if token[:1] in "+-" else token
    return body.isascii() and body.isdigit()


def _open_lines(path: Path):
    if not path.exists():
        raise DataFileError(path, "file not found")
    if not path.is_file():
        raise DataFileError(path, "not a file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"not a UTF-8 text file ({exc.reason})") from None


def load_edge_list(
    path: str | Path, directed: bool = True, max_users: int | None = None
) -> LoadedGraph:
    """Read ``u v [weight]`` lines (spaces, tabs or commas).

    Lines starting with ``#`` or ``%`` are comments; a ``# nodes: N`` comment declares
    N users, so isolated users padded into a file (as in the hoaxy graphs) are kept. A
    first line whose two fields are column names (``source,target`` ...) is a header.
    Node ids that are all integers are used as user ids; otherwise (user names) users are
    numbered in order of first appearance. Undirected files become mutual follows.
    Weights must be finite and non-negative. Self-loops and repeated edges are kept in
    the arrays (a `FollowGraph` drops them) and counted in ``notes``.

    ``max_users`` bounds the users that integer ids (the largest id + 1) or a ``# nodes:``
    line may ask for, checked before anything that size is allocated: an id of 5e9 in a
    small file would otherwise mean arrays for five billion users.
    """
    path = Path(path)
    lines = _open_lines(path)
    declared_nodes: int | None = None
    declared_line = 0
    rows: list[tuple[int, str, str, str | None]] = []
    seen_data = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line[0] in "#%":
            body = line[1:].strip().lower()
            if body.startswith("nodes:"):
                count = body.split(":", 1)[1].strip()
                if not _is_int(count) or count.startswith("-"):
                    raise DataFileError(
                        path, "'# nodes:' must be followed by an integer >= 0", lineno
                    )
                declared_nodes, declared_line = int(count), lineno
            continue
        fields = line.replace(",", " ").replace("\t", " ").split()
        if not seen_data:
            seen_data = True
            if len(fields) >= 2 and {f.lower() for f in fields[:2]} <= _HEADER_WORDS:
                continue
        if len(fields) < 2:
            raise DataFileError(path, f"expected 'source target [weight]', got {line!r}", lineno)
        if len(fields) > 3:
            raise DataFileError(path, f"expected at most 3 fields, got {len(fields)}", lineno)
        rows.append((lineno, fields[0], fields[1], fields[2] if len(fields) == 3 else None))
    if not rows:
        raise DataFileError(path, "no edges found")

    weight = None
    if any(r[3] is not None for r in rows):
        weight = np.empty(len(rows))
        for i, (lineno, _, _, w) in enumerate(rows):
            try:
                weight[i] = float(w) if w is not None else 1.0
            except ValueError:
                raise DataFileError(path, f"weight {w!r} is not a number", lineno) from None
            if not math.isfinite(weight[i]) or weight[i] < 0:
                # a weight counts interactions (retweets...): NaN, inf or < 0 is a broken file
                raise DataFileError(path, f"weight {w!r} must be a finite number >= 0", lineno)

    numeric = all(_is_int(r[1]) and _is_int(r[2]) for r in rows)
    if numeric:
        ids = [(int(r[1]), int(r[2])) for r in rows]
        top = max(range(len(ids)), key=lambda i: max(ids[i]))
        largest = max(ids[top])
        negative = next((i for i, (a, b) in enumerate(ids) if a < 0 or b < 0), None)
        if negative is not None:
            raise DataFileError(path, "node ids must be non-negative", rows[negative][0])
        n = largest + 1
        if declared_nodes is not None and declared_nodes < n:
            raise DataFileError(path, f"'# nodes: {declared_nodes}' but node id {largest} appears")
        if n > MAX_USERS:
            raise DataFileError(
                path,
                f"node id {largest} is too large: user ids are int32, so at most {MAX_USERS - 1:,}",
                rows[top][0],
            )
        if max_users is not None and n > max_users:
            raise DataFileError(
                path,
                f"node id {largest} means {n:,} users (ids number users from 0), more than "
                f"the {max_users:,} this machine's memory can hold; renumber the ids",
                rows[top][0],
            )
        if declared_nodes is not None:
            if declared_nodes > min(MAX_USERS, max_users or MAX_USERS):
                raise DataFileError(
                    path,
                    f"'# nodes: {declared_nodes}' asks for more users than the "
                    f"{min(MAX_USERS, max_users or MAX_USERS):,} this machine's memory "
                    "(or int32 user ids) can hold",
                    declared_line,
                )
            n = declared_nodes
        src = np.array([a for a, _ in ids], np.int64)
        dst = np.array([b for _, b in ids], np.int64)
        labels = [str(i) for i in range(n)]
    else:
        index: dict[str, int] = {}
        src = np.empty(len(rows), np.int64)
        dst = np.empty(len(rows), np.int64)
        for i, (_, a, b, _) in enumerate(rows):
            src[i] = index.setdefault(a, len(index))
            dst[i] = index.setdefault(b, len(index))
        n = len(index)
        labels = list(index)
    notes = _edge_notes(path, src, dst, directed)
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        if weight is not None:
            weight = np.concatenate([weight, weight])
    return LoadedGraph(n=n, src=src, dst=dst, labels=labels, weight=weight, notes=notes)


def load_polblogs(path: str | Path) -> LoadedGraph:
    """Read the polblogs folder: ``nodes.csv`` (id,label,leaning,source), ``edges.csv``.

    Leaning becomes the user's community (0 liberal, 1 conservative) and a stance of -1
    or +1 that scenarios can use to seed opinions.
    """
    folder = Path(path)
    if not folder.exists():
        raise DataFileError(folder, "polblogs folder not found")
    nodes_path = folder / "nodes.csv" if folder.is_dir() else folder
    edges_path = nodes_path.with_name("edges.csv")
    lines = _open_lines(nodes_path)
    reader = csv.reader(lines)
    header = next(reader, None)
    expected = ["id", "label", "leaning"]
    if header is None or [h.strip().lower() for h in header[:3]] != expected:
        raise DataFileError(nodes_path, "expected a header starting with 'id,label,leaning'", 1)
    ids: dict[int, int] = {}
    labels: list[str] = []
    leaning: list[float] = []
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < 3:
            raise DataFileError(nodes_path, "expected 'id,label,leaning[,source]'", lineno)
        try:
            node_id = int(row[0])
        except ValueError:
            raise DataFileError(
                nodes_path, f"node id {row[0]!r} is not an integer", lineno
            ) from None
        if node_id in ids:
            raise DataFileError(nodes_path, f"node id {node_id} appears twice", lineno)
        ids[node_id] = len(labels)
        labels.append(row[1])
        leaning.append(_LEANING_STANCE.get(row[2].strip().lower(), np.nan))

    edge_lines = _open_lines(edges_path)
    src: list[int] = []
    dst: list[int] = []
    for lineno, raw in enumerate(edge_lines, start=1):
        line = raw.strip()
        if not line or (lineno == 1 and line.lower().startswith("source")):
            continue
        parts = line.split(",")
        if len(parts) != 2:
            raise DataFileError(edges_path, f"expected 'source,target', got {line!r}", lineno)
        try:
            a, b = int(parts[0]), int(parts[1])
        except ValueError:
            raise DataFileError(
                edges_path, f"node ids must be integers, got {line!r}", lineno
            ) from None
        if a not in ids or b not in ids:
            missing = a if a not in ids else b
            raise DataFileError(edges_path, f"node {missing} is not in nodes.csv", lineno)
        src.append(ids[a])
        dst.append(ids[b])
    lean = np.array(leaning)
    community = np.where(np.isnan(lean), -1, (lean > 0).astype(np.int8)).astype(np.int8)
    src_ids, dst_ids = np.array(src, np.int64), np.array(dst, np.int64)
    return LoadedGraph(
        n=len(labels),
        src=src_ids,
        dst=dst_ids,
        labels=labels,
        community=community,
        leaning=lean,
        notes=_edge_notes(edges_path, src_ids, dst_ids, directed=True),
    )
