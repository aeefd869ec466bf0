"""Reinforcement-learning environments: Gymnasium and PettingZoo views of a running
world from its learners. ``import townsquare.envs`` registers the Gymnasium ids:

* ``townsquare/Influencer-v0`` (`townsquare.envs.influencer_v0`);
* ``townsquare/Citizen-v0`` (`townsquare.envs.citizen_v0`);
* ``townsquare/Candidate-v0`` (`townsquare.envs.candidate_v0`);
* ``townsquare/Socialbot-v0`` (`townsquare.envs.socialbot_v0`): ACORN's socialbot game on
  a propagation graph, not a platform world.

Several roles learning in one world: `townsquare.envs.platform_v0` (PettingZoo).
"""

from __future__ import annotations

import gymnasium

from .core import LearnerGroup, LearnerSlot, Pick, PlatformWorld, env_scenario
from .parallel import PlatformParallelEnv
from .single import RoleEnv

ENV_IDS = {
    "influencer": "townsquare/Influencer-v0",
    "citizen": "townsquare/Citizen-v0",
    "candidate": "townsquare/Candidate-v0",
}
ENTRY_POINTS = {
    "townsquare/Influencer-v0": "townsquare.envs.influencer_v0:InfluencerEnv",
    "townsquare/Citizen-v0": "townsquare.envs.citizen_v0:CitizenEnv",
    "townsquare/Candidate-v0": "townsquare.envs.candidate_v0:CandidateEnv",
    "townsquare/Socialbot-v0": "townsquare.envs.socialbot_v0:SocialbotEnv",
}

for _id, _entry in ENTRY_POINTS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point=_entry)

__all__ = [
    "ENV_IDS",
    "LearnerGroup",
    "LearnerSlot",
    "Pick",
    "PlatformParallelEnv",
    "PlatformWorld",
    "RoleEnv",
    "env_scenario",
]
