"""Making the built-in bot detector (`roles.detector`): fitted on the accounts of
``default`` runs with their scripted bots, run here in memory."""

from __future__ import annotations

import numpy as np

from ..roles.detector import BUILTIN_SEEDS, LogisticDetector, fit, world_accounts


def build_builtin() -> LogisticDetector:
    """The built-in detector, made again (see the module docstring)."""
    from ..build import build_world
    from ..config import load_scenario

    parts = []
    for seed in BUILTIN_SEEDS:
        sc = load_scenario("default", ["users=3000", "record.events=none", f"seed={seed}"])
        world, sc = build_world(sc)
        for _ in range(sc.steps):
            world.step()
        parts.append(world_accounts(world))
    counts = np.vstack([c for c, _ in parts])
    is_bot = np.concatenate([b for _, b in parts])
    return fit(counts, is_bot)
