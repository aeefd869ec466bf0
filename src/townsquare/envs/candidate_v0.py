"""The candidate environments (elections; MODELS.md section 4), in each ecosystem's way:

* ``gymnasium.make("townsquare/Candidate-v0", scenario=...)`` — one learning candidate
  against the scenario's other candidates (`CandidateEnv`);
* ``parallel_env(...)`` — every candidate of the scenario learns, each for its own votes
  (PettingZoo ``ParallelEnv``, competitive), and ``env(...)`` is its AEC form.

With no scenario they use the small built-in ``candidate_env`` (1,000 users, two
candidates, a poll every 5 steps, the election at the end of its 40 steps). Observation,
intents and reward are `townsquare.roles.CandidateRole`'s.
"""

from __future__ import annotations

from pettingzoo.utils import parallel_to_aec

from ..roles import CandidateRole
from .core import ScenarioLike
from .parallel import PlatformParallelEnv, aec_env
from .single import RoleEnv

DEFAULT_SCENARIO = "candidate_env"


class CandidateEnv(RoleEnv):
    """One learning candidate (the scenario's first candidate by default)."""

    def __init__(
        self,
        scenario: ScenarioLike = None,
        learner: int = 0,
        render_mode: str | None = None,
    ):
        super().__init__(CandidateRole(), scenario, DEFAULT_SCENARIO, learner, render_mode)


def parallel_env(
    scenario: ScenarioLike = None, render_mode: str | None = None
) -> PlatformParallelEnv:
    """Every candidate of the scenario learns."""
    return PlatformParallelEnv(
        [(CandidateRole(), "all")],
        scenario,
        DEFAULT_SCENARIO,
        render_mode=render_mode,
        name="townsquare_candidate_v0",
    )


def raw_env(**kwargs):
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs):
    """The AEC form of `parallel_env`, with PettingZoo's usual safety wrappers."""
    return aec_env(parallel_env(**kwargs))
