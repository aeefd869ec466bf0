"""PettingZoo view of several learners of a role in a running world."""

from __future__ import annotations

import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from ..roles import LearnerRole
from .core import RoleWorld, ScenarioLike, env_scenario


class RoleParallelEnv(ParallelEnv):
    """Every user of ``role`` is a learner (agents ``influencer_0``, ``influencer_1``, ...
    in user-id order); everyone else keeps the scenario's policies. An agent whose account
    is suspended terminates; all truncate after ``scenario.steps`` steps."""

    metadata = {"render_modes": ["ansi"], "name": "townsquare_role_v0", "is_parallelizable": True}

    def __init__(
        self,
        role: LearnerRole,
        scenario: ScenarioLike,
        default_scenario: str,
        render_mode: str | None = None,
    ):
        self.role = role
        self.scenario = env_scenario(scenario, default_scenario)
        self.core = RoleWorld(self.scenario, role, learners="all")
        self.metadata = {**self.metadata, "name": f"townsquare_{role.name}_v0"}
        count = self._count_learners()
        self.possible_agents = [f"{role.name}_{i}" for i in range(count)]
        self.agents: list[str] = []
        self.render_mode = render_mode
        self._np_random, _ = seeding.np_random(None)
        self._spaces_obs = {a: role.observation_space() for a in self.possible_agents}
        self._spaces_act = {a: role.action_space() for a in self.possible_agents}

    def _count_learners(self) -> int:
        sc = self.scenario
        count = getattr(sc.roles, self.role.name).count
        if count < 1:
            raise ValueError(f"roles.{self.role.name}.count: the parallel env needs learners")
        return count

    def observation_space(self, agent):
        # one space object per agent, as PettingZoo expects (seeded once, sampled often)
        return self._spaces_obs[agent]

    def action_space(self, agent):
        return self._spaces_act[agent]

    def _observations(self) -> dict:
        vectors = self.core.observe()
        return {a: vectors[self._index[a]] for a in self.agents}

    def _infos(self) -> dict:
        followers = self.core.followers
        leader = self.core.leader()
        return {
            a: {"followers": int(followers[self._index[a]]), "leader": bool(leader[self._index[a]])}
            for a in self.agents
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        self.core.reset(int(self._np_random.integers(2**31 - 1)))
        if self.core.learners.size != len(self.possible_agents):
            raise ValueError(
                f"the world has {self.core.learners.size} {self.role.name} users, "
                f"expected {len(self.possible_agents)}"
            )
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos()

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("call reset() before step(); the episode is over")
        unknown = set(actions) - set(self.agents)
        if unknown:
            raise ValueError(f"actions for agents not in the episode: {sorted(unknown)}")
        # agents without an action (suspended ones) keep 0: their rows are never active
        chosen = np.zeros(len(self.possible_agents), np.int64)
        for agent, action in actions.items():
            if not self._spaces_act[agent].contains(action):
                raise ValueError(f"{agent}: action {action!r} is not in {self._spaces_act[agent]}")
            chosen[self._index[agent]] = int(action)
        reward, _ = self.core.advance(chosen)
        suspended = self.core.suspended
        over = self.core.world.t >= self.core.horizon
        live = list(self.agents)
        terminations = {a: bool(suspended[self._index[a]]) for a in live}
        truncations = {a: over and not terminations[a] for a in live}
        rewards = {a: float(reward[self._index[a]]) for a in live}
        # at the end of an episode the last feeds read stand in for the next ones
        obs = self._observations()
        infos = self._infos()
        self.agents = [a for a in live if not (terminations[a] or truncations[a])]
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode != "ansi" or not self.agents:
            return None
        followers = self.core.followers
        return "  ".join(f"{a}: {followers[self._index[a]]}" for a in self.agents)

    def close(self):
        self.core.close()
