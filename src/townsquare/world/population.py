"""Per-user state as arrays: one row per user, never one object per user."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np


class Role(IntEnum):
    """Who a user is on the platform. Stored as int8 in `Population.role`."""

    CITIZEN = 0
    INFLUENCER = 1
    CANDIDATE = 2
    SOCIALBOT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


ROLE_NAMES: tuple[str, ...] = tuple(r.label for r in Role)


@dataclass
class Population:
    """The users of a world.

    Every field is an array indexed by user id (0..n-1). ``opinion`` has one column per
    topic, each in [-1, 1]. ``activity`` is the probability that the user opens the app in
    a step; it is heavy-tailed so that a minority writes most posts (REALISM F1).
    ``susceptibility`` scales how far an opinion moves per update (0 = never moves).
    """

    role: np.ndarray  # int8 (n,)
    opinion: np.ndarray  # float64 (n, topics)
    activity: np.ndarray  # float64 (n,) in [0, 1]
    susceptibility: np.ndarray  # float64 (n,) in [0, 1]
    suspended: np.ndarray  # bool (n,)
    community: np.ndarray  # int8 (n,), -1 when the graph has no communities

    @property
    def n(self) -> int:
        return int(self.role.shape[0])

    @property
    def topics(self) -> int:
        return int(self.opinion.shape[1])

    def ids_of(self, role: Role) -> np.ndarray:
        return np.flatnonzero(self.role == role)

    def counts_by_role(self) -> dict[str, int]:
        counts = np.bincount(self.role, minlength=len(Role))
        return {name: int(c) for name, c in zip(ROLE_NAMES, counts, strict=True)}

    def state(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> Population:
        return cls(**{f.name: np.array(state[f.name]) for f in fields(cls)})


def heavy_tailed_activity(
    rng: np.random.Generator, n: int, mean: float, sigma: float
) -> np.ndarray:
    """Log-normal activity rates with the given mean, clipped to [0, 1].

    With sigma around 2 the top 10% of users account for roughly 80% of activity,
    the concentration Pew measured on Twitter (REALISM F1).
    """
    if n == 0:
        return np.zeros(0)
    raw = rng.lognormal(mean=0.0, sigma=sigma, size=n)
    # Rescale so the mean after clipping is close to the requested mean: two fixed-point
    # passes are enough because clipping only touches the far tail.
    scale = mean / raw.mean()
    for _ in range(3):
        clipped = np.minimum(raw * scale, 1.0)
        m = clipped.mean()
        if m <= 0:
            break
        scale *= mean / m
    return np.minimum(raw * scale, 1.0)
