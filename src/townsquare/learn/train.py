"""`townsquare train ROLE`: train a role's policy in a running world, for any learnable
role (`townsquare.roles.ROLES`), and save what it learnt.

A `TrainPlan` is checked in full before anything is written (every bad input is a
`UserError` naming it); `train` then runs it and writes, in the output folder, the
checkpoint (``policy.npz``, a Q-table, or ``policy.safetensors``, PPO), ``curve.csv``
(one row per episode: the return and the role's own columns at the start and the end),
``learning_curve.png`` and ``train.json`` (the settings and a summary).

Learners: ``one`` — the role's first user learns among scripted peers (the Gymnasium
environment); ``all`` — every user of the role shares one Q-table (the PettingZoo
environment), as a scenario's policy line deploys it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Scenario, load_scenario
from ..errors import UserError
from ..outputs import replace_text
from ..roles import ROLES, make_role
from .q_learning import MAX_EPISODES
from .records import EpisodeRecord, plot_curve, write_curve

ALGOS = ("q", "ppo")
LEARNERS = ("one", "all")
#: the small built-in world each role trains in unless a scenario is named
DEFAULT_SCENARIO = "influencer_env"
#: roles that train elsewhere by default (a candidate needs an election)
ROLE_SCENARIOS = {"candidate": "candidate_env"}


@dataclass(frozen=True)
class TrainPlan:
    role: str
    algo: str
    scenario: Scenario
    episodes: int
    action_space: str
    self_observation: bool
    learners: str
    seed: int

    @property
    def policy_file(self) -> str:
        return "policy.npz" if self.algo == "q" else "policy.safetensors"

    def title(self) -> str:
        return (
            f"{self.role} · {self.algo} · {self.action_space} · self-observation "
            f"{'on' if self.self_observation else 'off'} · {self.scenario.name}"
        )


def plan(
    role: str,
    algo: str = "q",
    scenario: str | None = None,
    overrides: list[str] | None = None,
    episodes: int = 300,
    action_space: str | None = None,
    self_observation: bool = True,
    learners: str = "one",
    seed: int = 0,
) -> TrainPlan:
    """A checked training plan; a `UserError` naming the first input that is wrong."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} for training (learnable roles: {', '.join(ROLES)})")
    if algo not in ALGOS:
        raise UserError(f"--algo {algo}: unknown algorithm (known: {', '.join(ALGOS)})")
    if not 1 <= episodes <= MAX_EPISODES:
        raise UserError(
            f"--episodes {episodes}: at least 1 and at most {MAX_EPISODES:,} (the smallest built-in "
            "environment takes about 0.1 s an episode, so 10^6 are a day and a half)"
        )
    if learners not in LEARNERS:
        raise UserError(f"--learners {learners}: expected one or all")
    if learners == "all" and algo != "q":
        raise UserError("--learners all shares one Q-table among the role's users: use --algo q")
    if action_space is None:  # the role's first: limited, or the candidate's intents
        action_space = ROLES[role].action_spaces[0]
    try:
        make_role(role, action_space, self_observation)
    except ValueError as exc:
        raise UserError(f"--action-space {action_space}: {exc}") from None
    name = scenario or ROLE_SCENARIOS.get(role, DEFAULT_SCENARIO)
    sc = load_scenario(name, list(overrides or []))
    section = getattr(sc.roles, role)
    if getattr(section, "count", 1) < 1:
        raise UserError(
            f"{name}: roles.{role}.count is 0; there is no {role} to train "
            f"(set --set roles.{role}.count=N)"
        )
    return TrainPlan(role, algo, sc, episodes, action_space, self_observation, learners, seed)


