"""The platform's bot detector: the `Detector` protocol and its implementations.

A detector watches each step's events and suspends accounts. The world only knows the
protocol: `World` calls ``observe`` after a step's actions are applied and ``check``
right after it, and saves ``state()`` in checkpoints. The scenario picks an
implementation by name (``moderation.detector``, through `make_detector`), and
`townsquare.build.build_world` accepts any other object that follows the protocol (a
trained classifier, for instance).

`ActivityDetector`, the built-in rule: every user's rate of visible actions (posts, reposts, replies, follows) is tracked as an
exponential moving average over steps. Each ``check_every`` steps, users whose rate is
above ``threshold`` get a strike; ``strikes`` strikes in a row flag the account. A flagged
account is suspended at each check with probability ``catch_prob`` (`catch_probability`:
real platforms leave most accounts an observer can flag active for a long time, see
docs/world.md); ``catch_prob = 1`` suspends every flagged account at once. Heavy human
posters can be flagged too: false positives are part of the model.

Random draws: a detector that draws takes the world's ``moderation`` stream through an
optional ``use_rng(rng)`` method, which `World` calls when it is built; the world owns and
checkpoints that stream, so forks and ``--resume`` stay exact. The protocol itself needs
no randomness.
"""

from __future__ import annotations

import math
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


def catch_probability(
    survival: float, survival_days: float, step_days: float, check_every: int
) -> float:
    """The chance that a flagged account is suspended at one check, from a published
    survival: a share ``survival`` of flagged accounts still active after
    ``survival_days`` days, with checks every ``check_every`` steps of ``step_days`` days.
    Suspension at a constant rate per day gives ``survival ** (days / survival_days)``
    still active after ``days``, so one check (``check_every * step_days`` days) suspends
    with probability ``1 - survival ** (check_every * step_days / survival_days)``.
    ``survival = 0`` gives 1 (every flagged account at once), ``survival = 1`` gives 0."""
    if not 0.0 <= survival <= 1.0:
        raise ValueError(f"survival: {survival} is not a share in [0, 1]")
    if survival_days <= 0 or step_days <= 0 or check_every < 1:
        raise ValueError("survival_days and step_days must be > 0, check_every >= 1")
    if survival == 0.0:
        return 1.0
    exponent = check_every * step_days / survival_days
    return float(min(1.0, -math.expm1(math.log(survival) * exponent)))


class ActivityDetector:
    def __init__(
        self,
        n: int,
        threshold: float,
        strikes: int,
        check_every: int,
        memory: float,
        enabled: bool = True,
        catch_prob: float = 1.0,
        rng: np.random.Generator | None = None,
        report_threshold: int = 2,
    ):
        if not 0.0 <= catch_prob <= 1.0:
            raise ValueError(f"catch_prob: {catch_prob} is not a probability")
        self.threshold = float(threshold)
        self.strikes = int(strikes)
        self.check_every = int(check_every)
        self.memory = float(memory)  # weight of the past in the moving average
        self.enabled = enabled
        self.catch_prob = float(catch_prob)  # chance a flagged account is suspended per check
        self.rng = rng  # the world's moderation stream (`use_rng`); only drawn if catch_prob < 1
        self.rate = np.zeros(n)
        self.strike_count = np.zeros(n, np.int16)
        #: reports against each account's posts since the last check (made at the first
        #: report: most platforms of a run see none); ``report_threshold`` of them strike
        self.report_threshold = int(report_threshold)
        self.reports: np.ndarray | None = None

    def use_rng(self, rng: np.random.Generator) -> None:
        """Draw from ``rng``: `World` hands over its ``moderation`` stream, which it owns
        and checkpoints."""
        self.rng = rng

    def observe(self, actions_per_user: np.ndarray, events: StepEvents | None = None) -> None:
        self.rate *= self.memory
        self.rate += (1.0 - self.memory) * actions_per_user
        reported = None if events is None else events.report_author
        if reported is not None and reported.size:
            if self.reports is None:
                self.reports = np.zeros(self.rate.shape[0], np.int32)
            np.add.at(self.reports, reported, 1)

    def check(self, step: int, suspended: np.ndarray) -> np.ndarray:
        """Strike users above the threshold; suspend each flagged user (``strikes``
        strikes in a row) with probability ``catch_prob``; returns ids suspended now."""
        if not self.enabled or (step + 1) % self.check_every:
            return np.zeros(0, np.int64)
        over = self.rate > self.threshold
        if self.reports is not None:
            # users report what they see: an account reported often enough is struck
            # whatever its rate, and the count starts again at each check
            over |= self.reports >= self.report_threshold
            self.reports[:] = 0
        over &= ~suspended
        # capped at `strikes`: a flagged account that is not suspended stays flagged
        # while it stays above the threshold, and the int16 counter never overflows
        count = np.minimum(self.strike_count + 1, min(self.strikes, 2**15 - 1))
        self.strike_count = np.where(over, count, 0).astype(np.int16)
        flagged = np.flatnonzero(self.strike_count >= self.strikes)
        if self.catch_prob >= 1.0 or flagged.size == 0:
            caught = flagged
        elif self.catch_prob <= 0.0:
            caught = flagged[:0]
        else:
            if self.rng is None:
                raise RuntimeError(
                    "ActivityDetector: catch_prob < 1 draws from a random stream: "
                    "World hands over its own (use_rng)"
                )
            caught = flagged[self.rng.random(flagged.size) < self.catch_prob]
        suspended[caught] = True
        return caught.astype(np.int64, copy=False)

    def state(self) -> dict[str, np.ndarray]:
        out = {"rate": self.rate, "strike_count": self.strike_count}
        if self.reports is not None:
            out["reports"] = self.reports
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore `state` after checking it (a ``ValueError`` naming the array if not)."""
        n = self.rate.shape[0]
        self.rate, self.strike_count = self.checked_state(state, n)
        self.reports = None
        if "reports" in state:
            self.reports = checks.array(state, "reports", np.int32, (n,))
            checks.within("reports", self.reports, 0)

    @staticmethod
    def checked_state(state: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """``rate`` and ``strike_count`` of a saved state for ``n`` users, checked."""
        rate = checks.array(state, "rate", np.float64, (n,))
        checks.within("rate", rate, 0.0)
        strike_count = checks.array(state, "strike_count", np.int16, (n,))
        checks.within("strike_count", strike_count, 0)
        return rate, strike_count


def _activity(config, n: int, enabled: bool = True) -> ActivityDetector:
    catch = catch_probability(
        config.survival, config.survival_days, config.step_days, config.check_every
    )
    return ActivityDetector(
        n,
        config.threshold,
        config.strikes,
        config.check_every,
        config.memory,
        enabled=enabled,
        catch_prob=catch,
        report_threshold=config.report_threshold,
    )


def _none(config, n: int) -> ActivityDetector:
    # the activity rule with checks switched off: the same state, so checkpoints of runs
    # with and without moderation have one layout
    return _activity(config, n, enabled=False)


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
