"""A running world seen from its learners: the shared core of the Gymnasium and
PettingZoo environments.

The world is built from a scenario by `build_world`, exactly as `townsquare run` builds
it. Learners come in groups, one per role (`LearnerGroup`): some of the role's users,
always active so every step is a decision; everyone else — the role's other users
included — keeps the policy the scenario gives them. A step is the World's own step split
in two: `begin_step` builds the feeds the learners observe, each group's chosen actions
are turned into platform actions by its role module, and `finish_step` applies
everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    everyone, then the fields the role decides (`LearnerRole.decides`) of the learners'
    rows replaced by the actions the environment was given."""

    #: the learners' rows are decided by the environment for the whole batch at once
    #: (never inherited from a rowwise background policy through __getattr__)
    rowwise = False

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
        return merge_rows(acts, rows, sub, self.role.decides)

    def __getattr__(self, name: str) -> Any:
        # metrics(), learn(), state() of the scenario's policy still reach the World
        if name in ("background", "role", "memory", "pending"):
            raise AttributeError(name)
        return getattr(self.background, name)


#: the scenario key that says how many users a role has
WHO_SETS = {
    "citizen": "users, less the other roles",
    "influencer": "roles.influencer.count",
    "candidate": "roles.candidate.count",
    "socialbot": "roles.socialbot.fraction",
}


@dataclass(frozen=True)
class Pick:
    """Which of a role's users learn, in user-id order: ``count`` of them from
    ``start`` (``count=None``: every one from ``start`` on)."""

    start: int = 0
    count: int | None = None

    @classmethod
    def of(cls, choice: str | int, role: str) -> Pick:
        """``"all"`` or a count (the role's first users), as `platform_v0` takes them."""
        if isinstance(choice, str) and choice == "all":
            return cls()
        if isinstance(choice, bool) or not isinstance(choice, int | np.integer):
            raise ValueError(f"learners[{role!r}]: {choice!r} is neither 'all' nor a count")
        if choice < 1:
            raise ValueError(f"learners[{role!r}]: {choice} learners; give at least one")
        return cls(0, int(choice))

    def select(self, users: np.ndarray, role: str) -> np.ndarray:
        if self.count is None:
            chosen = users[self.start :]
        else:
            chosen = users[self.start : self.start + self.count]
        if users.size == 0:
            raise ValueError(f"the scenario has no {role} users (set by {WHO_SETS[role]})")
        if self.start >= users.size or (self.count is not None and chosen.size < self.count):
            wanted = self.start + (self.count or 1)
            raise ValueError(
                f"learners: {wanted} {role} users needed; the scenario has {users.size} "
                f"{role} users"
            )
        return chosen


def check_learners(scenario: Scenario, role: LearnerRole, count: int) -> None:
    """A `ValueError` naming the scenario key to change unless a world of ``scenario``
    (its own seed) has ``count`` users of ``role`` (roles are drawn by the scenario's
    settings, so every seed of it has as many)."""
    world, _ = build_world(scenario)
    Pick(0, count).select(world.population.ids_of(role.world_role), role.name)


@dataclass
class LearnerGroup:
    """The learners of one role in the world being stepped."""

    role: LearnerRole
    pick: Pick
    users: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    memory: RoleMemory | None = None
    slot: LearnerSlot | None = None

    @property
    def name(self) -> str:
        return self.role.name


