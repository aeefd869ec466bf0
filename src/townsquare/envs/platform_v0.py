"""The platform with several groups of learners at once (MODELS.md sections 1 and 2):

* ``parallel_env(scenario=None, learners=None, **role_options)`` — a PettingZoo
  ``ParallelEnv``; ``env(...)`` is its AEC form, as PettingZoo environments have.

``learners`` maps role names to ``"all"`` or a count (the role's first users in user-id
order), e.g. ``{"influencer": "all", "citizen": 50}`` (the default). Agent ids name their
role and index (``influencer_2``, ``citizen_17``) and each agent has its role's
observation and action spaces (`townsquare.roles`). ``role_options`` give a role's
settings by its name, e.g. ``influencer={"action_space": "full"}`` or
``citizen={"self_observation": False}``.

With no scenario it uses the small built-in ``influencer_env`` (500 users, three
influencers placed at random, 50 steps, offline text). `influencer_v0` is the case of one
role: ``learners={"influencer": "all"}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pettingzoo.utils import parallel_to_aec

from ..roles import ROLES, make_role
from .core import ScenarioLike
from .parallel import PlatformParallelEnv, aec_env

DEFAULT_SCENARIO = "influencer_env"
DEFAULT_LEARNERS = {"influencer": "all", "citizen": 50}
#: what ``role_options`` may set for a role
ROLE_OPTIONS = ("action_space", "self_observation")


def parallel_env(
    scenario: ScenarioLike = None,
    learners: Mapping[str, str | int] | None = None,
    render_mode: str | None = None,
    **role_options: Mapping,
) -> PlatformParallelEnv:
    """Learners of every role in ``learners`` in one world (see the module docstring)."""
    learners = dict(DEFAULT_LEARNERS if learners is None else learners)
    unknown = sorted(set(learners) - set(ROLES))
    if unknown:
        raise ValueError(
            f"learners: {', '.join(map(repr, unknown))} cannot learn "
            f"(learnable roles: {', '.join(ROLES)})"
        )
    stray = sorted(set(role_options) - set(learners))
    if stray:
        raise ValueError(
            f"options for {', '.join(map(repr, stray))}, which is not among the learners"
        )
    groups = []
    for name, choice in learners.items():
        options = role_options.get(name) or {}
        if not isinstance(options, Mapping):
            raise ValueError(f"{name}: options must be a dict, e.g. {name}={{'action_space': ...}}")
        options = dict(options)
        bad = sorted(set(options) - set(ROLE_OPTIONS))
        if bad:
            raise ValueError(
                f"{name}: unknown option {', '.join(map(repr, bad))} "
                f"(known: {', '.join(ROLE_OPTIONS)})"
            )
        groups.append((make_role(name, **options), choice))
    return PlatformParallelEnv(groups, scenario, DEFAULT_SCENARIO, render_mode=render_mode)


def raw_env(**kwargs):
    return parallel_to_aec(parallel_env(**kwargs))


def env(**kwargs):
    """The AEC form of `parallel_env`, with PettingZoo's usual safety wrappers."""
    return aec_env(parallel_env(**kwargs))
