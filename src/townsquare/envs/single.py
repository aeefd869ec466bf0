"""Gymnasium view of one learner of a role in a running world."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ..roles import LearnerRole
from .core import RoleWorld, ScenarioLike, env_scenario


class RoleEnv(gym.Env):
    """One learner among the users of ``role``; everyone else keeps the scenario's
    policies. An episode is one world, built afresh at every reset (from the reset seed,
    or a new seed drawn from the environment's generator), and lasts ``scenario.steps``
    steps; it ends early if the learner is suspended by the platform's detector.

    ``info`` carries ``followers``, ``start_followers`` (at the episode's reset), ``step``,
    ``leader`` (whether the learner is the
    world's most-followed user) and, with a text backend, ``post_text``.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        role: LearnerRole,
        scenario: ScenarioLike,
        default_scenario: str,
        learner: int = 0,
        render_mode: str | None = None,
    ):
        self.role = role
        self.scenario = env_scenario(scenario, default_scenario)
        self.core = RoleWorld(self.scenario, role, learners=learner)
        self.observation_space = role.observation_space()
        self.action_space = role.action_space()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: {render_mode!r} is not one of 'ansi'")
        self.render_mode = render_mode
        self._last_obs = np.zeros(role.obs_size, np.float32)
        self._last_text = ""
        self._start_followers = 0

    def _info(self) -> dict:
        core = self.core
        info = {
            "followers": int(core.followers[0]),
            "start_followers": self._start_followers,
            "step": int(core.world.t),
            "leader": bool(core.leader()[0]),
        }
        if core.text is not None:
            info["post_text"] = self._last_text
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.core.reset(int(self.np_random.integers(2**31 - 1)))
        self._last_text = ""
        self._start_followers = int(self.core.followers[0])
        self._last_obs = self.core.observe()[0]
        return self._last_obs.copy(), self._info()

    def step(self, action):
        if self.core.world is None:
            raise RuntimeError("call reset() before step()")
        if self.core.done:
            raise RuntimeError("the episode is over: call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        reward, texts = self.core.advance([int(action)])
        self._last_text = texts.get(int(self.core.learners[0]), "")
        terminated = bool(self.core.suspended[0])
        truncated = not terminated and self.core.world.t >= self.core.horizon
        if not (terminated or truncated):
            self._last_obs = self.core.observe()[0]
        return self._last_obs.copy(), float(reward[0]), terminated, truncated, self._info()

    def render(self):
        if self.render_mode != "ansi" or self.core.world is None:
            return None
        info = self._info()
        line = f"step {info['step']:>4}  followers {info['followers']:>6}"
        if self._last_text:
            line += f"  {self._last_text}"
        return line

    def close(self):
        self.core.close()
