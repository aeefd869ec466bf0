"""Roles for learners: for each role, what its agents observe, which actions they have,
how an action becomes platform actions, and their reward — defined once and used by the
World's learned policies and by the RL environments alike."""

from __future__ import annotations

from .base import (
    SPEC_VERSION,
    LearnerRole,
    MemoryField,
    RewardContext,
    RoleMemory,
    merge_rows,
)
from .candidate import CandidateRole
from .citizen import CitizenRole
from .influencer import InfluencerRole
from .socialbot_platform import SocialbotRole

#: learnable roles by name
ROLES: dict[str, type[LearnerRole]] = {
    "citizen": CitizenRole,
    "influencer": InfluencerRole,
    "candidate": CandidateRole,
    "socialbot": SocialbotRole,
}


def make_role(name: str, action_space: str | None = None, self_observation: bool = True):
    """The role definition ``name`` with the given action space (default: the role's
    first, ``limited`` or the candidate's ``intents``) and observation."""
    if name not in ROLES:
        raise ValueError(
            f"role {name!r} has no learner definition yet (learnable roles: {', '.join(ROLES)})"
        )
    role = ROLES[name]
    return role(role.action_spaces[0] if action_space is None else action_space, self_observation)


__all__ = [
    "ROLES",
    "CandidateRole",
    "CitizenRole",
    "MemoryField",
    "SPEC_VERSION",
    "InfluencerRole",
    "SocialbotRole",
    "LearnerRole",
    "RewardContext",
    "RoleMemory",
    "make_role",
    "merge_rows",
]
