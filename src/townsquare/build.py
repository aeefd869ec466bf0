"""The one way to make a world: scenario -> World with one policy per role.

The CLI, the experiments and the RL environments all call `build_world`, so a scenario
means the same thing everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

from .config import GENERATED_GRAPHS, Scenario, validate
from .errors import UserError
from .policies.learning_population import LearningPopulation
from .policies.registry import ROLE_NAMES
from .policies.registry import resolve as resolve_policy
from .policies.social_rl import SocialRLCitizen
from .world import (
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
from .world.actions import OPTIONAL_ACTION_NAMES
from .world.election import Election
from .world.generators import power_law, random_geometric, two_communities
from .world.moderation import Detector, make_detector
from .world.population import heavy_tailed_activity
from .world.who_to_follow import WhoToFollow
from .world.who_to_follow import by_name as follow_recommender
from .world.world import CHUNK_ROWS, FeedExperiment

# ---------------------------------------------------------------------- memory
# Bytes a world needs, measured with tracemalloc and peak RSS on 10^5-user worlds (power_law,
# two_communities, random_geometric; mean_degree 10 and 40; feed.k 20 and 200; activity
# mean 0.1 and 1.0) and checked against benchmarks/results/world.json (10^6 users, 100 steps:
# 885 MB above the interpreter's own, estimated 1.35 GB). The estimate errs high on purpose:
# it only has to tell a world that fits from one that cannot, before anything is allocated.
BYTES_PER_USER = 450  # population, cursor, graph offsets and degrees, detector, policies
BYTES_PER_EDGE_BUILD = 70  # generator draws, src/dst arrays, FollowGraph construction (peak)
BYTES_PER_EDGE_RUN = 10  # the int32 follow pool with its slack
BYTES_PER_FEED_SLOT = 85  # per active user and feed.k slot: ids, scores, masks, actions
# a reader fed in parts (World.step, rowwise roles) keeps only its shown slots (6 B each,
# at most k) and its actions per row (posts, follows) until the step is applied
BYTES_PER_KEPT_SLOT = 6
BYTES_PER_KEPT_READER = 48
BYTES_PER_POST_ROW = 40  # a post-store row (39 B); posts are kept for the whole run
POST_ROWS_PER_ACTIVE_STEP = 0.7  # posts + replies + reposts (0.067 per user-step at mean 0.1)
BYTES_PER_EVENT = 32  # an event row buffered until the next flush
EVENTS_PER_ACTIVE_STEP = 2.8  # posts, likes, follows... (0.28 per user-step at mean 0.1)


def expected_edges(sc: Scenario) -> float:
    """Follow edges a generated graph will have (about ``users * mean_degree``)."""
    g, n = sc.graph, sc.users
    if g.kind == "random_geometric" and g.radius is not None:
        return float(n) * min(n - 1.0, n * math.pi * g.radius**2)
    return float(n) * g.mean_degree


def citizen_visits(activity: np.ndarray, citizens: np.ndarray, daily_share: float) -> np.ndarray:
    """Each user's chance to open the app in a step: its activity, except that with a
    ``daily_share`` every citizen's is its activity times the one factor that brings that
    share of citizens (the most active) to one visit a step, capped at 1. Scaling keeps
    the order of users and their relative rates; it never lowers one."""
    visits = activity.copy()
    if daily_share <= 0.0 or not citizens.any():
        return visits
    cut = float(np.quantile(activity[citizens], 1.0 - daily_share))
    if cut > 0.0:
        visits[citizens] = np.minimum(1.0, activity[citizens] / cut)
    return np.maximum(visits, activity)


def estimate_bytes(sc: Scenario, users: int, edges: float) -> float:
    """Peak bytes of building ``sc`` with ``users`` users and ``edges`` initial follows,
    then running it for ``sc.steps`` steps."""
    mean = sc.population.activity.mean
    active = min(1.0, 1.5 * mean)  # heavy-tailed rates clipped at 1: measured ~1.3x mean
    # visits beyond the activity: the daily share reads every step, the rest scaled up
    daily = sc.population.activity.daily_share
    active = min(1.0, active + 1.5 * daily)
    reading = active if daily > 0 else mean  # likes, reposts and follows come with visits
    record = {"all": 1.0, "sample": sc.record.sample_rate, "none": 0.0}[sc.record.events]
    buffered_steps = min(sc.steps, sc.record.flush_every)
    build = users * BYTES_PER_USER + edges * BYTES_PER_EDGE_BUILD
    readers = users * active
    # scripted citizens under a rule that moves readers apart are fed and act in parts
    # of CHUNK_ROWS readers (World.step): only a part's feeds are held at once
    in_parts = sc.roles.citizen.policy == "scripted" and sc.opinion.rule in (
        "bounded_confidence",
        "hegselmann_krause",
    )
    fed_at_once = min(readers, CHUNK_ROWS) if in_parts else readers
    kept = readers * (sc.feed.k * BYTES_PER_KEPT_SLOT + BYTES_PER_KEPT_READER) if in_parts else 0
    run = (
        users * BYTES_PER_USER
        + edges * BYTES_PER_EDGE_RUN
        + fed_at_once * sc.feed.k * BYTES_PER_FEED_SLOT
        + kept
        + users * mean * sc.steps * POST_ROWS_PER_ACTIVE_STEP * BYTES_PER_POST_ROW
        + users * reading * buffered_steps * EVENTS_PER_ACTIVE_STEP * BYTES_PER_EVENT * record
    )
    return max(build, run)


def expected_post_rows(sc: Scenario, users: int) -> int:
    """Posts, replies and reposts a run of ``sc`` will likely have written by its last
    step, with half again to spare (the default scenario writes 0.09 a user-step at 10^6
    and 10^7 users; this allows 0.105): what the run reserves in the post store."""
    return int(1.5 * users * sc.population.activity.mean * sc.steps * POST_ROWS_PER_ACTIVE_STEP)


def available_bytes() -> int:
    """Memory this process can still take: free RAM, or a cgroup limit if lower."""
    available = psutil.virtual_memory().available
    try:  # cgroup v2 (containers): psutil reports the host's memory
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit.isdigit() and used.isdigit():
            available = min(available, max(int(limit) - int(used), 0))
    except OSError:
        pass
    return int(available)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # unreachable


def check_memory(sc: Scenario, users: int, edges: float, what: str) -> None:
    """Refuse a world whose estimated peak memory exceeds what the machine has free."""
    need = estimate_bytes(sc, users, edges)
    have = available_bytes()
    if need > have:
        raise UserError(
            f"{what}: needs about {_size(need)} of memory, more than the {_size(have)} "
            f"this machine has available (estimated for {users:,} users, {edges:,.0f} "
            f"follows, feed.k {sc.feed.k} and {sc.steps:,} steps)"
        )


def max_users_that_fit() -> int:
    """Most users any world could have in the memory available now (no edges, no run)."""
    return max(1, available_bytes() // BYTES_PER_USER)


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
            load_polblogs(g.path)
            if g.kind == "polblogs"
            else load_edge_list(g.path, g.directed, max_users=max_users_that_fit())
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


def _learned_detector(m, n: int):
    """``moderation.detector: learned``: the classifier ``moderation.model`` names."""
    from .roles.detector import ClassifierDetector, DetectorFileError, detector_from
    from .world.moderation import catch_probability

    try:
        model = detector_from(m.model)
    except DetectorFileError as exc:
        raise UserError(f"moderation.model: {exc}") from None
    catch = catch_probability(m.survival, m.survival_days, m.step_days, m.check_every)
    return ClassifierDetector(n, model, m.check_every, catch)


def _policy(role_name: str, cfg, n: int):
    """The policy a role's ``policy`` line names (`policies.registry`), as a one-line
    error naming the role when it cannot be used."""
    from .policies.anchor import AnchorError
    from .policies.learned import CheckpointError
    from .text.backend import TextBackendError

    try:
        return resolve_policy(role_name, cfg, n)
    except CheckpointError as exc:
        raise UserError(f"roles.{role_name}.policy: {exc}") from None
    except AnchorError as exc:
        raise UserError(f"roles.{role_name}.anchor: {exc}") from None
    except TextBackendError as exc:  # a language model that cannot be loaded
        raise UserError(f"roles.{role_name}.policy: {exc}") from None
    except ImportError as exc:  # a language model backend without its extra
        raise UserError(
            f"roles.{role_name}.policy: {cfg.policy} needs the text extra (pip install -c "
            f"constraints.txt -e '.[text]'; missing {exc.name})"
        ) from None
    except ValueError as exc:  # the registry's own message names role and value
        raise UserError(str(exc)) from None


def _learning(role: Role, cfg, policy, roles: np.ndarray, graph: FollowGraph, seed: int):
    """The role's policy, wrapped in a learning population (docs/population.md) when its
    users learn how often to post or whom to follow; as it is otherwise."""
    if cfg.posting == "scripted" and cfg.following == "scripted":
        return policy
    members = np.flatnonzero(roles == role)
    edges = int(graph.out_deg[members].sum(dtype=np.int64))
    # the users' posting rates come from a stream of their own, so drawing them changes
    # no other draw of the world
    rates = np.random.default_rng(np.random.SeedSequence([seed, 0x706F7374, int(role)]))
    return LearningPopulation(role.label, cfg, policy, members, graph.n, edges, rates)


def _election(sc: Scenario, candidates: np.ndarray) -> Election | None:
    e = sc.election
    if not e.held:
        return None
    return Election(
        candidates,
        days=tuple(e.days),
        poll_every=e.poll_every,
        panel=e.panel,
        turnout=e.turnout,
        alienation=e.alienation,
        engagement=e.engagement,
    )


def build_world(
    sc: Scenario, detector: Detector | Callable[[int], Detector] | None = None
) -> tuple[World, Scenario]:
    """Build the world a scenario describes. Returns it with the resolved scenario
    (``users`` replaced by the size of a real network read from disk).

    ``detector``: any object following the `Detector` protocol, or a function of the
    user count making one, instead of the one ``moderation.detector`` names."""
    # (children are told apart by index: a fourth leaves the first three as they were)
    seeds = np.random.SeedSequence(sc.seed).spawn(4)
    rng_graph, rng_pop = (np.random.Generator(np.random.PCG64(s)) for s in seeds[:2])

    if sc.graph.kind in GENERATED_GRAPHS:
        check_memory(sc, sc.users, expected_edges(sc), "scenario")
    src, dst, community, loaded = _graph(sc, rng_graph)
    notes: list[str] = []
    if loaded is not None:
        sc = resolve_users(sc, loaded.n)
        check_memory(sc, loaded.n, float(loaded.src.size), f"graph.path {sc.graph.path}")
        notes = [f"graph.path {note}" for note in loaded.notes]
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
        visits=citizen_visits(activity, role == Role.CITIZEN, act.daily_share),
    )
    policies = {Role(i): _policy(name, getattr(r, name), n) for i, name in enumerate(ROLE_NAMES)}
    if r.citizen.expression == "social_rl":
        policies[Role.CITIZEN] = SocialRLCitizen.from_opinions(
            r.citizen, opinion[:, 0], np.flatnonzero(role == Role.CITIZEN)
        )
    for learner in (Role.CITIZEN, Role.INFLUENCER):
        cfg = getattr(r, learner.label)
        policies[learner] = _learning(learner, cfg, policies[learner], role, graph, sc.seed)
    f = sc.feed
    recommender = Recommender(
        f.ranking,
        f.k,
        f.window,
        f.trending,
        f.half_life,
        f.out_of_network,
        seed=int(seeds[3].generate_state(2, np.uint64)[0]),
        step_days=sc.moderation.step_days,
    )
    m = sc.moderation
    if detector is None and m.detector == "learned":
        detector = _learned_detector(m, n)
    if detector is None:
        detector = make_detector(m, n)
    elif not isinstance(detector, Detector) and callable(detector):
        detector = detector(n)
    if not isinstance(detector, Detector):
        raise TypeError(
            f"detector: {type(detector).__name__} does not follow the Detector protocol"
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
        election=_election(sc, cand),
        who_to_follow=_who_to_follow(sc, seeds[3]),
        offered=frozenset(name for name in OPTIONAL_ACTION_NAMES if getattr(sc.actions, name)),
        search_results=sc.actions.search_results,
        feed_experiment=_feed_experiment(sc, role, seeds[3]),
    )
    world.build_notes = notes
    for i, q in enumerate(sc.interviews):
        # a network read from a file sets its own size (the schema checks generated ones)
        if q.user >= n:
            raise UserError(
                f"interviews[{i}].user: there is no user {q.user} in this world of {n:,} "
                f"users (ids 0 to {n - 1})"
            )
    return world, sc


def give_text_to_policies(world: World, layer) -> None:
    """Hand the text layer to policies that write their own words (planning candidates'
    filtered messages); a stance reader they cannot load is one line."""
    for role, policy in world.policies.items():
        if not hasattr(policy, "use_text"):
            continue
        try:
            policy.use_text(layer)
        except (ImportError, FileNotFoundError) as exc:
            raise UserError(
                f"roles.{role.label}.policy: its messages need a stance reader for "
                f"text.backend {layer.cfg.backend} ({' '.join(str(exc).split())[:160]})"
            ) from None


def _who_to_follow(sc: Scenario, seed: np.random.SeedSequence) -> WhoToFollow | None:
    """The scenario's follow recommender, or None (``who_to_follow.recommender: none``)."""
    w = sc.who_to_follow
    if w.recommender == "none":
        return None
    recommender = follow_recommender(w.recommender, walks=w.walks, restart=w.restart)
    return WhoToFollow(recommender, w.count, int(seed.generate_state(2, np.uint64)[1]))


def _feed_experiment(sc: Scenario, role: np.ndarray, seed) -> FeedExperiment | None:
    """The scenario's feed experiment (``feed.experiment``), or None (share 0): each
    citizen treated with chance ``share``, from a stream of the experiment's own."""
    e, f = sc.feed.experiment, sc.feed
    if e.share <= 0:
        return None
    rng = np.random.Generator(np.random.PCG64(seed.spawn(1)[0]))
    treated = (role == Role.CITIZEN) & (rng.random(role.shape[0]) < e.share)
    recommender = Recommender(
        e.ranking, f.k, f.window, f.trending, f.half_life, f.out_of_network,
        seed=int(seed.generate_state(3, np.uint64)[2]),
        step_days=sc.moderation.step_days,
    )  # fmt: skip
    return FeedExperiment(treated, recommender, e.start)
