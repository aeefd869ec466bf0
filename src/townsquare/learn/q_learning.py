"""Tabular Q-learning (Watkins), the method of Jin & Guo's influencer (MODELS.md §2).

An explicit, CleanRL-style loop over episodes of a role environment: the role module
discretises each observation into a state; the agent acts epsilon-greedily; after every
step ``Q[s, a] += alpha * (r + gamma * max Q[s'] - Q[s, a])`` (no bootstrap past a
termination). Epsilon decays linearly from ``eps_start`` to ``eps_end`` over the first
``eps_decay`` share of the episodes.

Defaults: alpha 0.1, gamma 0.95, epsilon 1.0 -> 0.05 over the first half of training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..policies.q_table import QTable
from ..roles import LearnerRole

#: the most episodes one training run may ask for: the smallest built-in environment
#: takes about 0.1 s an episode, so 10^6 episodes are already a day and a half, and the
#: records (and curve.csv) hold one row per episode
MAX_EPISODES = 10**6

#: ``on_episode(record)`` after every episode; returning False stops training there (the
#: table and records of the episodes done are returned), None or True goes on
OnEpisode = Callable[["EpisodeRecord"], bool | None]


@dataclass
class QConfig:
    episodes: int = 200
    alpha: float = 0.1
    gamma: float = 0.95
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay: float = 0.5
    seed: int = 0

    def epsilon(self, episode: int) -> float:
        span = max(1.0, self.eps_decay * self.episodes)
        frac = min(1.0, episode / span)
        return self.eps_start + frac * (self.eps_end - self.eps_start)


@dataclass
class EpisodeRecord:
    episode: int
    followers: int
    start_followers: int
    ret: float
    steps: int
    leader: bool
    epsilon: float


def episode_seed(seed: int, episode: int) -> int:
    """The world seed of one episode: every arm trained with the same ``seed`` meets the
    same sequence of worlds (common random numbers make arms comparable)."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0] & 0x7FFFFFFF)


def run_episode(
    env,
    choose: Callable[[np.ndarray], int],
    world_seed: int,
    learn: Callable[[np.ndarray, int, float, np.ndarray, bool], None] | None = None,
) -> tuple[int, float, int, dict]:
    """Play one episode with ``choose(observation) -> action``, calling
    ``learn(obs, action, reward, next_obs, terminated)`` after every step if given.
    Returns the followers at the start, the return, the steps and the last info."""
    obs, info = env.reset(seed=world_seed)
    start = info["followers"]
    total, steps, done = 0.0, 0, False
    while not done:
        action = choose(obs)
        nxt, reward, terminated, truncated, info = env.step(action)
        if learn is not None:
            learn(obs, action, reward, nxt, terminated)
        obs = nxt
        total += reward
        steps += 1
        done = terminated or truncated
    return start, total, steps, info


def train_q(
    env,
    cfg: QConfig,
    on_episode: OnEpisode | None = None,
) -> tuple[QTable, list[EpisodeRecord]]:
    """Train a Q-table on a role environment (`townsquare.envs.RoleEnv`). An
    ``on_episode`` that returns False stops training after that episode."""
    role: LearnerRole = env.unwrapped.role
    table = QTable.empty(role, config=asdict(cfg))
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x51]))
    records: list[EpisodeRecord] = []
    for episode in range(cfg.episodes):
        eps = cfg.epsilon(episode)

        def choose(obs: np.ndarray, eps: float = eps) -> int:
            return int(table.act(role.discretise(obs), eps, rng)[0])

        def learn(obs, action, reward, nxt, terminated) -> None:
            s, s_next = role.discretise(obs), role.discretise(nxt)
            table.update(s, [action], [reward], s_next, [terminated], cfg.alpha, cfg.gamma)

        start, total, steps, info = run_episode(env, choose, episode_seed(cfg.seed, episode), learn)
        rec = EpisodeRecord(
            episode, info["followers"], start, total, steps, info["leader"], float(eps)
        )
        records.append(rec)
        if on_episode is not None and on_episode(rec) is False:
            break
    return table, records


def evaluate_choice(
    env, choose: Callable[[np.ndarray], int], episodes: int, seed: int, on_episode=None
) -> list[EpisodeRecord]:
    """Episodes of a fixed decision rule, on the same worlds `train_q` meets."""
    records = []
    for episode in range(episodes):
        start, total, steps, info = run_episode(env, choose, episode_seed(seed, episode))
        rec = EpisodeRecord(episode, info["followers"], start, total, steps, info["leader"], 0.0)
        records.append(rec)
        if on_episode is not None:
            on_episode(rec)
    return records


def train_q_shared(
    env,
    cfg: QConfig,
    on_episode: OnEpisode | None = None,
) -> tuple[QTable, list[EpisodeRecord]]:
    """Train one Q-table shared by every learner of a PettingZoo parallel role
    environment (`townsquare.envs.RoleParallelEnv`): each agent acts epsilon-greedily on
    its own observation and every agent's transition updates the table. This is how a
    scenario's policy line deploys it — every user of the role on the same table — so the
    learners meet each other during training as they will in a run. Episode records hold
    the mean over the role's users. An ``on_episode`` that returns False stops training
    after that episode."""
    role: LearnerRole = env.role
    table = QTable.empty(role, config=asdict(cfg), learners="all")
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x51]))
    records: list[EpisodeRecord] = []
    for episode in range(cfg.episodes):
        eps = cfg.epsilon(episode)
        obs, infos = env.reset(seed=episode_seed(cfg.seed, episode))
        start = np.mean([infos[a]["followers"] for a in env.agents])
        total, steps = 0.0, 0
        while env.agents:
            agents = list(env.agents)
            states = role.discretise(np.stack([obs[a] for a in agents]))
            actions = table.act(states, eps, rng)
            obs, rewards, terms, truncs, infos = env.step(
                {a: int(x) for a, x in zip(agents, actions, strict=True)}
            )
            nxt = role.discretise(np.stack([obs[a] for a in agents]))
            r = np.array([rewards[a] for a in agents])
            done = np.array([terms[a] for a in agents])
            table.update(states, actions, r, nxt, done, cfg.alpha, cfg.gamma)
            total += float(r.mean())
            steps += 1
        followers = float(np.mean([infos[a]["followers"] for a in infos]))
        leader = any(infos[a]["leader"] for a in infos)
        rec = EpisodeRecord(
            episode, round(followers, 2), round(float(start), 2), total, steps, leader, float(eps)
        )
        records.append(rec)
        if on_episode is not None and on_episode(rec) is False:
            break
    return table, records
