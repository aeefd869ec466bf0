"""What every learnable role defines, once, for the World's policies and the RL
environments alike: its observation vector, its actions, how an action becomes platform
actions, its reward, the per-agent columns it reports per episode, and a discretisation
for tabular learners.

A role declares a small per-user memory (`MemoryField`s: arrays over all users, not
objects) for what an agent knows about itself between decisions, e.g. the stance it last
expressed. The memory is part of a run's checkpoint, so `--resume` and an environment both
rebuild exactly the same observations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from ..world import checks
from ..world.actions import ACTION_FIELDS, OPTIONAL_ACTIONS, ROW_FIELDS, Actions, Observations
from ..world.population import Role

#: bumped whenever a role's observation or action layout changes, so old checkpoints fail
#: with a clear error instead of acting on misread inputs
SPEC_VERSION = 1


@dataclass(frozen=True)
class MemoryField:
    """One per-user array of a role's memory, and the values it may hold (checked when a
    checkpoint is loaded)."""

    name: str
    dtype: type
    low: float | None = None
    high: float | None = None


class RoleMemory:
    """Per-user memory of a role's agents, indexed by user id: one array per declared
    `MemoryField`, read and written as attributes (``memory.last_stance[users]``)."""

    def __init__(self, fields: tuple[MemoryField, ...], arrays: dict[str, np.ndarray]):
        object.__setattr__(self, "fields", tuple(fields))
        object.__setattr__(self, "_arrays", dict(arrays))

    @classmethod
    def empty(cls, fields: tuple[MemoryField, ...], n_users: int) -> RoleMemory:
        return cls(fields, {f.name: np.zeros(n_users, f.dtype) for f in fields})

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = object.__getattribute__(self, "_arrays")
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value) -> None:
        if name not in self._arrays:
            raise AttributeError(f"the role's memory has no field {name!r}")
        self._arrays[name] = np.asarray(value, self._arrays[name].dtype)

    def copy(self) -> RoleMemory:
        return RoleMemory(self.fields, {k: v.copy() for k, v in self._arrays.items()})

    def state(self) -> dict[str, np.ndarray]:
        return dict(self._arrays)

    def checked(self, arrays: dict[str, np.ndarray], prefix: str = "") -> dict[str, np.ndarray]:
        """The arrays a checkpoint holds for this memory (under ``prefix + name``), each
        checked for dtype, shape and the declared range; a ``ValueError`` naming the
        first that is wrong. Nothing changes here: pass the result to `load_state`."""
        out = {}
        for f in self.fields:
            old = self._arrays[f.name]
            name = prefix + f.name
            value = checks.array(arrays, name, old.dtype, old.shape)
            if f.low is not None or f.high is not None:
                checks.within(name, value, f.low, f.high)
            elif value.dtype.kind == "f":
                checks.within(name, value)  # finite
            out[f.name] = value
        return out

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        for f in self.fields:
            if f.name in arrays:
                self._arrays[f.name] = np.array(arrays[f.name], self._arrays[f.name].dtype)


@dataclass(frozen=True)
class RewardContext:
    """What a role's reward reads about the step that just ended, for its agents
    ``users``: their memory, the step's events and the world (read only: a reward changes
    nothing but the role's own bookkeeping in ``memory``)."""

    users: np.ndarray  # int64: the agents being rewarded
    memory: RoleMemory
    events: Any  # the step's StepEvents
    world: Any  # the World, after the step
    step: int  # the step that just ended

    @property
    def followers(self) -> np.ndarray:
        """int64, one per user in ``users``: their follower counts now."""
        return self.world.graph.in_deg[self.users].astype(np.int64)


