"""A run directory's final state (or its first), loaded once for every measure and
figure."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    step_start: np.ndarray | None = None  # the first post id of each step (posts.step_start)
    stance: np.ndarray | None = None  # of each post
    topic: np.ndarray | None = None  # of each post

    @property
    def steps(self) -> int:
        """How many steps the posts cover."""
        return 0 if self.step_start is None else max(0, int(self.step_start.size) - 1)

    def up_to(self, step: int) -> RunSnapshot:
        """The same state with only the posts written before ``step``: what the window
        metrics had seen by then (the follow graph and opinions stay the final ones)."""
        end = int(self.step_start[min(step, self.steps)]) if self.step_start is not None else 0
        return replace(
            self,
            author=self.author[:end],
            kind=self.kind[:end],
            parent=self.parent[:end],
            step_start=self.step_start[: step + 1],
            stance=None if self.stance is None else self.stance[:end],
            topic=None if self.topic is None else self.topic[:end],
        )

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
        snap = cls._from_checkpoint(
            store, *store.load_checkpoint(), store.checkpoints / "latest.json"
        )
        metrics = pq.read_table(store.metrics).to_pydict() if store.metrics.exists() else {}
        return replace(snap, metrics=metrics)

    @classmethod
    def load_start(cls, run_dir: str | Path) -> RunSnapshot | None:
        """The run's world at step 0 (``checkpoints/start.npz``), or None for a run made
        before townsquare kept it."""
        from ..store import RunStore

        store = RunStore(run_dir)
        if not store.has_start():
            return None
        return cls._from_checkpoint(store, *store.load_start(), store.checkpoints / "start.json")

    @classmethod
    def _from_checkpoint(cls, store, arrays, world_meta, meta, named: Path) -> RunSnapshot:
        try:
            world = checked_state(arrays, world_meta)
            if isinstance(meta.get("step"), bool) or meta.get("step") != world.t:
                raise ValueError(
                    f"{named.name} step: {meta.get('step')!r:.20} is not the world's step {world.t}"
                )
        except ValueError as exc:
            reason = " ".join(str(exc).split())[:200]
            path = named
            if not reason.startswith(named.name):  # an array: name the .npz it is in
                from ..store import checkpoint_files

                path = store.checkpoints / checkpoint_files(meta, named.name)
            raise UserError(f"{path}: damaged checkpoint ({reason})") from None
        src, dst = world.graph.edges()
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
            {},
            np.asarray(posts.step_start, np.int64),
            posts.stance,
            posts.topic,
        )
