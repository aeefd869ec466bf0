"""Reinforcement-learning environments: Gymnasium and PettingZoo views of a running
world from one role. ``import townsquare.envs`` registers the Gymnasium ids:

* ``townsquare/Influencer-v0`` (`townsquare.envs.influencer_v0`).
"""

from __future__ import annotations

import gymnasium

from .core import LearnerSlot, RoleWorld, env_scenario
from .parallel import RoleParallelEnv
from .single import RoleEnv

ENV_IDS = {"influencer": "townsquare/Influencer-v0"}

if "townsquare/Influencer-v0" not in gymnasium.registry:
    gymnasium.register(
        id="townsquare/Influencer-v0",
        entry_point="townsquare.envs.influencer_v0:InfluencerEnv",
    )

__all__ = ["ENV_IDS", "LearnerSlot", "RoleEnv", "RoleParallelEnv", "RoleWorld", "env_scenario"]
