"""One policy line for every role: what ``roles.ROLE.policy`` may say, resolved in one
place.

A policy line is ``scripted`` (the designed baseline of `policies.scripted`) or a
checkpoint file from ``townsquare train`` (a Q-table ``.npz``/``.json`` or a PPO
``.safetensors``). Each kind of line lists the roles it can drive; any other pairing is
a one-line error naming the role and the value. New kinds (language-model and planner
policies) register here with a prefix, e.g. ``lm:...`` and ``planner:...``.

This module is imported by the scenario schema (`config`) to check a line's syntax, so it
imports nothing of townsquare at module level: a kind's factory imports what it needs
when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: files a role's ``policy`` line may name instead of ``scripted``
CHECKPOINT_SUFFIXES = (".npz", ".json", ".safetensors")

#: the roles of a scenario, in `Role` order
ROLE_NAMES = ("citizen", "influencer", "candidate", "socialbot")
#: the roles a checkpoint can drive: those with a learner definition (`roles.ROLES`,
#: which a test holds equal to this; named here so the schema imports nothing heavy)
LEARNABLE_ROLES = ("citizen", "influencer", "candidate", "socialbot")


@dataclass(frozen=True)
class PolicyRequest:
    """What a factory gets: the role, its scenario section, and the population size."""

    role: str
    config: Any
    n_users: int


@dataclass(frozen=True)
class PolicyKind:
    """One kind of policy line: which lines it takes, which roles it drives, how it is
    made."""

    name: str
    describe: str
    roles: tuple[str, ...]
    matches: Callable[[str], bool]
    make: Callable[[PolicyRequest], Any]


def _scripted(request: PolicyRequest):
    from .scripted import SCRIPTED

    return SCRIPTED[request.role](request.config)


def _checkpoint(request: PolicyRequest):
    from .learned import learned_policy
    from .scripted import SCRIPTED

    # what a role's checkpoint does not decide (the citizen decides only its post) is the
    # role's scripted policy, with the scenario's settings for it
    return learned_policy(
        request.role,
        request.config.policy,
        request.n_users,
        # a socialbot's policy runs frozen: its section has no `learning`
        getattr(request.config, "learning", "frozen"),
        background=SCRIPTED[request.role](request.config),
    )


def _planner(request: PolicyRequest):
    from ..roles.candidate import CandidateRole
    from .anchor import read_anchor
    from .planner import PiKLPlanner
    from .scripted import SCRIPTED

    cfg = request.config
    role = CandidateRole()
    anchor = read_anchor(cfg.anchor, role.feature_names, role.action_names)
    return PiKLPlanner(
        SCRIPTED[request.role](cfg),
        anchor,
        request.n_users,
        lam=cfg.lam,
        horizon=cfg.horizon,
        rollouts=cfg.rollouts,
        plan_every=cfg.plan_every,
        planners=cfg.planners,
        messages=cfg.messages,
    )


def _lm(request: PolicyRequest):
    from .lm import LMPolicy, parse_spec
    from .scripted import SCRIPTED

    cfg = request.config
    return LMPolicy(
        request.role,
        parse_spec(cfg.policy),
        SCRIPTED[request.role](cfg),
        template=cfg.lm_template,
        writers=getattr(cfg, "writers", None),
    )


KINDS: list[PolicyKind] = [
    PolicyKind(
        "scripted",
        "scripted (the designed baseline)",
        ROLE_NAMES,
        lambda line: line == "scripted",
        _scripted,
    ),
    PolicyKind(
        "checkpoint",
        "a checkpoint from `townsquare train` (a Q-table .npz/.json, a PPO .safetensors, "
        "or a socialbot's policy.safetensors)",
        # the roles with a learner role module (`townsquare.roles.ROLES`)
        LEARNABLE_ROLES,
        lambda line: line.endswith(CHECKPOINT_SUFFIXES),
        _checkpoint,
    ),
    PolicyKind(
        "lm",
        "lm:<backend> (posts written by a language model: lm:offline, "
        "lm:transformers:PATH, lm:openai:MODEL@URL)",
        ROLE_NAMES,
        lambda line: line.startswith("lm:"),
        _lm,
    ),
    PolicyKind(
        "planner",
        "planner (piKL: intents scored by rollouts of the world, kept near an anchor)",
        ("candidate",),
        lambda line: line == "planner",
        _planner,
    ),
]


def kind_of(role: str, line: str) -> PolicyKind:
    """The kind of policy ``line`` is for ``role``; a ``ValueError`` that names the role
    and the value otherwise."""
    shown = line if len(line) <= 200 else line[:197] + "..."
    if line.startswith("lm:"):
        from .lm import parse_spec  # no townsquare imports at its module level

        try:
            parse_spec(line)
        except ValueError as exc:
            raise ValueError(f"roles.{role}.policy: {shown!r}: {exc}") from None
    if line.endswith(".zip"):
        raise ValueError(
            f"roles.{role}.policy: {shown!r}: SB3 .zip checkpoints are pickles, which can "
            "run code when loaded, so townsquare does not load them; retrain with "
            "`townsquare train influencer --algo ppo` (it writes policy.safetensors)"
        )
    for kind in KINDS:
        if kind.matches(line):
            if role not in kind.roles:
                raise ValueError(
                    f"roles.{role}.policy: {shown!r} is {kind.describe}, which drives "
                    f"{', '.join(kind.roles)} only; the {role} role can take: "
                    f"{', '.join(k.name for k in KINDS if role in k.roles)}"
                )
            return kind
    accepted = "; or ".join(k.describe for k in KINDS if role in k.roles)
    raise ValueError(f"roles.{role}.policy: {shown!r} is not a policy line ({accepted})")


def check_lm_template(role: str, template: str) -> None:
    """A ``ValueError`` naming ``roles.ROLE.lm_template`` unless the role's observation
    can fill every placeholder of ``template`` (`policies.lm`)."""
    from .lm import check_template

    try:
        check_template(template, role)
    except ValueError as exc:
        raise ValueError(f"roles.{role}.{exc}") from None


def resolve(role: str, config: Any, n_users: int):
    """The policy object ``config.policy`` asks for, for every user of ``role``."""
    return kind_of(role, config.policy).make(PolicyRequest(role, config, n_users))
