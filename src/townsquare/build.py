"""The one way to make a world: scenario -> World with one policy per role.

The CLI, the experiments and the RL environments all call `build_world`, so a scenario
means the same thing everywhere.
"""

from __future__ import annotations

import numpy as np

from .config import Scenario, validate
from .errors import UserError
from .policies.scripted import SCRIPTED
from .policies.social_rl import SocialRLCitizen
from .world import (
    ActivityDetector,
    DataFileError,
    FollowGraph,
    LoadedGraph,
    Population,
    Recommender,
    Role,
    World,
    load_edge_list,
    load_polblogs,
)
from .world.generators import power_law, random_geometric, two_communities
from .world.population import heavy_tailed_activity


def _graph(sc: Scenario, rng: np.random.Generator):
    g = sc.graph
    if g.kind == "power_law":
        return (*power_law(rng, sc.users, g.mean_degree, g.attractiveness), None)
    if g.kind == "two_communities":
        return (*two_communities(rng, sc.users, g.mean_degree, g.cross_fraction), None)
    if g.kind == "random_geometric":
        return (*random_geometric(rng, sc.users, radius=g.radius, mean_degree=g.mean_degree), None)
    try:
        loaded: LoadedGraph = (
            load_polblogs(g.path) if g.kind == "polblogs" else load_edge_list(g.path, g.directed)
        )
    except DataFileError as exc:
        raise UserError(f"graph.path: {exc}") from None
    community = loaded.community if loaded.community is not None else np.full(loaded.n, -1, np.int8)
    return loaded.src, loaded.dst, community, loaded


def resolve_users(sc: Scenario, n: int) -> Scenario:
    """The scenario with ``users`` set to the size of the graph actually built."""
    if n == sc.users:
        return sc
    data = sc.model_dump(mode="json")
    data["users"] = n
    return validate(data, f"graph.path {sc.graph.path} ({n} users)")


def _assign_roles(sc: Scenario, in_deg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = in_deg.shape[0]
    role = np.full(n, Role.CITIZEN, np.int8)
    # most-followed first; ties broken by id so the order is deterministic
    by_followers = np.lexsort((np.arange(n), -in_deg))
    free = np.ones(n, bool)

    def take(count: int, placement: str) -> np.ndarray:
        if count == 0:
            return np.zeros(0, np.int64)
        if placement == "top":
            chosen = by_followers[free[by_followers]][:count]
        else:
            chosen = rng.choice(np.flatnonzero(free), size=count, replace=False)
        free[chosen] = False
        return chosen

    r = sc.roles
    role[take(r.influencer.count, r.influencer.placement)] = Role.INFLUENCER
    role[take(r.candidate.count, r.candidate.placement)] = Role.CANDIDATE
    role[take(int(round(r.socialbot.fraction * n)), "random")] = Role.SOCIALBOT
    return role


def _opinions(sc: Scenario, rng, community: np.ndarray, loaded: LoadedGraph | None) -> np.ndarray:
    init = sc.population.opinion
    n, topics = community.shape[0], sc.population.topics
    noise = rng.normal(0.0, init.spread, (n, topics))
    if init.distribution == "uniform":
        op = rng.uniform(-1.0, 1.0, (n, topics))
    elif init.distribution == "normal":
        op = noise
    elif init.distribution == "bimodal":
        side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        op = side[:, None] * init.separation + noise
    elif init.distribution == "communities":
        random_side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        side = np.where(community == 0, -1.0, np.where(community == 1, 1.0, random_side))
        op = side[:, None] * init.separation + noise
    else:  # data
        if loaded is None or loaded.leaning is None:
            raise UserError(
                "population.opinion.distribution: 'data' needs a graph with leanings "
                "(graph.kind: polblogs)"
            )
        lean = np.where(np.isnan(loaded.leaning), rng.uniform(-1, 1, n), loaded.leaning)
        op = lean[:, None] * init.separation + noise
    return np.clip(op, -1.0, 1.0)


def _learned(role_name: str, cfg, n: int):
    """A checkpoint named on a scenario's policy line, checked against its role."""
    from .policies.learned import CheckpointError, learned_policy

    try:
        return learned_policy(role_name, cfg.policy, n, cfg.learning)
    except CheckpointError as exc:
        raise UserError(f"roles.{role_name}.policy: {exc}") from None


def build_world(sc: Scenario) -> tuple[World, Scenario]:
    """Build the world a scenario describes. Returns it with the resolved scenario
    (``users`` replaced by the size of a real network read from disk)."""
    seeds = np.random.SeedSequence(sc.seed).spawn(3)
    rng_graph, rng_pop = (np.random.Generator(np.random.PCG64(s)) for s in seeds[:2])

    src, dst, community, loaded = _graph(sc, rng_graph)
    if loaded is not None:
        sc = resolve_users(sc, loaded.n)
    n = sc.users
    try:
        graph = FollowGraph(n, src, dst)
    except ValueError as exc:
        raise UserError(f"graph: {exc}") from None

    role = _assign_roles(sc, graph.in_deg, rng_pop)
    opinion = _opinions(sc, rng_pop, community, loaded)
    act = sc.population.activity
    activity = heavy_tailed_activity(rng_pop, n, act.mean, act.sigma)
    a, b = sc.population.susceptibility
    susceptibility = rng_pop.beta(a, b, n)

    r = sc.roles
    infl = role == Role.INFLUENCER
    cand = np.flatnonzero(role == Role.CANDIDATE)
    bots = role == Role.SOCIALBOT
    activity[infl] = r.influencer.activity
    activity[cand] = r.candidate.activity
    activity[bots] = r.socialbot.activity
    if cand.size:
        positions = np.resize(np.array(r.candidate.positions, float), cand.size)
        opinion[cand] = positions[:, None]
    opinion[bots] = r.socialbot.stance
    # candidates hold their platform and bots their campaign: neither is persuaded
    susceptibility[cand] = 0.0
    susceptibility[bots] = 0.0

    population = Population(
        role=role,
        opinion=opinion,
        activity=activity,
        susceptibility=susceptibility,
        suspended=np.zeros(n, bool),
        community=np.asarray(community, np.int8),
    )
    policies = {
        Role(i): SCRIPTED[name](getattr(r, name))
        for i, name in enumerate(("citizen", "influencer", "candidate", "socialbot"))
    }
    if r.influencer.policy != "scripted":
        policies[Role.INFLUENCER] = _learned("influencer", r.influencer, n)
    if r.citizen.expression == "social_rl":
        policies[Role.CITIZEN] = SocialRLCitizen.from_opinions(
            r.citizen, opinion[:, 0], np.flatnonzero(role == Role.CITIZEN)
        )
    f = sc.feed
    recommender = Recommender(f.ranking, f.k, f.window, f.trending, f.half_life)
    m = sc.moderation
    detector = ActivityDetector(
        n, m.threshold, m.strikes, m.check_every, m.memory, enabled=m.detector != "none"
    )
    world = World(
        population,
        graph,
        recommender,
        detector,
        policies,
        seed=seeds[2],
        opinion_epsilon=sc.opinion.epsilon,
        opinion_mu=sc.opinion.mu,
        opinion_rule=sc.opinion.rule,
    )
    return world, sc
