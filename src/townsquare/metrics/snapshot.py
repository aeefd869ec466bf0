"""A run directory's final state, loaded once for every measure and figure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..world.world import checked_state
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
        """From the run's last checkpoint (the whole world) and its metrics.parquet. The
        checkpoint is checked as `--resume` checks it (`checked_state`); a damaged one is
        a one-line `UserError` naming it."""
        import pyarrow.parquet as pq

        from ..store import RunStore

        store = RunStore(run_dir)
        arrays, world_meta, meta = store.load_checkpoint()
        try:
            world = checked_state(arrays, world_meta)
            if isinstance(meta.get("step"), bool) or meta.get("step") != world.t:
                raise ValueError(
                    f"latest.json step: {meta.get('step')!r:.20} is not the world's step {world.t}"
                )
        except ValueError as exc:
            reason = " ".join(str(exc).split())[:200]
            path = store.checkpoints / "latest.json"
            if not reason.startswith("latest.json"):  # an array: name the .npz it is in
                try:
                    path = store.checkpoints / json.loads(path.read_text(encoding="utf-8"))["file"]
                except (OSError, ValueError, KeyError, TypeError):
                    pass
            raise UserError(f"{path}: damaged checkpoint ({reason})") from None
        src, dst = world.graph.edges()
        metrics = pq.read_table(store.metrics).to_pydict() if store.metrics.exists() else {}
        pop, posts = world.population, world.posts
        return cls(
            pop.role,
            pop.opinion,
            pop.suspended,
            src,
            dst,
            posts.author,
            posts.kind,
            posts.parent,
            metrics,
        )
