"""The platform's bot detector: a simple activity-based rule for now.

Every user's rate of visible actions (posts, reposts, replies, follows) is tracked as an
exponential moving average over steps. Each ``check_every`` steps, users whose rate is
above ``threshold`` get a strike; ``strikes`` strikes in a row suspend the account.
Heavy human posters can be caught too: false positives are part of the model.
"""

from __future__ import annotations

import numpy as np

from . import checks


class ActivityDetector:
    def __init__(
        self,
        n: int,
        threshold: float,
        strikes: int,
        check_every: int,
        memory: float,
        enabled: bool = True,
    ):
        self.threshold = float(threshold)
        self.strikes = int(strikes)
        self.check_every = int(check_every)
        self.memory = float(memory)  # weight of the past in the moving average
        self.enabled = enabled
        self.rate = np.zeros(n)
        self.strike_count = np.zeros(n, np.int16)

    def observe(self, actions_per_user: np.ndarray) -> None:
        self.rate *= self.memory
        self.rate += (1.0 - self.memory) * actions_per_user

    def check(self, step: int, suspended: np.ndarray) -> np.ndarray:
        """Suspend users that reach the strike limit; returns ids suspended now."""
        if not self.enabled or (step + 1) % self.check_every:
            return np.zeros(0, np.int64)
        flagged = (self.rate > self.threshold) & ~suspended
        self.strike_count = np.where(flagged, self.strike_count + 1, 0).astype(np.int16)
        caught = np.flatnonzero(self.strike_count >= self.strikes)
        suspended[caught] = True
        return caught

    def state(self) -> dict[str, np.ndarray]:
        return {"rate": self.rate, "strike_count": self.strike_count}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore `state` after checking it (a ``ValueError`` naming the array if not)."""
        self.rate, self.strike_count = self.checked_state(state, self.rate.shape[0])

    @staticmethod
    def checked_state(state: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """``rate`` and ``strike_count`` of a saved state for ``n`` users, checked."""
        rate = checks.array(state, "rate", np.float64, (n,))
        checks.within("rate", rate, 0.0)
        strike_count = checks.array(state, "strike_count", np.int16, (n,))
        checks.within("strike_count", strike_count, 0)
        return rate, strike_count
