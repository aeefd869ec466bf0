"""A run directory's final state, loaded once for every measure and figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..world.graph import FollowGraph
from .cascades import Cascades


@dataclass
class RunSnapshot:
    role: np.ndarray
    opinion: np.ndarray  # (users, topics)
    suspended: np.ndarray
    follow_src: np.ndarray
    follow_dst: np.ndarray
    author: np.ndarray
    kind: np.ndarray
    parent: np.ndarray
    metrics: dict[str, list]  # metrics.parquet as columns (empty when absent)

    @property
    def n(self) -> int:
        return int(self.role.shape[0])

    @property
    def leaning(self) -> np.ndarray:
        return self.opinion[:, 0] if self.opinion.ndim == 2 else self.opinion

    def cascades(self) -> Cascades:
        return Cascades(self.author, self.kind, self.parent)

    @classmethod
    def load(cls, run_dir: str | Path) -> RunSnapshot:
        """From the run's last checkpoint (the whole world) and its metrics.parquet."""
        import pyarrow.parquet as pq

        from ..store import RunStore

        store = RunStore(run_dir)
        arrays, _, _ = store.load_checkpoint()
        graph = FollowGraph.from_state(
            {k.removeprefix("graph."): v for k, v in arrays.items() if k.startswith("graph.")}
        )
        src, dst = graph.edges()
        metrics = pq.read_table(store.metrics).to_pydict() if store.metrics.exists() else {}
        return cls(
            arrays["pop.role"],
            arrays["pop.opinion"],
            arrays["pop.suspended"],
            src,
            dst,
            arrays["posts.col_author"],
            arrays["posts.col_kind"],
            arrays["posts.col_parent"],
            metrics,
        )