def make_env(p: TrainPlan):
    """The environment the plan trains in: one learner (Gymnasium) or all (PettingZoo)."""
    from ..envs.core import check_learners
    from ..envs.parallel import PlatformParallelEnv
    from ..envs.single import RoleEnv

    role = make_role(p.role, p.action_space, p.self_observation)
    try:
        if p.learners == "all":
            return PlatformParallelEnv(
                [(role, "all")], p.scenario, DEFAULT_SCENARIO, name=f"townsquare_{p.role}_v0"
            )
        check_learners(p.scenario, role, 1)  # before any folder is claimed
        return RoleEnv(role, p.scenario, DEFAULT_SCENARIO)
    except ValueError as exc:
        # a scenario without users of the role, or not enough of them
        raise UserError(f"{p.scenario.name}: {exc}") from None


@dataclass
class TrainResult:
    records: list[EpisodeRecord]
    summary: dict
    files: list[Path]

    @property
    def complete(self) -> bool:
        return bool(self.summary["complete"])


def summarise(p: TrainPlan, records: list[EpisodeRecord], seconds: float) -> dict:
    """``train.json``: the plan, and the first and last fifth of the episodes compared
    (mean return, and each of the role's columns: its end value and its change)."""
    tail = max(1, len(records) // 5)
    first, last = records[:tail], records[-tail:]

    def mean(values) -> float:
        values = list(values)
        return round(sum(values) / len(values), 4) if values else float("nan")

    columns = list(records[0].end) if records else []
    compared = {"return": {"first": mean(r.ret for r in first), "last": mean(r.ret for r in last)}}
    for name in columns:
        compared[name] = {
            "first": mean(float(r.end[name]) for r in first),
            "last": mean(float(r.end[name]) for r in last),
            "first_change": mean(r.change(name) for r in first),
            "last_change": mean(r.change(name) for r in last),
        }
    return {
        "role": p.role,
        "algo": p.algo,
        "scenario": p.scenario.name,
        "episodes": p.episodes,
        "episodes_done": len(records),
        "complete": len(records) >= p.episodes,
        "action_space": p.action_space,
        "self_observation": p.self_observation,
        "learners": p.learners,
        "seed": p.seed,
        "seconds": round(seconds, 2),
        "compared_episodes": tail,
        "first_vs_last": compared,
    }


def train(
    p: TrainPlan,
    target: Path,
    on_episode: Callable[[EpisodeRecord], bool | None] | None = None,
    env=None,
) -> TrainResult:
    """Train as planned and write the checkpoint, curve, plot and summary in ``target``
    (checked and claimed by the caller), in ``env`` (`make_env`'s, made here if None).
    An ``on_episode`` returning False stops after that episode; what was learnt so far
    is saved, with ``complete: false``."""
    started = time.perf_counter()
    env = make_env(p) if env is None else env
    policy_path = target / p.policy_file
    try:
        if p.algo == "q":
            from .q_learning import QConfig, train_q, train_q_shared

            trainer = train_q_shared if p.learners == "all" else train_q
            table, records = trainer(env, QConfig(episodes=p.episodes, seed=p.seed), on_episode)
            table.save(policy_path)
        else:
            try:
                from .ppo import PPOConfig, save_ppo, train_ppo
            except ImportError as exc:
                raise UserError(str(exc)) from None
            horizon = p.scenario.steps
            cfg = PPOConfig(episodes=p.episodes, seed=p.seed, n_steps=max(64, 10 * horizon))
            cfg.batch_size = min(cfg.batch_size, cfg.n_steps)
            model, records = train_ppo(env, cfg, on_episode)
            save_ppo(model, policy_path, env.unwrapped.role, cfg)
    finally:
        env.close()
    write_curve(records, target / "curve.csv")
    plot_curve(records, target / "learning_curve.png", p.title())
    summary = summarise(p, records, time.perf_counter() - started)
    summary["checkpoint"] = str(policy_path)
    replace_text(target / "train.json", json.dumps(summary, indent=2))
    files = [policy_path] + [target / n for n in ("curve.csv", "learning_curve.png", "train.json")]
    return TrainResult(records, summary, files)
