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
"""

from __future__ import annotations

import numpy as np

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
    if panel_size < 1:
        raise ValueError("panel_vote_reward: the panel needs at least one citizen")
    if not np.isfinite(stance) or abs(stance) > 1:
        raise ValueError(f"panel_vote_reward: stance {stance!r} is not in [-1, 1]")
    fork = world.fork()
    rng = np.random.default_rng(seed)
    pop = fork.population
    eligible = np.flatnonzero((pop.role == Role.CITIZEN) & ~pop.suspended)
    if eligible.size == 0:
        return 0.0
    panel = np.sort(rng.choice(eligible, size=min(panel_size, eligible.size), replace=False))
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
