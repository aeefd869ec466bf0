"""Rewards the simulator verifies, for training language-model policies (MODELS.md
section 5; issue 14): what a message does to the people who read it, measured on a copy
of the world, never on the world itself.

`panel_vote_reward`: a candidate's message is shown to a random panel of eligible
citizens in a fork of the world (`World.fork`). Each panel member reads it as one post
of its feed and moves by the scenario's opinion rule; optionally the fork then runs
``horizon`` more steps. The reward is the change of the panel's vote intention toward
the candidate: the mean over the panel of P(vote) × [the candidate is the nearest] (ties
split), before and after, with the election's own turnout rule (`world.election`). No
draw of the real world is touched; the panel and the opinion rule draw from their own
generator, seeded by the caller.

`panel_engagement_reward`: an influencer's or a socialbot's message is shown to a random
panel of citizens in a fork, as the one post of their feed; the citizens' own policy (the
scenario's, scripted or learning) decides whom it likes and follows. The reward is the
likes and new follows the author earns per panel member; with ``horizon``, the follower
gain over ``horizon`` further steps of the fork (which the panel's reading started) is
added, per panel member too, so rewards of different panel sizes compare.
"""

from __future__ import annotations

import numpy as np

from ..world.actions import Observations
from ..world.population import Role


def panel_intention(world, panel: np.ndarray, candidate_index: int) -> float:
    """The panel's mean intention to vote for the candidate: P(vote) times being the
    nearest candidate (ties split), by the election's rules."""
    election = world.election
    population = world.population
    d = election.distances(population, panel)
    nearest = (d <= d.min(axis=1, keepdims=True) + 1e-12).astype(np.float64)
    nearest /= nearest.sum(axis=1, keepdims=True)
    p = election.turnout_chance(population, panel)
    return float(np.mean(p * nearest[:, candidate_index]))


def _check_message(name: str, panel_size: int, stance: float) -> None:
    if panel_size < 1:
        raise ValueError(f"{name}: the panel needs at least one citizen")
    if not np.isfinite(stance) or abs(stance) > 1:
        raise ValueError(f"{name}: stance {stance!r} is not in [-1, 1]")


def panel_vote_reward(
    world,
    candidate: int,
    stance: float,
    panel_size: int = 200,
    horizon: int = 0,
    seed: int = 0,
) -> float:
    """The change of a random panel's intention to vote for ``candidate`` (a user id) once
    it has read a message of ``stance`` (topic 0), in a fork of ``world`` (see the module
    docstring). ``world`` is left exactly as it was."""
    if world.election is None:
        raise ValueError("panel_vote_reward: the world holds no election")
    index = np.flatnonzero(world.election.candidates == candidate)
    if index.size == 0:
        raise ValueError(f"panel_vote_reward: user {candidate} is not a candidate")
    _check_message("panel_vote_reward", panel_size, stance)
    fork = world.fork()
    rng = np.random.default_rng(seed)
    pop = fork.population
    panel = _panel(fork, rng, panel_size, candidate)
    if panel.size == 0:
        return 0.0
    before = panel_intention(fork, panel, int(index[0]))
    feed_stance = np.full((panel.size, 1), float(stance))
    feed_topic = np.zeros((panel.size, 1), np.int64)
    shown = np.ones((panel.size, 1), bool)
    fork.opinion_rule(
        pop.opinion,
        panel,
        feed_stance,
        feed_topic,
        shown,
        pop.susceptibility,
        fork.opinion_epsilon,
        fork.opinion_mu,
        rng,
    )
    for _ in range(horizon):
        fork.step()
    return panel_intention(fork, panel, int(index[0])) - before


def _panel(fork, rng: np.random.Generator, size: int, leave_out: int) -> np.ndarray:
    """A random panel of active citizens (user ids, sorted), ``leave_out`` not among
    them."""
    pop = fork.population
    eligible = np.flatnonzero((pop.role == Role.CITIZEN) & ~pop.suspended)
    eligible = eligible[eligible != leave_out]
    if eligible.size == 0:
        return eligible
    return np.sort(rng.choice(eligible, size=min(size, eligible.size), replace=False))


def panel_engagement_reward(
    world,
    author: int,
    stance: float,
    panel_size: int = 200,
    horizon: int = 0,
    seed: int = 0,
) -> float:
    """Likes plus new follows ``author`` earns per panel member once a random panel of
    citizens has read a message of ``stance`` (topic 0) in a fork of ``world``, plus its
    follower gain over ``horizon`` further steps (see the module docstring). ``world`` is
    left exactly as it was."""
    if not 0 <= author < world.n:
        raise ValueError(f"panel_engagement_reward: user {author} is not on the platform")
    _check_message("panel_engagement_reward", panel_size, stance)
    fork = world.fork()
    rng = np.random.default_rng(seed)
    panel = _panel(fork, rng, panel_size, author)
    if panel.size == 0:
        return 0.0
    pop, graph = fork.population, fork.graph
    n = panel.size
    authors = np.full((n, 1), author, np.int64)
    obs = Observations(
        step=fork.t,
        role=Role.CITIZEN,
        users=panel,
        opinion=pop.opinion[panel],
        followers=graph.in_deg[panel],
        followees=graph.out_deg[panel],
        # the message is not in the post store: a slot id of 0 only marks it as shown
        feed=np.zeros((n, 1), np.int64),
        feed_author=authors,
        feed_stance=np.full((n, 1), float(stance)),
        feed_topic=np.zeros((n, 1), np.int64),
        feed_likes=np.zeros((n, 1), np.int64),
        feed_followed=graph.follows(panel, authors[:, 0])[:, None],
        n_users=fork.n,
        topics=pop.opinion.shape[1],
    )
    acts = fork.policies[Role.CITIZEN].act(obs, rng)
    likes = int(np.asarray(acts.like)[:, 0].sum())
    follow = np.asarray(acts.follow)
    followers = (follow == author).any(axis=1)
    new = followers & ~obs.feed_followed[:, 0]
    earned = (likes + int(new.sum())) / n
    if horizon:
        graph.follow(panel[new], np.full(int(new.sum()), author, np.int64))
        before = int(graph.in_deg[author])
        for _ in range(horizon):
            fork.step()
        earned += (int(graph.in_deg[author]) - before) / n
    return float(earned)
