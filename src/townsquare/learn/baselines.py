"""Designed decision rules to measure learners against (Jin & Guo's baselines), in the
influencer's limited action space (0 con, 1 neutral, 2 pro):

* ``random``: a side uniformly at random each step;
* ``fixed``: always the same side (``pro`` by default);
* ``crowd``: follow the crowd — the side of the mean stance of its feed (neutral within
  ±0.15).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..roles.influencer import BIN_EDGE, SIDES

BASELINES = ("random", "fixed", "crowd")


def baseline(name: str, seed: int = 0, side: str = "pro") -> Callable[[np.ndarray], int]:
    """``choose(observation) -> action`` for a baseline of the limited action space."""
    if name == "random":
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xBA5E]))
        return lambda obs: int(rng.integers(len(SIDES)))
    if name == "fixed":
        if side not in SIDES:
            raise ValueError(f"side: {side!r} is not one of {', '.join(SIDES)}")
        action = SIDES.index(side)
        return lambda obs: action
    if name == "crowd":
        return lambda obs: int(obs[0] > -BIN_EDGE) + int(obs[0] > BIN_EDGE)
    raise ValueError(f"baseline: {name!r} is not one of {', '.join(BASELINES)}")
