"""Loaders for real networks: plain edge lists, CSV edge lists and the polblogs format.

Loaders take a path and return a `LoadedGraph`. Any problem with the file raises
`DataFileError` naming the file and, for malformed content, the line number.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_HEADER_WORDS = {"source", "target", "src", "dst", "from", "to", "u", "v", "user_a", "user_b"}
_LEANING_STANCE = {"liberal": -1.0, "left": -1.0, "conservative": 1.0, "right": 1.0}


class DataFileError(ValueError):
    """A data file is missing or malformed. ``str()`` is a one-line message."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
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


def load_edge_list(path: str | Path, directed: bool = True) -> LoadedGraph:
    """Read ``u v [weight]`` lines (spaces, tabs or commas).

    Lines starting with ``#`` or ``%`` are comments; a ``# nodes: N`` comment declares
    N users, so isolated users padded into a file (as in the hoaxy graphs) are kept. A
    first line whose two fields are column names (``source,target`` ...) is a header.
    Node ids that are all integers are used as user ids; otherwise (user names) users are
    numbered in order of first appearance. Undirected files become mutual follows.
    """
    path = Path(path)
    lines = _open_lines(path)
    declared_nodes: int | None = None
    rows: list[tuple[int, str, str, str | None]] = []
    seen_data = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line[0] in "#%":
            body = line[1:].strip().lower()
            if body.startswith("nodes:"):
                try:
                    declared_nodes = int(body.split(":", 1)[1].strip())
                except ValueError:
                    raise DataFileError(
                        path, "'# nodes:' must be followed by an integer", lineno
                    ) from None
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

    numeric = all(_is_int(r[1]) and _is_int(r[2]) for r in rows)
    if numeric:
        src = np.array([int(r[1]) for r in rows], np.int64)
        dst = np.array([int(r[2]) for r in rows], np.int64)
        bad = np.flatnonzero((src < 0) | (dst < 0))
        if bad.size:
            raise DataFileError(path, "node ids must be non-negative", rows[bad[0]][0])
        n = int(max(src.max(), dst.max())) + 1
        if declared_nodes is not None:
            if declared_nodes < n:
                raise DataFileError(
                    path, f"'# nodes: {declared_nodes}' but node id {n - 1} appears"
                )
            n = declared_nodes
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
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        if weight is not None:
            weight = np.concatenate([weight, weight])
    return LoadedGraph(n=n, src=src, dst=dst, labels=labels, weight=weight)


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
    return LoadedGraph(
        n=len(labels),
        src=np.array(src, np.int64),
        dst=np.array(dst, np.int64),
        labels=labels,
        community=community,
        leaning=lean,
    )
