"""Per-user state as arrays: one row per user, never one object per user."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

from . import checks


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
    ``visits`` is the probability that the user opens the app to read (>= ``activity``):
    a session in which the activation draw is also below ``activity`` is one in which it
    may post, so posting follows ``activity`` whatever the visits
    (``population.activity.daily_share``).
    """

    role: np.ndarray  # int8 (n,)
    opinion: np.ndarray  # float64 (n, topics)
    activity: np.ndarray  # float64 (n,) in [0, 1]
    susceptibility: np.ndarray  # float64 (n,) in [0, 1]
    suspended: np.ndarray  # bool (n,)
    community: np.ndarray  # int8 (n,), -1 when the graph has no communities
    visits: np.ndarray  # float64 (n,) in [activity, 1]
    #: int64 (n,): follows each user made over the run (applied ones: new edges), which
    #: a detector reads as the bot's courting of chosen users (roles/detector.py)
    follows_made: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.follows_made is None:
            self.follows_made = np.zeros(self.role.shape[0], np.int64)

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
    def from_state(cls, state: dict[str, np.ndarray], n: int | None = None) -> Population:
        """The population `state` saved, after checking every value (a checkpoint is
        never trusted); anything wrong is a ``ValueError`` naming the array. ``n``: the
        number of users it must have."""
        role = checks.array(state, "role", np.int8, (n,))
        checks.among("role", role, [r.value for r in Role])
        n = int(role.shape[0])
        opinion = checks.array(state, "opinion", np.float64, (n, None))
        if opinion.shape[1] == 0:
            raise ValueError("opinion: has no topic column")
        checks.within("opinion", opinion, -1.0, 1.0)
        activity = checks.array(state, "activity", np.float64, (n,))
        checks.within("activity", activity, 0.0, 1.0)
        susceptibility = checks.array(state, "susceptibility", np.float64, (n,))
        checks.within("susceptibility", susceptibility, 0.0, 1.0)
        suspended = checks.array(state, "suspended", np.bool_, (n,))
        community = checks.array(state, "community", np.int8, (n,))
        checks.within("community", community, -1)
        # a world saved before visits existed read and posted in the same sessions
        visits = activity.copy()
        if "visits" in state:
            visits = checks.array(state, "visits", np.float64, (n,))
            checks.within("visits", visits, 0.0, 1.0)
            checks.refuse("visits", visits < activity, "below the user's activity", visits)
        # a world saved before follows were counted starts counting at its step
        follows_made = np.zeros(n, np.int64)
        if "follows_made" in state:
            follows_made = checks.array(state, "follows_made", np.int64, (n,))
            checks.within("follows_made", follows_made, 0)
        known = {
            "follows_made": follows_made,
            "role": role,
            "opinion": opinion,
            "activity": activity,
            "susceptibility": susceptibility,
            "suspended": suspended,
            "community": community,
            "visits": visits,
        }
        for f in fields(cls):  # a field without a check of its own yet
            if f.name not in known:
                known[f.name] = checks.fetch(state, f.name).copy()
        return cls(**known)


def heavy_tailed_activity(
    rng: np.random.Generator, n: int, mean: float, sigma: float
) -> np.ndarray:
    """Log-normal activity rates with the given mean, clipped to [0, 1].

    With sigma 2 the top 10% of users hold 76% of the log-normal's rates, near the 80%
    of posts Pew measured on Twitter (REALISM F1); clipping at 1 (one session a step)
    lowers that (63% at mean 0.1, where 2.7% of users are clipped). Finite for any finite
    ``sigma >= 0``: where the draws would overflow a float (or sum past one), they are
    drawn again from the same random numbers in log space, divided by the largest.
    """
    if n == 0:
        return np.zeros(0)
    state = rng.bit_generator.state
    with np.errstate(over="ignore"):
        raw = rng.lognormal(mean=0.0, sigma=sigma, size=n)
        total = raw.sum()
    if not np.isfinite(total) or total <= 0:
        # exp(sigma * z) overflowed (or every draw underflowed to 0): the same normal
        # draws (lognormal and standard_normal use one each), shifted so the largest is
        # exp(0) = 1, give the same rates after the rescaling below, without inf * 0
        rng.bit_generator.state = state
        z = rng.standard_normal(size=n)
        with np.errstate(over="ignore", under="ignore"):
            raw = np.exp(sigma * (z - z.max()))
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