class LearnerRole(ABC):
    """One role's definition for learners: spaces, observation, action, reward, memory
    and the per-agent columns an episode record keeps."""

    name: str
    world_role: Role
    action_spaces: tuple[str, ...]
    #: the per-user memory the role keeps between decisions
    memory_fields: tuple[MemoryField, ...] = ()
    #: the fields of `Actions` a learner's choice sets; the rest of its row is what the
    #: scenario's policy for the role would have done (all fields: the learner does
    #: nothing but what it chose)
    decides: tuple[str, ...] = ACTION_FIELDS
    #: per-agent values an episode record keeps (at the start and at the end), reported
    #: by `info`
    info_columns: tuple[str, ...] = ()
    #: what the reward counts, in a few words (tables and plots name it)
    reward_label: str = "reward"
    #: what its errors call an action id (the candidate's are intents)
    action_word: str = "actions"

    def __init__(self, action_space: str = "limited", self_observation: bool = True):
        if action_space not in self.action_spaces:
            raise ValueError(
                f"action_space: {action_space!r} is not one of {', '.join(self.action_spaces)}"
            )
        self.action_space_name = action_space
        self.self_observation = bool(self_observation)

    def new_memory(self, n_users: int) -> RoleMemory:
        return RoleMemory.empty(self.memory_fields, n_users)

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

    def checked_actions(self, actions, rows: np.ndarray) -> np.ndarray:
        """``actions`` as int64 ids, one per row and each in [0, n_actions); a
        ``ValueError`` saying what is wrong otherwise."""
        actions = np.asarray(actions, np.int64).reshape(-1)
        word = self.action_word
        if actions.shape[0] != rows.shape[0]:
            raise ValueError(f"{actions.shape[0]} {word} for {rows.shape[0]} {self.name}s")
        if actions.size and (actions.min() < 0 or actions.max() >= self.n_actions):
            raise ValueError(f"{self.name} {word} must lie in [0, {self.n_actions})")
        return actions

    @abstractmethod
    def to_actions(
        self, obs: Observations, rows: np.ndarray, actions: np.ndarray, memory: RoleMemory
    ) -> Actions:
        """Platform actions of these rows for the chosen action ids; updates memory."""

    @abstractmethod
    def reward(self, context: RewardContext) -> np.ndarray:
        """float64, one per ``context.users``: what each agent earned in the step that
        just ended, by the role's own incentive (followers, feedback, votes, spread)."""

    def begin_scoring(self, users: np.ndarray, world, memory: RoleMemory) -> None:
        """Make ``memory`` ready to reward ``users`` from the world as it is now, for
        agents that have not decided through the role (a scripted policy's users, scored
        the learners' way by `experiments.substitution`). Nothing to do by default."""
        return None

    @abstractmethod
    def info(self, users: np.ndarray, world, memory: RoleMemory) -> dict[str, np.ndarray]:
        """One array per name in `info_columns`, one value per user in ``users``."""

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


def feed_features(obs: Observations, rows: np.ndarray) -> np.ndarray:
    """float32 (len(rows), 3), what a feed says at a glance: the mean stance of its items,
    how divided they are (``2 × std - 1``: -1 unanimous) and how full it is (the share of
    slots holding an item, scaled to [-1, 1])."""
    shown = obs.shown[rows]
    stance = obs.feed_stance[rows]
    count = shown.sum(axis=1)
    mean = np.where(count > 0, (stance * shown).sum(axis=1) / np.maximum(count, 1), 0.0)
    square = np.where(count > 0, (stance * stance * shown).sum(axis=1) / np.maximum(count, 1), 0)
    std = np.sqrt(np.maximum(square - mean * mean, 0.0))
    fill = 2.0 * count / max(shown.shape[1], 1) - 1.0
    return np.clip(np.column_stack([mean, 2.0 * std - 1.0, fill]), -1, 1).astype(np.float32)


#: the names of `feed_features`' columns, the start of every role's observation so far
FEED_FEATURES = ["feed_stance", "feed_spread", "feed_fill"]
#: the feed part of the observation of a user who read nothing (no items, no spread)
EMPTY_FEED = (0.0, -1.0, -1.0)


def bins3(x: np.ndarray, edge: float) -> np.ndarray:
    """0 below -edge, 1 in between, 2 above +edge."""
    return (x > -edge).astype(np.int64) + (x > edge)


def merge_rows(
    base: Actions, rows: np.ndarray, sub: Actions, decided: tuple[str, ...] = ACTION_FIELDS
) -> Actions:
    """``base`` with the ``decided`` fields of its rows ``rows`` replaced by the rows of
    ``sub``; the other fields keep ``base``'s values."""
    out = {name: getattr(base, name) for name in ACTION_FIELDS}
    # the optional actions (quote, mute, ...) a learner never decides: the base's
    out.update({name: getattr(base, name) for name in OPTIONAL_ACTIONS})
    for name in ROW_FIELDS:
        if name in decided:
            arr = getattr(base, name).copy()
            arr[rows] = getattr(sub, name)
            out[name] = arr
    for name in ("follow", "unfollow"):
        if name not in decided:
            continue
        a, b = getattr(base, name), getattr(sub, name)
        width = max(a.shape[1], b.shape[1])
        arr = np.full((a.shape[0], width), -1, np.int64)
        arr[:, : a.shape[1]] = a
        arr[rows] = -1
        arr[rows, : b.shape[1]] = b
        out[name] = arr
    for name, like in (("post_text", "post"), ("reply_text", "reply")):
        a, b = getattr(base, name), getattr(sub, name)
        if name not in decided or (a is None and b is None):
            continue
        arr = a.copy() if a is not None else np.full(getattr(base, like).shape, None, object)
        arr[rows] = b if b is not None else None
        out[name] = arr
    a, b = base.position, sub.position
    if "position" in decided and (a is not None or b is not None):
        arr = a.copy() if a is not None else np.full(base.post.shape, np.nan)
        arr[rows] = b if b is not None else np.nan
        out["position"] = arr
    return Actions(**out)