class PlatformWorld:
    """A world with groups of learners (one per role); `reset`, then `observe` /
    `advance` per step."""

    def __init__(self, scenario: Scenario, groups: list[LearnerGroup]):
        names = [g.name for g in groups]
        if not groups:
            raise ValueError("learners: name at least one role that learns")
        if len(set(names)) != len(names):
            raise ValueError(f"learners: a role is named twice ({', '.join(names)})")
        self.scenario = scenario
        self.groups = {g.name: g for g in groups}
        self.horizon = scenario.steps
        if self.horizon < 1:
            raise ValueError("scenario.steps: an episode needs at least one step")
        self.world = None
        self.text = None
        self.last_events = None  # the last step's StepEvents, for whoever wants a look

    def reset(self, seed: int) -> None:
        sc = self.scenario.model_copy(update={"seed": int(seed)})
        world, sc = build_world(sc)
        for group in self.groups.values():
            users = world.population.ids_of(group.role.world_role)
            group.users = group.pick.select(users, group.name)
            # learners decide every step
            world.population.activity[group.users] = 1.0
            world.population.visits[group.users] = 1.0
            group.memory = group.role.new_memory(world.n)
            group.slot = LearnerSlot(
                world.policies[group.role.world_role], group.role, group.memory
            )
            world.policies[group.role.world_role] = group.slot
        self.world = world
        # a new layer per world: its generator is seeded by the world's seed
        if self.text is not None:
            self.text.close()
        self.text = self._text_layer(sc)
        if self.text is not None:
            from ..build import give_text_to_policies

            give_text_to_policies(world, self.text)
        self._observations = world.begin_step()

    def _text_layer(self, sc: Scenario):
        if sc.text.backend == "none":
            return None
        from ..text.layer import TextLayer

        cfg = sc.text if sc.text.cache else sc.text.model_copy(update={"cache": ":memory:"})
        return TextLayer(cfg, ".", sc.seed)

    def followers(self, role: str) -> np.ndarray:
        return self.world.graph.in_deg[self.groups[role].users].astype(np.int64)

    def suspended(self, role: str) -> np.ndarray:
        return self.world.population.suspended[self.groups[role].users]

    def info(self, role: str) -> dict[str, np.ndarray]:
        """The role's per-agent columns (`LearnerRole.info_columns`) now."""
        g = self.groups[role]
        return g.role.info(g.users, self.world, g.memory)

    def observe(self, role: str) -> np.ndarray:
        """float32 (learners, obs_size): what each learner of ``role`` reads this step."""
        g = self.groups[role]
        out = g.role.observe_absent(g.users, self.followers(role), g.memory)
        obs = self._observations.get(g.role.world_role)
        if obs is not None:
            rows, where = rows_among(obs.users, g.users)
            out[where] = g.role.observe(obs, rows, g.memory)
        return out

    def advance(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        """Apply one action id per learner of each role (in its users' order; learners
        no longer in the episode are ignored) and finish the step; the next step's feeds
        are built unless the episode is over. Returns each role's rewards, as the role
        defines them, and the texts of the learners' new posts (user id -> text)."""
        for name, group in self.groups.items():
            group.slot.pending = (group.users, np.asarray(actions[name], np.int64))
        step = self.world.t
        events = self.last_events = self.world.finish_step()
        rewards = {}
        for name, group in self.groups.items():
            group.slot.pending = (group.users[:0], group.users[:0])
            context = RewardContext(group.users, group.memory, events, self.world, step)
            rewards[name] = group.role.reward(context)
        texts = self._texts(events) if self.text is not None else {}
        if not self.done:
            self._observations = self.world.begin_step()
        return rewards, texts

    def _texts(self, events) -> dict[int, str]:
        learners = np.concatenate([g.users for g in self.groups.values()])
        mine = np.isin(events.post_author, learners)
        if not mine.any():
            return {}
        sub = SimpleNamespace(
            post_id=events.post_id[mine],
            post_stance=events.post_stance[mine],
            post_topic=events.post_topic[mine],
            post_kind=events.post_kind[mine],
            post_parent=events.post_parent[mine],
        )
        written = self.text.texts_for(sub, self.world.posts, self.world.graph.in_deg)
        texts: dict[int, str] = {}
        for author, kind, text in zip(
            events.post_author[mine].tolist(), sub.post_kind.tolist(), written, strict=True
        ):
            if kind != PostKind.REPOST:
                texts[author] = text
        return texts

    @property
    def done(self) -> bool:
        over = self.world.t >= self.horizon
        return over or all(bool(self.suspended(name).all()) for name in self.groups)

    def close(self) -> None:
        if self.text is not None:
            self.text.close()
            self.text = None
