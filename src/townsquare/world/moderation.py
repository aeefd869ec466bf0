"""The platform's bot detector: the `Detector` protocol and its implementations.

A detector watches each step's events and suspends accounts. The world only knows the
protocol: `World` calls ``observe`` after a step's actions are applied and ``check``
right after it, and saves ``state()`` in checkpoints. The scenario picks an
implementation by name (``moderation.detector``, through `make_detector`), and
`townsquare.build.build_world` accepts any other object that follows the protocol (a
trained classifier, for instance).

`ActivityDetector`, the built-in rule: every user's rate of visible actions (posts, reposts, replies, follows) is tracked as an
exponential moving average over steps. Each ``check_every`` steps, users whose rate is
above ``threshold`` get a strike; ``strikes`` strikes in a row suspend the account.
Heavy human posters can be caught too: false positives are part of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from . import checks

if TYPE_CHECKING:  # pragma: no cover
    from .world import StepEvents


@runtime_checkable
class Detector(Protocol):
    """What the platform asks of a bot detector."""

    def observe(self, actions_per_user: np.ndarray, events: StepEvents) -> None:
        """Take in one step: each user's count of visible actions (posts, reposts,
        replies, follows) and the step's events (who posted what, liked, followed)."""

    def check(self, step: int, suspended: np.ndarray) -> np.ndarray:
        """Suspend accounts (set ``suspended[ids] = True``) and return the ids suspended
        now. Called once per step, after `observe`."""

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that restore this detector exactly (saved in run checkpoints)."""

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore `state`, after checking it: a ``ValueError`` naming the array if it is
        not what `state` wrote (a checkpoint is a file and never trusted)."""


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

    def observe(self, actions_per_user: np.ndarray, events: StepEvents | None = None) -> None:
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

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore `state` after checking it (a ``ValueError`` naming the array if not)."""
        self.rate, self.strike_count = self.checked_state(state, self.rate.shape[0])

    @staticmethod
    def checked_state(state: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """``rate`` and ``strike_count`` of a saved state for ``n`` users, checked."""
        rate = checks.array(state, "rate", np.float64, (n,))
        checks.within("rate", rate, 0.0)
        strike_count = checks.array(state, "strike_count", np.int16, (n,))
        checks.within("strike_count", strike_count, 0)
        return rate, strike_count


def _activity(config, n: int) -> ActivityDetector:
    return ActivityDetector(n, config.threshold, config.strikes, config.check_every, config.memory)


def _none(config, n: int) -> ActivityDetector:
    # the activity rule with checks switched off: the same state, so checkpoints of runs
    # with and without moderation have one layout
    return ActivityDetector(
        n, config.threshold, config.strikes, config.check_every, config.memory, enabled=False
    )


#: detectors a scenario can name in ``moderation.detector``
DETECTORS: dict[str, Callable[[object, int], Detector]] = {"activity": _activity, "none": _none}


def make_detector(config, n: int) -> Detector:
    """The detector ``config.detector`` names (a `ModerationConfig`), for ``n`` users."""
    try:
        factory = DETECTORS[config.detector]
    except KeyError:
        raise ValueError(
            f"moderation.detector: unknown detector {config.detector!r} "
            f"(known: {', '.join(DETECTORS)})"
        ) from None
    return factory(config, n)
