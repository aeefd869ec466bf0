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
from .records import EpisodeRecord, columns_of, group_means

#: the most episodes one training run may ask for: the smallest built-in environment
#: takes about 0.1 s an episode, so 10^6 episodes are already a day and a half, and the
#: records (and curve.csv) hold one row per episode
MAX_EPISODES = 10**6

#: ``on_episode(record)`` after every episode; returning False stops training there (the
#: table and records of the episodes done are returned), None or True goes on
OnEpisode = Callable[[EpisodeRecord], bool | None]


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


def episode_seed(seed: int, episode: int) -> int:
    """The world seed of one episode: every arm trained with the same ``seed`` meets the
    same sequence of worlds (common random numbers make arms comparable)."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0] & 0x7FFFFFFF)


def run_episode(
    env,
    choose: Callable[[np.ndarray], int],
    world_seed: int,
    learn: Callable[[np.ndarray, int, float, np.ndarray, bool], None] | None = None,
) -> tuple[dict, float, int, dict]:
    """Play one episode with ``choose(observation) -> action``, calling
    ``learn(obs, action, reward, next_obs, terminated)`` after every step if given.
    Returns the info at the reset, the return, the steps and the last info."""
    obs, first = env.reset(seed=world_seed)
    total, steps, done = 0.0, 0, False
    info = first
    while not done:
        action = choose(obs)
        nxt, reward, terminated, truncated, info = env.step(action)
        if learn is not None:
            learn(obs, action, reward, nxt, terminated)
        obs = nxt
        total += reward
        steps += 1
        done = terminated or truncated
    return first, total, steps, info


def _record(env, episode: int, first: dict, total: float, steps: int, last: dict, eps: float):
    names = env.unwrapped.role.info_columns
    return EpisodeRecord(
        episode, total, steps, float(eps), columns_of(first, names), columns_of(last, names)
    )


def train_q(
    env,
    cfg: QConfig,
    on_episode: OnEpisode | None = None,
) -> tuple[QTable, list[EpisodeRecord]]:
    """Train a Q-table on a one-learner role environment (`townsquare.envs.RoleEnv`).
    An ``on_episode`` that returns False stops training after that episode."""
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

        first, total, steps, last = run_episode(env, choose, episode_seed(cfg.seed, episode), learn)
        rec = _record(env, episode, first, total, steps, last, eps)
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
        first, total, steps, last = run_episode(env, choose, episode_seed(seed, episode))
        rec = _record(env, episode, first, total, steps, last, 0.0)
        records.append(rec)
        if on_episode is not None:
            on_episode(rec)
    return records


def train_q_platform(
    env,
    cfg: QConfig,
    on_episode: Callable[[dict[str, EpisodeRecord]], bool | None] | None = None,
) -> tuple[dict[str, QTable], dict[str, list[EpisodeRecord]]]:
    """Train one Q-table per role on a PettingZoo platform environment
    (`townsquare.envs.platform_v0`, or any `PlatformParallelEnv`), shared by the role's
    learners: each agent acts epsilon-greedily on its own observation and every agent's
    transition updates its role's table. This is how a scenario's policy line deploys
    a table — every user of the role on it — so learners meet each other (and the other
    roles' learners) during training as they will in a run. A record per role and
    episode holds the means over the role's agents; ``on_episode`` gets them by role and
    may return False to stop after that episode."""
    roles: dict[str, LearnerRole] = env.roles
    tables = {
        name: QTable.empty(role, config=asdict(cfg), learners="all") for name, role in roles.items()
    }
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x51]))
    records: dict[str, list[EpisodeRecord]] = {name: [] for name in roles}
    agents_of = {
        name: [a for a in env.possible_agents if a.rsplit("_", 1)[0] == name] for name in roles
    }
    for episode in range(cfg.episodes):
        eps = cfg.epsilon(episode)
        obs, infos = env.reset(seed=episode_seed(cfg.seed, episode))
        start = {
            name: group_means([infos[a] for a in agents_of[name]], role.info_columns)
            for name, role in roles.items()
        }
        totals = dict.fromkeys(roles, 0.0)
        steps = 0
        last = dict(infos)
        while env.agents:
            live = list(env.agents)
            chosen, states = {}, {}
            for name, role in roles.items():
                agents = [a for a in live if a.rsplit("_", 1)[0] == name]
                if not agents:
                    continue
                s = role.discretise(np.stack([obs[a] for a in agents]))
                states[name] = (agents, s, tables[name].act(s, eps, rng))
                chosen.update({a: int(x) for a, x in zip(agents, states[name][2], strict=True)})
            obs, rewards, terms, truncs, infos = env.step(chosen)
            last.update(infos)
            for name, (agents, s, actions) in states.items():
                role = roles[name]
                nxt = role.discretise(np.stack([obs[a] for a in agents]))
                r = np.array([rewards[a] for a in agents])
                done = np.array([terms[a] for a in agents])
                tables[name].update(s, actions, r, nxt, done, cfg.alpha, cfg.gamma)
                totals[name] += float(r.mean())
            steps += 1
        done_now = {}
        for name, role in roles.items():
            end = group_means([last[a] for a in agents_of[name]], role.info_columns)
            rec = EpisodeRecord(episode, totals[name], steps, float(eps), start[name], end)
            records[name].append(rec)
            done_now[name] = rec
        if on_episode is not None and on_episode(done_now) is False:
            break
    return tables, records


def train_q_shared(
    env,
    cfg: QConfig,
    on_episode: OnEpisode | None = None,
) -> tuple[QTable, list[EpisodeRecord]]:
    """`train_q_platform` for an environment with one learning role (every influencer,
    say, sharing one table): that role's table and records."""
    if len(env.roles) != 1:
        raise ValueError(f"train_q_shared trains one role; the environment has {list(env.roles)}")
    (name,) = env.roles

    def one(records: dict[str, EpisodeRecord]):
        return None if on_episode is None else on_episode(records[name])

    tables, records = train_q_platform(env, cfg, one)
    return tables[name], records[name]
