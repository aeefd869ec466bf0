"""The detector protocol: the activity rule is one implementation; the builder takes any
other (issue 11)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import SMALL
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.world import DETECTORS, ActivityDetector, Detector, make_detector
from townsquare.world.population import Role


class QuotaDetector:
    """Suspends whoever has made more than ``quota`` visible actions in all: a stand-in
    for a trained classifier, with a state of its own."""

    def __init__(self, n: int, quota: int):
        self.quota = quota
        self.total = np.zeros(n, np.int64)
        self.seen_posts = 0

    def observe(self, actions_per_user, events):
        self.total += actions_per_user.astype(np.int64)
        self.seen_posts += int(events.post_id.size)

    def check(self, step, suspended):
        caught = np.flatnonzero((self.total > self.quota) & ~suspended)
        suspended[caught] = True
        return caught

    def state(self):
        return {"total": self.total, "seen_posts": np.array(self.seen_posts)}

    def load_state(self, state):
        total = np.asarray(state["total"])
        if total.shape != self.total.shape or total.dtype != np.int64 or (total < 0).any():
            raise ValueError("total: not a count per user")
        self.total, self.seen_posts = total.copy(), int(state["seen_posts"])


def scenario(**moderation):
    data = copy.deepcopy(SMALL)
    data["moderation"] = moderation
    return validate(data)


def test_the_activity_rule_follows_the_protocol():
    for name in DETECTORS:
        detector = make_detector(scenario(detector=name).moderation, 10)
        assert isinstance(detector, Detector) and isinstance(detector, ActivityDetector)


def test_a_detector_of_our_own_moderates_the_world():
    world, _ = build_world(scenario(), detector=lambda n: QuotaDetector(n, quota=3))
    suspended = []
    for _ in range(8):
        suspended.extend(world.step().suspended.tolist())
    assert suspended, "nobody passed the quota"
    totals = world.detector.total
    assert (totals[suspended] > 3).all()
    assert world.population.suspended[suspended].all()
    assert world.detector.seen_posts > 0
    bots = world.population.ids_of(Role.SOCIALBOT)
    assert np.isin(bots, suspended).mean() > 0.5  # bots act the most


def test_a_detector_of_our_own_is_saved_forked_and_restored():
    world, _ = build_world(scenario(), detector=QuotaDetector(SMALL["users"], quota=5))
    for _ in range(3):
        world.step()
    arrays, meta = world.state()
    arrays = {name: array.copy() for name, array in arrays.items()}  # state() shares memory
    assert "detector.total" in arrays
    fork = world.fork()
    restored, _ = build_world(scenario(), detector=QuotaDetector(SMALL["users"], quota=5))
    restored.load_state(arrays, meta)
    for _ in range(4):
        a, b, c = world.step(), fork.step(), restored.step()
        assert a.suspended.tolist() == b.suspended.tolist() == c.suspended.tolist()
        assert a.post_id.tobytes() == c.post_id.tobytes()
    bad = dict(arrays)
    bad["detector.total"] = -np.ones_like(arrays["detector.total"])
    fresh, _ = build_world(scenario(), detector=QuotaDetector(SMALL["users"], quota=5))
    with pytest.raises(ValueError, match="detector.*total"):
        fresh.load_state(bad, meta)


def test_moderation_none_suspends_nobody():
    world, _ = build_world(scenario(detector="none", threshold=0.01, strikes=1, check_every=1))
    assert all(world.step().suspended.size == 0 for _ in range(6))
    strict, _ = build_world(scenario(threshold=0.01, strikes=1, check_every=1))
    assert sum(strict.step().suspended.size for _ in range(6)) > 0


def test_something_that_is_not_a_detector_is_refused():
    with pytest.raises(TypeError, match="Detector protocol"):
        build_world(scenario(), detector=object())
