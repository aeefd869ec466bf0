"""The influencer environments (Jin & Guo; MODELS.md section 2), in each ecosystem's way:

* ``gymnasium.make("townsquare/Influencer-v0", scenario=..., action_space="limited",
  self_observation=True)`` — one learning influencer (`InfluencerEnv`);
* ``parallel_env(...)`` — every influencer of the scenario learns (PettingZoo
  ``ParallelEnv``), and ``env(...)`` is its AEC form, as PettingZoo environments have:
  the one-role case of `platform_v0` (``learners={"influencer": "all"}``).

With no scenario they use the small built-in ``influencer_env`` (500 users, three
influencers placed at random, 50 steps, offline text), which steps in about a
millisecond. Observation, actions and reward are `townsquare.roles.InfluencerRole`'s.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec

from ..roles import InfluencerRole
from .core import ScenarioLike
from .parallel import PlatformParallelEnv, aec_env
from .single import RoleEnv

DEFAULT_SCENARIO = "influencer_env"


class InfluencerEnv(RoleEnv):
    """One learning influencer (the scenario's first influencer by default)."""

    def __init__(
        self,
        scenario: ScenarioLike = None,
        action_space: str = "limited",
        self_observation: bool = True,
        learner: int = 0,
        render_mode: str | None = None,
    ):
        super().__init__(
            InfluencerRole(action_space, self_observation),
            scenario,
            DEFAULT_SCENARIO,
            learner=learner,
            render_mode=render_mode,
        )


def parallel_env(
    scenario: ScenarioLike = None,
    action_space: str = "limited",
    self_observation: bool = True,
    render_mode: str | None = None,
) -> PlatformParallelEnv:
    """Every influencer of the scenario learns."""
    return PlatformParallelEnv(
        [(InfluencerRole(action_space, self_observation), "all")],
        scenario,
        DEFAULT_SCENARIO,
        render_mode=render_mode,
        name="townsquare_influencer_v0",
    )


def raw_env(**kwargs):
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs):
    """The AEC form of `parallel_env`, with PettingZoo's usual safety wrappers."""
    return aec_env(parallel_env(**kwargs))
