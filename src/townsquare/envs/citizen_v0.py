"""The citizen environments (social reinforcement learning on the platform; MODELS.md
section 1), in each ecosystem's way:

* ``gymnasium.make("townsquare/Citizen-v0", scenario=..., self_observation=True)`` — one
  learning citizen among scripted ones (`CitizenEnv`);
* ``parallel_env(scenario=None, learners="all")`` — many citizens learn at once (the
  one-role case of `platform_v0`), and ``env(...)`` is its AEC form.

With no scenario they use the small built-in ``influencer_env`` (500 users, 50 steps).
Observation, actions and reward are `townsquare.roles.CitizenRole`'s: which side to
express on topic 0, or silence, rewarded by the feedback the post receives.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec

from ..roles import CitizenRole
from .core import ScenarioLike
from .parallel import PlatformParallelEnv, aec_env
from .single import RoleEnv

DEFAULT_SCENARIO = "influencer_env"


class CitizenEnv(RoleEnv):
    """One learning citizen (the scenario's first citizen by default)."""

    def __init__(
        self,
        scenario: ScenarioLike = None,
        action_space: str = "limited",
        self_observation: bool = True,
        learner: int = 0,
        render_mode: str | None = None,
    ):
        super().__init__(
            CitizenRole(action_space, self_observation),
            scenario,
            DEFAULT_SCENARIO,
            learner=learner,
            render_mode=render_mode,
        )


def parallel_env(
    scenario: ScenarioLike = None,
    learners: str | int = "all",
    action_space: str = "limited",
    self_observation: bool = True,
    render_mode: str | None = None,
) -> PlatformParallelEnv:
    """Citizens learn: all of them, or the first ``learners``."""
    return PlatformParallelEnv(
        [(CitizenRole(action_space, self_observation), learners)],
        scenario,
        DEFAULT_SCENARIO,
        render_mode=render_mode,
        name="townsquare_citizen_v0",
    )


def raw_env(**kwargs):
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs):
    """The AEC form of `parallel_env`, with PettingZoo's usual safety wrappers."""
    return aec_env(parallel_env(**kwargs))
