"""Gymnasium view of one learner of a role in a running world."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ..roles import LearnerRole
from .core import LearnerGroup, Pick, PlatformWorld, ScenarioLike, env_scenario


def shown(value) -> str:
    """A column's value as `render` prints it: counts padded, shares to three digits."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:>6}"
    return f"{value:+.3f}"


class RoleEnv(gym.Env):
    """One learner among the users of ``role`` (the ``learner``-th in user-id order);
    everyone else keeps the scenario's policies. An episode is one world, built afresh at
    every reset (from the reset seed, or a new seed drawn from the environment's
    generator), and lasts ``scenario.steps`` steps; it ends early if the learner is
    suspended by the platform's detector.

    ``info`` carries ``step``, the role's own columns (`LearnerRole.info_columns`, e.g.
    the influencer's ``followers`` and ``leader``), each also as ``start_NAME`` (its value
    at the episode's reset), and, with a text backend, ``post_text``.
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
        if isinstance(learner, bool) or not isinstance(learner, int | np.integer) or learner < 0:
            raise ValueError(f"learner: {learner!r} is not a user index (0, 1, ...)")
        group = LearnerGroup(role, Pick(int(learner), 1))
        self.core = PlatformWorld(self.scenario, [group])
        self.observation_space = role.observation_space()
        self.action_space = role.action_space()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: {render_mode!r} is not one of 'ansi'")
        self.render_mode = render_mode
        self._last_obs = np.zeros(role.obs_size, np.float32)
        self._last_text = ""
        self._start: dict = {}

    @property
    def learner_id(self) -> int:
        """The learner's user id in the current world."""
        return int(self.core.groups[self.role.name].users[0])

    def _columns(self) -> dict:
        return {k: v[0].item() for k, v in self.core.info(self.role.name).items()}

    def _info(self) -> dict:
        info = {"step": int(self.core.world.t), **self._columns(), **self._start}
        if self.core.text is not None:
            info["post_text"] = self._last_text
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.core.reset(int(self.np_random.integers(2**31 - 1)))
        self._last_text = ""
        self._start = {f"start_{k}": v for k, v in self._columns().items()}
        self._last_obs = self.core.observe(self.role.name)[0]
        return self._last_obs.copy(), self._info()

    def step(self, action):
        if self.core.world is None:
            raise RuntimeError("call reset() before step()")
        if self.core.done:
            raise RuntimeError("the episode is over: call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        rewards, texts = self.core.advance({self.role.name: [int(action)]})
        self._last_text = texts.get(self.learner_id, "")
        terminated = bool(self.core.suspended(self.role.name)[0])
        truncated = not terminated and self.core.world.t >= self.core.horizon
        if not (terminated or truncated):
            self._last_obs = self.core.observe(self.role.name)[0]
        reward = float(rewards[self.role.name][0])
        return self._last_obs.copy(), reward, terminated, truncated, self._info()

    def render(self):
        if self.render_mode != "ansi" or self.core.world is None:
            return None
        columns = "  ".join(f"{k} {shown(v)}" for k, v in self._columns().items())
        line = f"step {self.core.world.t:>4}  {columns}"
        if self._last_text:
            line += f"  {self._last_text}"
        return line

    def close(self):
        self.core.close()
