"""A running world seen from the learners of one role: the shared core of the Gymnasium
and PettingZoo environments.

The world is built from a scenario by `build_world`, exactly as `townsquare run` builds
it; the learners are some of the role's users (always active, so every step is a
decision), and everyone else — the role's other users included — keeps the policy the
scenario gives them. A step is the World's own step split in two: `begin_step` builds the
feeds the learners observe, their chosen actions are turned into platform actions by the
role module, and `finish_step` applies everything.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..build import build_world
from ..config import Scenario, load_scenario, validate
from ..roles import LearnerRole, RewardContext, RoleMemory, merge_rows
from ..world.actions import Actions, Observations, Policy
from ..world.posts import PostKind

ScenarioLike = str | Path | dict | Scenario | None


def env_scenario(scenario: ScenarioLike, default: str) -> Scenario:
    """A scenario from a built-in name, a YAML path, a dict or a `Scenario`; ``None``
    gives the environment's small built-in one."""
    if scenario is None:
        scenario = default
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return validate(scenario, "scenario")
    return load_scenario(str(scenario))


def rows_among(users: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``users`` whose id is in ``sorted_ids``, and each one's index there."""
    rows = np.flatnonzero(np.isin(users, sorted_ids))
    return rows, np.searchsorted(sorted_ids, users[rows])


class LearnerSlot:
    """The role's policy while some of its users are learners: the scenario's policy for
    everyone, then the learners' rows replaced by the actions the environment was given."""

    def __init__(self, background: Policy, role: LearnerRole, memory: RoleMemory):
        self.background = background
        self.role = role
        self.memory = memory
        # this step's decisions: sorted learner ids and their action ids
        self.pending = (np.zeros(0, np.int64), np.zeros(0, np.int64))

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        acts = self.background.act(obs, rng)
        learners, chosen = self.pending
        rows, where = rows_among(obs.users, learners)
        if rows.size == 0:
            return acts
        sub = self.role.to_actions(obs, rows, chosen[where], self.memory)
        return merge_rows(acts, rows, sub)

    def __getattr__(self, name: str) -> Any:
        # metrics(), learn(), state() of the scenario's policy still reach the World
        if name in ("background", "role", "memory", "pending"):
            raise AttributeError(name)
        return getattr(self.background, name)


class RoleWorld:
    """A world with learners of one role; `reset`, then `observe` / `advance` per step."""

    def __init__(self, scenario: Scenario, role: LearnerRole, learners: str | int = "all"):
        self.scenario = scenario
        self.role = role
        self.learner_choice = learners
        self.horizon = scenario.steps
        if self.horizon < 1:
            raise ValueError("scenario.steps: an episode needs at least one step")
        self.world = None
        self.learners = np.zeros(0, np.int64)
        self.text = None

    def reset(self, seed: int) -> None:
        sc = self.scenario.model_copy(update={"seed": int(seed)})
        world, sc = build_world(sc)
        users = world.population.ids_of(self.role.world_role)
        if users.size == 0:
            raise ValueError(
                f"the scenario has no {self.role.name} users (roles.{self.role.name}.count)"
            )
        if self.learner_choice == "all":
            learners = users
        else:
            index = int(self.learner_choice)
            if not 0 <= index < users.size:
                raise ValueError(
                    f"learner {index}: the scenario has {users.size} {self.role.name} users"
                )
            learners = users[index : index + 1]
        # learners decide every step
        world.population.activity[learners] = 1.0
        self.memory = RoleMemory.empty(world.n)
        self.slot = LearnerSlot(world.policies[self.role.world_role], self.role, self.memory)
        world.policies[self.role.world_role] = self.slot
        self.world, self.learners = world, learners
        # a new layer per world: its generator is seeded by the world's seed
        if self.text is not None:
            self.text.close()
        self.text = self._text_layer(sc)
        self._observations = world.begin_step()

    def _text_layer(self, sc: Scenario):
        if sc.text.backend == "none":
            return None
        from ..text.layer import TextLayer

        cfg = sc.text if sc.text.cache else sc.text.model_copy(update={"cache": ":memory:"})
        return TextLayer(cfg, ".", sc.seed)

    @property
    def followers(self) -> np.ndarray:
        return self.world.graph.in_deg[self.learners].astype(np.int64)

    @property
    def suspended(self) -> np.ndarray:
        return self.world.population.suspended[self.learners]

    def observe(self) -> np.ndarray:
        """float32 (learners, obs_size): what each learner reads this step."""
        out = self.role.observe_absent(self.learners, self.followers, self.memory)
        obs = self._observations.get(self.role.world_role)
        if obs is not None:
            rows, where = rows_among(obs.users, self.learners)
            out[where] = self.role.observe(obs, rows, self.memory)
        return out

    def advance(self, actions: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
        """Apply one action id per learner (in `learners` order; learners no longer in
        the episode are ignored) and finish the step; the next step's feeds are built
        unless the episode is over. Returns each learner's reward, as the role defines
        it, and the texts of the learners' new posts (user id -> text)."""
        self.slot.pending = (self.learners, np.asarray(actions, np.int64))
        events = self.world.finish_step()
        self.slot.pending = (self.learners[:0], self.learners[:0])
        reward = self.role.reward(
            RewardContext(self.learners, self.memory, self.followers, events, self.world)
        )
        texts: dict[int, str] = {}
        if self.text is not None:
            mine = np.isin(events.post_author, self.learners)
            if mine.any():
                sub = SimpleNamespace(
                    post_id=events.post_id[mine],
                    post_stance=events.post_stance[mine],
                    post_topic=events.post_topic[mine],
                    post_kind=events.post_kind[mine],
                    post_parent=events.post_parent[mine],
                )
                written = self.text.texts_for(sub, self.world.posts, self.world.graph.in_deg)
                for author, kind, text in zip(
                    events.post_author[mine].tolist(), sub.post_kind.tolist(), written, strict=True
                ):
                    if kind != PostKind.REPOST:
                        texts[author] = text
        if not self.done:
            self._observations = self.world.begin_step()
        return reward, texts

    @property
    def done(self) -> bool:
        return self.world.t >= self.horizon or bool(self.suspended.all())

    def leader(self) -> np.ndarray:
        """bool per learner: whether it is the most-followed user of the world."""
        return self.followers >= self.world.graph.in_deg.max()

    def close(self) -> None:
        if self.text is not None:
            self.text.close()
            self.text = None
