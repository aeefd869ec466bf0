"""What every learnable role defines, once, for the World's policies and the RL
environments alike: its observation vector, its actions, how an action becomes platform
actions, its reward, and a discretisation for tabular learners.

A role keeps a small per-user memory (arrays over all users, not objects) for what an
agent knows about itself between decisions: its last expressed stance and its follower
count when it last decided. The memory is part of a run's checkpoint, so `--resume` and
an environment both rebuild exactly the same observations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from gymnasium import spaces

from ..world.actions import Actions, Observations
from ..world.population import Role

#: bumped whenever a role's observation or action layout changes, so old checkpoints fail
#: with a clear error instead of acting on misread inputs
SPEC_VERSION = 1


@dataclass
class RoleMemory:
    """Per-user memory of a role's agents, indexed by user id."""

    last_stance: np.ndarray  # float64 (n,): the stance the agent last expressed
    followers_then: np.ndarray  # int64 (n,): its follower count when it last decided
    decided: np.ndarray  # bool (n,): whether it has decided at least once

    @classmethod
    def empty(cls, n_users: int) -> RoleMemory:
        return cls(np.zeros(n_users), np.zeros(n_users, np.int64), np.zeros(n_users, bool))

    def state(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        for f in fields(self):
            if f.name in arrays:
                setattr(self, f.name, np.array(arrays[f.name], getattr(self, f.name).dtype))


@dataclass(frozen=True)
class RewardContext:
    """What a role's reward may read about the step that just ended, for its agents
    ``users``: their memory, their follower counts now, and, where the caller has them,
    the step's events and the world itself (read only: a reward never changes it)."""

    users: np.ndarray  # int64: the agents being rewarded
    memory: RoleMemory
    followers: np.ndarray  # int64, one per user in ``users``: follower counts now
    events: Any = None  # the step's StepEvents, when the caller has them
    world: Any = None  # the World, when the caller has it


class LearnerRole(ABC):
    """One role's definition for learners: spaces, observation, action, reward."""

    name: str
    world_role: Role
    action_spaces: tuple[str, ...]

    def __init__(self, action_space: str, self_observation: bool):
        if action_space not in self.action_spaces:
            raise ValueError(
                f"action_space: {action_space!r} is not one of {', '.join(self.action_spaces)}"
            )
        self.action_space_name = action_space
        self.self_observation = bool(self_observation)

    # -- spaces ---------------------------------------------------------------
    @property
    @abstractmethod
    def feature_names(self) -> list[str]: ...

    @property
    @abstractmethod
    def action_names(self) -> list[str]: ...

    @property
    def obs_size(self) -> int:
        return len(self.feature_names)

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    def observation_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self.obs_size,), np.float32)

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n_actions)

    # -- the three definitions --------------------------------------------------
    @abstractmethod
    def observe(self, obs: Observations, rows: np.ndarray, memory: RoleMemory) -> np.ndarray:
        """float32 (len(rows), obs_size): the observation vectors of these feed rows."""

    @abstractmethod
    def observe_absent(
        self, users: np.ndarray, followers: np.ndarray, memory: RoleMemory
    ) -> np.ndarray:
        """Observation vectors of users who read nothing this step (inactive)."""

    @abstractmethod
    def to_actions(
        self, obs: Observations, rows: np.ndarray, actions: np.ndarray, memory: RoleMemory
    ) -> Actions:
        """Platform actions of these rows for the chosen action ids; updates memory."""

    def reward(self, context: RewardContext) -> np.ndarray:
        """float64, one per ``context.users``: the reward since each agent's last
        decision. Followers gained by default; a role overrides it with its own
        incentive (votes, approval, spread), read from the same context."""
        gained = context.followers - context.memory.followers_then[context.users]
        return gained.astype(np.float64)

    # -- tabular learners ----------------------------------------------------------
    @property
    @abstractmethod
    def n_states(self) -> int: ...

    @abstractmethod
    def discretise(self, vectors: np.ndarray) -> np.ndarray:
        """int64 state ids in [0, n_states) for observation vectors."""

    def describe(self) -> dict:
        """What a checkpoint records so a loader can refuse a mismatched one."""
        return {
            "role": self.name,
            "action_space": self.action_space_name,
            "self_observation": self.self_observation,
            "obs_size": self.obs_size,
            "n_actions": self.n_actions,
            "spec_version": SPEC_VERSION,
        }


def merge_rows(base: Actions, rows: np.ndarray, sub: Actions) -> Actions:
    """``base`` with its rows ``rows`` replaced by the rows of ``sub``."""
    out = {}
    for name in ("post", "post_stance", "post_topic", "like", "repost", "reply", "reply_stance"):
        arr = getattr(base, name).copy()
        arr[rows] = getattr(sub, name)
        out[name] = arr
    for name in ("follow", "unfollow"):
        a, b = getattr(base, name), getattr(sub, name)
        width = max(a.shape[1], b.shape[1])
        arr = np.full((a.shape[0], width), -1, np.int64)
        arr[:, : a.shape[1]] = a
        arr[rows] = -1
        arr[rows, : b.shape[1]] = b
        out[name] = arr
    for name, like in (("post_text", "post"), ("reply_text", "reply")):
        a, b = getattr(base, name), getattr(sub, name)
        if a is None and b is None:
            continue
        arr = a.copy() if a is not None else np.full(getattr(base, like).shape, None, object)
        arr[rows] = b if b is not None else None
        out[name] = arr
    return Actions(**out)
