"""What the dashboard shows of a run or a sweep folder, read from disk as it is written.

A run being written by another process is never locked or waited on: metrics.parquet,
summary.json and the checkpoint that ``latest.json`` names are each replaced whole when
the run flushes, so a view reads the last flush (every ``record.flush_every`` steps). A
file caught mid-replacement is read again at the next refresh; the view keeps what it
last read meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

#: the follow graph drawn: this many of the most followed accounts and as many others
GRAPH_TOP = 120
GRAPH_RANDOM = 180
HISTOGRAM_BINS = 40


@dataclass
class RunState:
    """One reading of a run folder."""

    folder: Path
    name: str
    rows: list[dict]  # metrics.parquet (one dict per step)
    summary: dict
    steps_planned: int
    opinion: np.ndarray | None = None  # the leaning of every user at the last checkpoint
    role: np.ndarray | None = None
    graph_nodes: np.ndarray | None = None  # the drawn sample of users
    graph_edges: tuple[np.ndarray, np.ndarray] | None = None  # indices into graph_nodes
    checkpoint_step: int | None = None
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def step(self) -> int:
        """Steps done (the world's clock: metrics rows count steps from 0)."""
        return int(self.rows[-1]["step"]) + 1 if self.rows else 0

    @property
    def complete(self) -> bool:
        return bool(self.summary.get("complete"))

    def total(self, column: str) -> int:
        return int(sum(r.get(column, 0) for r in self.rows))

    def last(self, column: str) -> float | None:
        if not self.rows or column not in self.rows[-1]:
            return None
        value = self.rows[-1][column]
        return None if value is None else float(value)

    def columns(self, prefix: str) -> list[str]:
        return sorted(k for k in (self.rows[0] if self.rows else {}) if k.startswith(prefix))


def is_run(folder: Path) -> bool:
    return (folder / "config.yaml").is_file()


def read_run(folder: str | Path, with_world: bool = True) -> RunState:
    """The run as its files hold it now; ``with_world`` also reads the last checkpoint
    (opinions, a sample of the follow graph, the realism metrics). A folder that is not a
    run is a `UserError`."""
    import pyarrow.parquet as pq
    import yaml

    folder = Path(folder)
    if not is_run(folder):
        raise UserError(f"{folder}: not a run directory (no config.yaml)")
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{folder / 'config.yaml'}: unreadable ({exc})") from None
    metrics = folder / "metrics.parquet"
    rows = pq.read_table(metrics).to_pylist() if metrics.is_file() else []
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {}
    state = RunState(
        folder,
        str(config.get("name", folder.name)),
        rows,
        summary,
        int(summary.get("steps_planned") or config.get("steps") or 0),
    )
    if with_world and (folder / "checkpoints" / "latest.json").is_file():
        _read_world(state)
    return state


def _read_world(state: RunState) -> None:
    from ..metrics.realism import measure
    from ..metrics.snapshot import RunSnapshot

    snap = RunSnapshot.load(state.folder)
    state.opinion = np.asarray(snap.leaning, np.float64)
    state.role = np.asarray(snap.role)
    state.checkpoint_step = snap.steps
    state.graph_nodes, state.graph_edges = graph_sample(snap.follow_src, snap.follow_dst, snap.n)
    state.measures = measure(snap)


def graph_sample(
    src: np.ndarray, dst: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The users drawn (the most followed, then others at random with a fixed seed) and
    the follows among them, as indices into that sample."""
    in_deg = np.bincount(dst, minlength=n)
    top = np.argsort(-in_deg, kind="stable")[: min(GRAPH_TOP, n)]
    rest = np.setdiff1d(np.arange(n), top)
    rng = np.random.default_rng(seed)
    extra = rng.choice(rest, size=min(GRAPH_RANDOM, rest.size), replace=False)
    nodes = np.sort(np.concatenate([top, extra]))
    index = np.full(n, -1, np.int64)
    index[nodes] = np.arange(nodes.size)
    keep = (index[src] >= 0) & (index[dst] >= 0)
    return nodes, (index[src[keep]], index[dst[keep]])


def histogram(opinion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of leanings in fixed bins over [-1, 1]."""
    return np.histogram(np.clip(opinion, -1, 1), bins=HISTOGRAM_BINS, range=(-1.0, 1.0))


def folder_kind(path: str | Path) -> str:
    """'run' or 'sweep'; a `UserError` for anything else."""
    from ..report.sweep import is_sweep

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found")
    if is_sweep(path):
        return "sweep"
    if is_run(path):
        return "run"
    raise UserError(f"{path}: neither a run directory (config.yaml) nor a sweep (sweep.json)")
