"""The Q-table checkpoint: a table of action values and what it was trained for, as npz
(``allow_pickle=False``) or JSON, never a pickle. Written by `townsquare train --algo q`
(`townsquare.learn.q_learning`), read by a scenario's policy line (`policies.learned`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..outputs import replace_file, replace_text
from ..roles import LearnerRole
from .strict_json import strict_json


@dataclass
class QTable:
    """A Q-table and what it was trained for (`LearnerRole.describe`)."""

    q: np.ndarray  # float64 (n_states, n_actions)
    visits: np.ndarray  # int64 (n_states, n_actions)
    meta: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, role: LearnerRole, **extra) -> QTable:
        meta = {**role.describe(), "algo": "q", "n_states": role.n_states, **extra}
        return cls(
            np.zeros((role.n_states, role.n_actions)),
            np.zeros((role.n_states, role.n_actions), np.int64),
            meta,
        )

    def greedy(self, states: np.ndarray) -> np.ndarray:
        """Best action per state; ties go to the lowest action id."""
        return self.q[states].argmax(axis=1)

    def act(self, states: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        explore = rng.random(states.shape[0]) < epsilon
        random_actions = rng.integers(0, self.q.shape[1], states.shape[0])
        return np.where(explore, random_actions, self.greedy(states))

    def update(self, s, a, r, s_next, done, alpha: float, gamma: float) -> None:
        """One TD step for a batch of transitions (all computed from the same table)."""
        s, a = np.asarray(s), np.asarray(a)
        target = np.asarray(r, float) + gamma * self.q[s_next].max(axis=1) * ~np.asarray(done)
        np.add.at(self.q, (s, a), alpha * (target - self.q[s, a]))
        np.add.at(self.visits, (s, a), 1)

    # -- files: npz or JSON, never pickle ---------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Written beside ``path`` and renamed onto it: a symlink there is replaced, not
        written through."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            doc = {"meta": self.meta, "q": self.q.tolist(), "visits": self.visits.tolist()}
            return replace_text(path, json.dumps(doc, indent=1))

        def write(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.savez(fh, q=self.q, visits=self.visits, meta=np.array(json.dumps(self.meta)))

        return replace_file(path, write)

    @classmethod
    def load(cls, path: str | Path) -> QTable:
        """A table `save` wrote; anything else is a `ValueError` saying what is wrong: a
        ``q`` that is not real numbers (checked before any cast), ``visits`` that are not
        non-negative whole numbers, or JSON (the file, or the npz's ``meta``) with a
        duplicate key or a NaN/Infinity constant."""
        path = Path(path)
        if path.suffix == ".json":
            doc = strict_json(path.read_text(encoding="utf-8"), "the file")
            if not isinstance(doc, dict) or "q" not in doc or "meta" not in doc:
                raise ValueError("the file is not a JSON object with q and meta")
            q = _real_q(np.asarray(doc["q"]))
            visits = np.asarray(doc["visits"]) if "visits" in doc else np.zeros(q.shape, np.int64)
            meta = doc["meta"]
        else:
            with np.load(path, allow_pickle=False) as z:
                q, visits, meta = _real_q(z["q"]), z["visits"], z["meta"]
            if meta.ndim != 0 or meta.dtype.kind != "U":
                raise ValueError(
                    f"meta is not a JSON string (dtype {meta.dtype}, shape {meta.shape})"
                )
            meta = strict_json(str(meta), "meta")
        if not isinstance(meta, dict):
            raise ValueError("meta is not a JSON object")
        return cls(q, _counts(visits), meta)


def _real_q(q: np.ndarray) -> np.ndarray:
    """``q`` as float64, refusing any dtype that is not real numbers before casting (a
    complex one would lose its imaginary part with a warning)."""
    if q.dtype.kind not in "iuf":
        raise ValueError(f"q must hold real numbers, not {q.dtype}")
    return np.array(q, np.float64)


def _counts(visits: np.ndarray) -> np.ndarray:
    """``visits`` as int64, refusing anything but non-negative whole numbers."""
    if visits.dtype.kind not in "iu":
        raise ValueError(f"visits must hold whole numbers, not {visits.dtype}")
    if visits.size and (visits.min() < 0 or visits.max() > np.iinfo(np.int64).max):
        raise ValueError("visits holds negative counts or counts past int64")
    return np.array(visits, np.int64)
