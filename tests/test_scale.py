"""Slow checks at scale (``make reproduce``; excluded from ``make test``)."""

from __future__ import annotations

import numpy as np
import pytest

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.world import PostKind

pytestmark = pytest.mark.slow


def test_default_platform_at_200k_users_keeps_its_invariants_and_tails():
    world, _ = build_world(load_scenario("default", ["users=200000", "seed=11"]))
    for _ in range(40):
        world.step()
    posts, graph = world.posts, world.graph
    # invariants at scale
    assert np.all(posts.likes <= posts.views)
    src, dst = graph.edges()
    assert np.array_equal(graph.in_deg, np.bincount(dst, minlength=world.n))
    # F1: posting is concentrated (Pew 2019: top 10% write ~80%)
    originals = posts.author[posts.kind == PostKind.POST]
    per_user = np.sort(np.bincount(originals, minlength=world.n))[::-1]
    top10 = per_user[: world.n // 10].sum() / per_user.sum()
    assert 0.6 < top10 < 0.95
    # F2: followers are heavy-tailed (Kwak et al. 2010: exponent ~2.3); discrete MLE
    followers = graph.in_deg[graph.in_deg >= 20].astype(float)
    alpha = 1 + followers.size / np.log(followers / 19.5).sum()
    assert 2.0 < alpha < 2.8
