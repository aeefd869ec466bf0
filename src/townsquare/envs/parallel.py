"""PettingZoo view of several groups of learners, one per role, in a running world."""

from __future__ import annotations

import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv
from pettingzoo.utils import parallel_to_aec, wrappers

from ..build import build_world
from ..roles import LearnerRole
from .core import LearnerGroup, Pick, PlatformWorld, ScenarioLike, env_scenario
from .single import shown


class PlatformParallelEnv(ParallelEnv):
    """Learners of one or more roles in one world. ``learners`` maps each learning role
    (its `LearnerRole`) to ``"all"`` or a count: the role's first users in user-id order.
    Agents are named by role and index, ``influencer_0``, ``citizen_17``, ..., and each has
    its role's spaces; everyone else keeps the scenario's policies. An agent whose account
    is suspended terminates; all truncate after ``scenario.steps`` steps.

    ``infos`` carry each agent's user id (``user``), its role's columns
    (`LearnerRole.info_columns`, e.g. the influencer's ``followers`` and ``leader``) and,
    with a text backend, ``post_text``: the words of what it wrote in the step ("" if
    nothing).
    """

    metadata = {
        "render_modes": ["ansi"],
        "name": "townsquare_platform_v0",
        "is_parallelizable": True,
    }

    def __init__(
        self,
        learners: list[tuple[LearnerRole, str | int]],
        scenario: ScenarioLike,
        default_scenario: str,
        render_mode: str | None = None,
        name: str = "townsquare_platform_v0",
    ):
        self.scenario = env_scenario(scenario, default_scenario)
        groups = [LearnerGroup(role, Pick.of(choice, role.name)) for role, choice in learners]
        self.core = PlatformWorld(self.scenario, groups)
        self.roles = {g.name: g.role for g in groups}
        self.metadata = {**self.metadata, "name": name}
        counts = self._count_learners(groups)
        self.possible_agents = [f"{g.name}_{i}" for g in groups for i in range(counts[g.name])]
        # each agent: its role and its index among the role's learners
        self._where = {f"{g.name}_{i}": (g.name, i) for g in groups for i in range(counts[g.name])}
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: {render_mode!r} is not one of 'ansi'")
        self.agents: list[str] = []
        self.render_mode = render_mode
        self._np_random, _ = seeding.np_random(None)
        self._spaces_obs = {
            a: self.roles[r].observation_space() for a, (r, _) in self._where.items()
        }
        self._spaces_act = {a: self.roles[r].action_space() for a, (r, _) in self._where.items()}

    def _count_learners(self, groups: list[LearnerGroup]) -> dict[str, int]:
        # PettingZoo needs the agents before the first reset: a world of the scenario's
        # own seed says how many users each role has (the same in every world of the
        # scenario, which only the seed changes)
        world, _ = build_world(self.scenario)
        counts = {}
        for g in groups:
            users = world.population.ids_of(g.role.world_role)
            counts[g.name] = int(g.pick.select(users, g.name).size)
        return counts

    def observation_space(self, agent):
        # one space object per agent, as PettingZoo expects (seeded once, sampled often)
        return self._spaces_obs[agent]

    def action_space(self, agent):
        return self._spaces_act[agent]

    def _observations(self) -> dict:
        vectors = {name: self.core.observe(name) for name in self.roles}
        return {a: vectors[self._where[a][0]][self._where[a][1]] for a in self.agents}

    def _infos(self, agents: list[str], texts: dict[int, str] | None = None) -> dict:
        columns = {name: self.core.info(name) for name in self.roles}
        out = {}
        for a in agents:
            role, i = self._where[a]
            user = int(self.core.groups[role].users[i])
            info = {"user": user}
            info.update({k: v[i].item() for k, v in columns[role].items()})
            if self.core.text is not None:
                info["post_text"] = (texts or {}).get(user, "")
            out[a] = info
        return out

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        self.core.reset(int(self._np_random.integers(2**31 - 1)))
        for name, group in self.core.groups.items():
            expected = sum(1 for r, _ in self._where.values() if r == name)
            if group.users.size != expected:
                raise ValueError(
                    f"the world has {group.users.size} {name} learners, expected {expected}"
                )
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos(self.agents)

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("call reset() before step(); the episode is over")
        unknown = set(actions) - set(self.agents)
        if unknown:
            raise ValueError(f"actions for agents not in the episode: {sorted(unknown)}")
        # agents that left the episode (suspended ones) keep 0: their rows are never active
        chosen = {name: np.zeros(g.users.size, np.int64) for name, g in self.core.groups.items()}
        for agent, action in actions.items():
            if not self._spaces_act[agent].contains(action):
                raise ValueError(f"{agent}: action {action!r} is not in {self._spaces_act[agent]}")
            role, i = self._where[agent]
            chosen[role][i] = int(action)
        missing = [a for a in self.agents if a not in actions]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise ValueError(f"no action for agents in the episode: {shown}")
        rewards_by_role, texts = self.core.advance(chosen)
        suspended = {name: self.core.suspended(name) for name in self.roles}
        over = self.core.world.t >= self.core.horizon
        live = list(self.agents)
        terminations = {a: bool(suspended[self._where[a][0]][self._where[a][1]]) for a in live}
        truncations = {a: over and not terminations[a] for a in live}
        rewards = {a: float(rewards_by_role[self._where[a][0]][self._where[a][1]]) for a in live}
        # at the end of an episode the last feeds read stand in for the next ones
        obs = self._observations()
        infos = self._infos(live, texts)
        self.agents = [a for a in live if not (terminations[a] or truncations[a])]
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode != "ansi" or not self.agents:
            return None
        infos = self._infos(self.agents)
        parts = []
        for a in self.agents:
            columns = ", ".join(
                f"{k} {shown(v).strip()}"
                for k, v in infos[a].items()
                if k not in ("user", "post_text")
            )
            parts.append(f"{a}: {columns}")
        return "  ".join(parts)

    def close(self):
        self.core.close()


def aec_env(parallel: ParallelEnv):
    """The AEC form of a parallel environment, with PettingZoo's usual safety wrappers:
    what each environment module's ``env()`` returns."""
    return wrappers.OrderEnforcingWrapper(
        wrappers.AssertOutOfBoundsWrapper(parallel_to_aec(parallel))
    )
