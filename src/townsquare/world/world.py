"""The World: platform state and the step pipeline.

One step: policies that plan look at the world (``prepare``) -> activate users -> build
feeds -> ask each role's policy for actions (one batch per role) -> apply posts, replies,
reposts, likes, follows, unfollows, platform moves -> detector check -> opinion update ->
polls and election days -> record. The World knows nothing about learning libraries; it only
calls the `Policy` objects it was given.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numba
import numpy as np

from . import checks
from .actions import (
    OPTIONAL_ACTION_NAMES,
    OPTIONAL_ACTIONS,
    Actions,
    Observations,
    Policy,
    StepContext,
)
from .draws import uniforms
from .election import Election, ElectionEvents
from .feed import FeedExtras, FeedItems, FeedWindow, Recommender, compact_feeds
from .graph import FollowGraph
from .moderation import ActivityDetector, Detector
from .moments import opinion_moments
from .opinion.platform import (
    COMPACT_RULES,
    OPINION_RULES,
    ORDER_DEPENDENT,
    close_mean_compact,
)
from .population import Population, Role
from .posts import PostKind, PostStore
from .who_to_follow import WhoToFollow

#: the optional actions a platform offers unless its scenario says otherwise: Twitter/X's
#: (it has no down-vote)
OFFERED_BY_DEFAULT = ("quote", "mention", "mute", "report", "search")
RNG_STREAMS = (
    "activation",
    "citizen",
    "influencer",
    "candidate",
    "socialbot",
    "moderation",
    "opinion",
    "election",
)
#: streams a checkpoint may lack: one written before the stream existed never drew from
#: it, so the stream's fresh state continues it exactly
OPTIONAL_STREAMS = frozenset({"election"})
PHASES = ("activate", "feed", "act", "apply", "moderate", "opinion", "record")
#: readers of a rowwise role fed and asked at once by `World.step`: their (readers x k)
#: arrays (about 37 bytes a slot) stay near 200 MB at k = 20 however large the world
CHUNK_ROWS = 1 << 18


def _read_only(view: np.ndarray) -> np.ndarray:
    """A view a policy can read but not write (it is the step's own array)."""
    view = view.view()
    view.flags.writeable = False
    return view


@dataclass
class _Turn:
    """A step between `begin_step` and `finish_step`: who is active and what they read."""

    active: np.ndarray
    window: FeedWindow  # the posts feeds offer this step, indexed once
    observations: dict  # Role -> Observations, for every role not fed in parts
    rows_of: dict  # Role -> slice: the role's rows of the step's arrays
    can_post: np.ndarray  # bool per active user: a session its activity gives
    extras: FeedExtras | None = None  # mutes, mentions and searches of the step's feeds


@dataclass
class StepEvents:
    """Everything that happened in one step, as columns, for the recorder."""

    step: int
    post_id: np.ndarray
    post_author: np.ndarray
    post_kind: np.ndarray
    post_parent: np.ndarray
    post_stance: np.ndarray
    post_topic: np.ndarray
    like_user: np.ndarray
    like_post: np.ndarray
    follow_src: np.ndarray
    follow_dst: np.ndarray
    follow_action: np.ndarray  # +1 follow, -1 unfollow
    suspended: np.ndarray
    metrics: dict[str, float | int] = field(default_factory=dict)
    post_text: list[str] | None = None  # filled by a text layer outside the world
    election: ElectionEvents | None = None  # the poll and vote held this step, if any
    #: decisions planners logged this step: columns of ``plans`` rows (policies/planner.py)
    plans: list[dict] = field(default_factory=list)
    # the optional actions (docs/platform.md): who disliked, reported, muted, searched
    dislike_user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dislike_post: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    report_user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    report_post: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    report_author: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mention_post: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mention_target: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: mentions not delivered: of a suspended account, or of the author itself
    mentions_dropped: int = 0
    mute_src: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mute_dst: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mute_action: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    search_user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    search_topic: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def bimodality_coefficient(x: np.ndarray) -> float:
    """Sarle's bimodality coefficient of a 1-D array of opinions, in float64 (REALISM:
    > 5/9 suggests two camps); NaN if n < 4 or the values are all equal
    (`moments.opinion_moments`)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 1:
        raise ValueError(f"bimodality_coefficient: a 1-D array of opinions, not shape {x.shape}")
    return opinion_moments(x)[2]


class World:
    """A platform with its users, follow graph, posts, feed recommender and detector."""

    def __init__(
        self,
        population: Population,
        graph: FollowGraph,
        recommender: Recommender,
        detector: Detector,
        policies: Mapping[Role, Policy],
        seed: int | np.random.SeedSequence,
        opinion_epsilon: float = 0.4,
        opinion_mu: float = 0.1,
        opinion_rule: str = "bounded_confidence",
        election: Election | None = None,
        who_to_follow: WhoToFollow | None = None,
        offered: frozenset[str] = frozenset(OFFERED_BY_DEFAULT),
        search_results: int = 10,
        feed_experiment: FeedExperiment | None = None,
    ):
        if graph.n != population.n:
            raise ValueError(f"graph has {graph.n} users but population has {population.n}")
        for role in Role:
            if population.ids_of(role).size and role not in policies:
                raise ValueError(f"no policy given for role {role.label!r}")
        self.population = population
        self.graph = graph
        #: the optional actions the platform offers (the scenario's ``actions``)
        self.offered = frozenset(offered)
        unknown = self.offered - set(OPTIONAL_ACTION_NAMES)
        if unknown:
            raise ValueError(f"unknown actions {sorted(unknown)}")
        self.search_results = int(search_results)
        #: a feed experiment: treated citizens read another ranking (docs/platform.md)
        self.feed_experiment = feed_experiment
        self._tally = None if feed_experiment is None else _ExperimentTally()
        self._treated: tuple | None = None  # the step's window of the treated, if any
        self.posts = PostStore(
            capacity=max(1024, population.n // 4), dislikes="dislike" in self.offered
        )
        #: who muted whom (u -> v: u never sees v), made at the first mute
        self.mutes: FollowGraph | None = None
        #: int16 (n,): the topic each user searched at its last visit, -1 for none; made at
        #: the first search, read (and reset) at the user's next feed
        self.pending_search: np.ndarray | None = None
        self.recommender = recommender
        self.detector = detector
        self.policies = dict(policies)
        self.opinion_epsilon = float(opinion_epsilon)
        self.opinion_mu = float(opinion_mu)
        if opinion_rule not in OPINION_RULES:
            raise ValueError(f"unknown opinion rule {opinion_rule!r}")
        self.opinion_rule = OPINION_RULES[opinion_rule]
        self.election = election
        self.who_to_follow = who_to_follow
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.rngs = {
            name: np.random.Generator(np.random.PCG64(s))
            for name, s in zip(RNG_STREAMS, seq.spawn(len(RNG_STREAMS)), strict=True)
        }
        # a checkpoint without an optional stream continues it from here (`load_state`)
        self._fresh_streams = {
            name: self.rngs[name].bit_generator.state for name in OPTIONAL_STREAMS
        }
        if hasattr(detector, "use_rng"):  # a detector that draws takes the world's stream
            detector.use_rng(self.rngs["moderation"])
        self.t = 0
        #: readers of a rowwise role fed and asked at once by `step` (`CHUNK_ROWS`)
        self.chunk_rows = CHUNK_ROWS
        self.cursor = np.full(population.n, -1, np.int64)  # last post id each user was shown
        self.phase_seconds = dict.fromkeys(PHASES, 0.0)
        self._opinion_group = _measured_users(population)
        self._turn: _Turn | None = None
        #: one-line notes from building the world for the user (`build_world` fills them)
        self.build_notes: list[str] = []

    @property
    def n(self) -> int:
        return self.population.n

    # ------------------------------------------------------------------ step
    def step(self) -> StepEvents:
        """Advance one step: `begin_step` then `finish_step`. Rowwise roles (see
        `_rowwise_roles`) are fed and act in parts of `chunk_rows` readers here, so a
        large world never holds their (readers x k) arrays all at once."""
        self._begin(chunked=True)
        return self.finish_step()

    def begin_step(self) -> dict[Role, Observations]:
        """Activate users and build their feeds: the observations each role's policy will
        be asked about in `finish_step`. RL environments read them in between, to hand a
        learner its observation before it chooses an action."""
        return self._begin(chunked=False)

    def _begin(self, chunked: bool) -> dict[Role, Observations]:
        if self._turn is not None:
            raise RuntimeError("begin_step called twice without finish_step")
        # policies that plan look at the world as it stands before the step (a planner
        # keeps a fork to roll out from)
        for policy in self.policies.values():
            if hasattr(policy, "prepare"):
                policy.prepare(self)
        pop, graph, posts = self.population, self.graph, self.posts
        t = self.t
        clock = time.perf_counter()

        # 1. who opens the app this step
        # one draw per user: it visits below its visit rate, and may post in the visits
        # its activity alone would give (visits >= activity), so posting does not change
        # with visits
        draw = uniforms(self.rngs["activation"], self.n)  # rng.random's, on all cores
        active = np.flatnonzero((draw < pop.visits) & ~pop.suspended)
        # grouped by role, by id within a role: each role's rows are one slice of the
        # step's arrays, so its observations are views, not copies
        role_of_active = pop.role[active]
        by_role = np.argsort(role_of_active, kind="stable")
        active, role_of_active = active[by_role], role_of_active[by_role]
        can_post = draw[active] < pop.activity[active]
        clock = self._lap("activate", clock)

        # 2. feeds; the read cursor makes every post reach a user at most once. A reader's
        # feed depends on the window and on nobody else, so building it role by role (or
        # part by part, `finish_step`) gives every reader the same feed
        window = self.recommender.window_of(graph, posts, pop.opinion, pop.suspended, t)
        extras = self.recommender.extras_of(
            window, posts, pop.suspended, self.mutes, self.pending_search, self.search_results
        )
        treated = None
        exp = self.feed_experiment
        if exp is not None and t >= exp.start:
            # the treated rank the same window's posts; mutes, mentions and searches are
            # the platform's, whatever the ranking
            window_t = exp.recommender.window_of(graph, posts, pop.opinion, pop.suspended, t)
            treated = (window_t, extras)
        self._treated = treated
        rows_of: dict[Role, slice] = {}
        bounds = np.searchsorted(role_of_active, np.arange(len(Role) + 1))
        for role in Role:
            lo, hi = int(bounds[role]), int(bounds[role + 1])
            if hi > lo:
                rows_of[role] = slice(lo, hi)
        in_parts = self._rowwise_roles(rows_of) if chunked else set()
        observations: dict[Role, Observations] = {}
        for role, rows in rows_of.items():
            if role not in in_parts:
                observations[role] = self._observe(role, active, rows, window, can_post, extras)
        self._turn = _Turn(active, window, observations, rows_of, can_post, extras)
        self._lap("feed", clock)
        return observations

    def _rowwise_roles(self, rows_of: dict[Role, slice]) -> set[Role]:
        """Roles fed and acting in parts in `step`: those whose policy acts on each reader
        by itself (``rowwise = True``: any split of a batch is a batch, nothing is kept
        between calls) and reads no words, under an opinion rule that moves readers
        apart and reads feeds kept as their shown slots (`COMPACT_RULES`). A role of at
        most `chunk_rows` readers is one part: exactly as unsplit."""
        if self.opinion_rule not in COMPACT_RULES:
            return set()
        return {
            role
            for role in rows_of
            if getattr(self.policies[role], "rowwise", False)
            and not getattr(self.policies[role], "reads_text", False)
        }

    def _observe(self, role, active, rows, window, can_post, extras=None) -> Observations:
        """Build the feeds of ``active[rows]`` (moving their read cursors past them and
        answering their searches) and what the role's policy sees of them."""
        pop, graph, posts, t = self.population, self.graph, self.posts, self.t
        users = active[rows]
        items = self._items(window, users, extras)
        if len(posts):
            self.cursor[users] = len(posts) - 1
        if self.pending_search is not None:
            self.pending_search[users] = -1
        # the shown slots, found once: views, the scripted rules, the actions taken on
        # slots and the opinion rule read them instead of scanning the (n, k) feed again
        shown = compact_feeds(items.feed, len(posts))
        posts.count_shown("views", shown[2])
        feed = _read_only(items.feed)
        return Observations(
            step=t,
            role=role,
            users=_read_only(users),
            opinion=pop.opinion[users],
            followers=graph.in_deg[users],
            followees=graph.out_deg[users],
            feed=feed,
            feed_author=_read_only(items.author),
            feed_stance=_read_only(items.stance),
            feed_topic=_read_only(items.topic),
            feed_likes=_read_only(items.likes),
            feed_followed=_read_only(items.followed),
            n_users=self.n,
            topics=pop.topics,
            feed_text=self._feed_text(role, items.feed),
            can_post=_read_only(can_post[rows]),
            campaign=(
                self.election.campaign(t, pop, graph.in_deg)
                if role == Role.CANDIDATE and self.election is not None
                else None
            ),
            all_followers=graph.in_deg,
            all_followees=graph.out_deg,
            suggest=None if self.who_to_follow is None else functools.partial(self._suggest, users),
            trending_topics=(
                None if window.trending_topics is None else _read_only(window.trending_topics)
            ),
            shown_index=(feed, *(_read_only(a) for a in shown)),
        )

    def _items(self, window, users: np.ndarray, extras) -> FeedItems:
        """The feeds of ``users``. In a feed experiment (from its start step on) the
        treated read their own ranking and the others the platform's, each built once;
        what every citizen read is tallied by arm."""
        exp = self.feed_experiment
        treated = None if self._treated is None else exp.treated[users]
        if treated is None or not treated.any():
            items = self.recommender.items_in(window, users, self.cursor, extras)
        else:
            window_t, extras_t = self._treated
            arms = (
                (~treated, self.recommender.items_in, window, extras),
                (treated, exp.recommender.items_in, window_t, extras_t),
            )
            items = None
            for rows, build, arm_window, arm_extras in arms:
                got = build(arm_window, users[rows], self.cursor, arm_extras)
                if items is None:
                    items = FeedItems(*(np.empty((users.size, *a.shape[1:]), a.dtype) for a in got))
                for whole, part in zip(items, got, strict=True):
                    whole[rows] = part
        if exp is not None:
            self._tally.read(self.population, exp.treated, users, items)
        return items

    def _suggest(self, users: np.ndarray, rows: np.ndarray):
        """Who to follow for ``users[rows]``, in the state the step's feeds were built in
        (follows apply only after every role has acted)."""
        pop = self.population
        rows = np.asarray(rows, np.int64)
        return self.who_to_follow.suggest(
            self.graph, pop.opinion, pop.suspended, self.t, users[rows]
        )

    def _feed_text(self, role: Role, feed: np.ndarray) -> np.ndarray | None:
        """The words of each feed slot, for a role whose policy reads them."""
        policy = self.policies.get(role)
        if not getattr(policy, "reads_text", False) or not self.posts.text:
            return None
        words = np.full(feed.shape, None, object)
        shown = feed >= 0
        text = self.posts.text
        words[shown] = [text.get(pid) for pid in feed[shown].tolist()]
        return words

    def finish_step(self) -> StepEvents:
        """Ask each role's policy for actions on the observations of `begin_step`, apply
        them, moderate, update opinions and record."""
        turn = self._turn
        if turn is None:
            raise RuntimeError("finish_step called before begin_step")
        self._turn = None
        pop = self.population
        t = self.t
        k = self.recommender.k
        clock = time.perf_counter()

        # 3. one batch per role, in role order; a rowwise role's in parts of chunk_rows
        # readers, each fed, asked and boiled down to what the step keeps of it (its
        # actions on feed slots, the stances and topics it read) before the next
        batches: list[_Batch] = []
        reads: list[_Reads] = []
        for role, rows in turn.rows_of.items():
            policy, rng = self.policies[role], self.rngs[role.label]
            obs = turn.observations.get(role)
            if obs is not None:
                acts = policy.act(obs, rng)
                acts.check(rows.stop - rows.start, k, pop.topics)
                self._check_offered(acts)
                clock = self._lap("act", clock)
                batches.append(_Batch.of(acts, obs))
                reads.append(_Reads.of(obs))
                clock = self._lap("apply", clock)
                continue
            parts = []
            for lo in range(rows.start, rows.stop, self.chunk_rows):
                part = slice(lo, min(lo + self.chunk_rows, rows.stop))
                obs = self._observe(
                    role, turn.active, part, turn.window, turn.can_post, turn.extras
                )
                clock = self._lap("feed", clock)
                acts = policy.act(obs, rng)
                acts.check(part.stop - part.start, k, pop.topics)
                self._check_offered(acts)
                clock = self._lap("act", clock)
                parts.append(_Batch.of(acts, obs))
                reads.append(_Reads.of(obs, compact=True))
                del obs, acts
                clock = self._lap("apply", clock)
            batches.extend(parts)  # rows in order: `_apply` lays every batch end to end once

        # 4. apply, in role order (deterministic); learning policies get their feedback
        events = self._apply(t, turn.active, batches, turn.can_post)
        events.plans = [
            plan
            for policy in self.policies.values()
            if hasattr(policy, "take_plans")
            for plan in policy.take_plans()
        ]
        self._feedback_to_learners(t, events)
        clock = self._lap("apply", clock)

        # 5. moderation: count visible actions per user, then the detector's check
        touched = np.concatenate([events.post_author, events.follow_src[events.follow_action > 0]])
        per_user = np.bincount(touched, minlength=self.n).astype(np.float64)
        self.detector.observe(per_user, events)
        events.suspended = self.detector.check(t, pop.suspended)
        clock = self._lap("moderate", clock)

        # 6. opinions move toward what users read
        # Readers move apart from each other: batch by batch is as all at once. A rule
        # that draws gives its draws to readers in turn: all of them at once, by id.
        # (With nobody active a rule would return at once.)
        dense = [r for r in reads if r.compact is None]
        if self.opinion_rule in ORDER_DEPENDENT and dense:
            users, stance, topic, shown = (
                np.concatenate(a) for a in zip(*(r.dense() for r in dense), strict=True)
            )
            by_id = np.argsort(users, kind="stable")
            dense = [_Reads(users[by_id], (stance[by_id], topic[by_id], shown[by_id]))]
            del users, stance, topic, shown
        rule_args = (pop.susceptibility, self.opinion_epsilon, self.opinion_mu)
        for r in dense:
            self.opinion_rule(pop.opinion, *r.dense(), *rule_args, self.rngs["opinion"])
        for r in reads:
            if r.compact is not None:
                stance, topic = self.posts.stance, self.posts.topic
                close_mean_compact(
                    self.opinion_rule, pop.opinion, r.users, r.compact, k, stance, topic, *rule_args
                )
        clock = self._lap("opinion", clock)

        # 7. polls and election days, on the opinions as they now stand
        if self.election is not None:
            events.election = self.election.hold(t, pop, self.rngs["election"])

        # 8. record
        self._treated = None
        self.posts.end_step()
        events.metrics = self._metrics(t, turn.active, events)
        self.t += 1
        self._lap("record", clock)
        return events

    def _check_offered(self, acts: Actions) -> None:
        """A batch takes only the actions the platform offers (the scenario's ``actions``),
        on accounts that exist: checked before anything of the step is applied."""
        for name, action in OPTIONAL_ACTIONS.items():
            if getattr(acts, name) is not None and action not in self.offered:
                raise ValueError(
                    f"Actions.{name}: this platform offers no {action} "
                    f"(the scenario's actions.{action} is false)"
                )
        for name in ("mention", "mute", "unmute"):
            ids = getattr(acts, name)
            if ids is not None and ids.size and ids.max() >= self.n:
                raise ValueError(
                    f"Actions.{name}: there is no account {int(ids.max())} (n = {self.n})"
                )

    def _lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phase_seconds[phase] += now - since
        return now

    def _apply(self, t, active, batches: list[_Batch], can_post) -> StepEvents:
        posts, graph = self.posts, self.graph
        if not batches:
            batches = [_Batch.of(Actions.nothing(0, self.recommender.k), None)]
        # every batch's rows one after the other: the rows of the step's `active`
        b = _Batch.joined(batches)
        users = active[: b.post.shape[0]]
        # a visit that is not a session of the user's activity reads, likes, reposts,
        # replies and follows, but writes no post
        writes = b.post & can_post[: users.shape[0]]

        # a platform moved (candidates): the user's topic-0 opinion is its position
        if b.position is not None:
            to = ~np.isnan(b.position)
            movers = users[to]
            if (self.population.role[movers] != Role.CANDIDATE).any():
                # an opinion moves by the opinion rule; only a platform is stated
                raise ValueError("Actions.position: only candidates move a platform")
            self.population.opinion[movers, 0] = b.position[to]

        # original posts, then replies, then reposts: ids stay contiguous within the step
        writers = users[writes]
        new_ids = [
            posts.add(
                writers,
                t,
                PostKind.POST,
                np.clip(b.post_stance[writes], -1, 1),
                b.post_topic[writes],
                text=None if b.post_text is None else b.post_text[writes].tolist(),
            )
        ]
        new_ids.append(
            posts.add(
                users[b.reply_row],
                t,
                PostKind.REPLY,
                np.clip(b.reply_stance, -1, 1),
                b.reply_topic,
                parent=b.reply_parent,
                text=None if b.reply_text is None else b.reply_text.tolist(),
            )
        )
        new_ids.append(
            posts.add(
                users[b.repost_row],
                t,
                PostKind.REPOST,
                b.repost_stance,
                b.repost_topic,
                parent=b.repost_parent,
            )
        )
        # quotes: shares with a stance (and words) of their own, after the step's reposts
        new_ids.append(
            posts.add(
                users[b.quote_row],
                t,
                PostKind.QUOTE,
                np.clip(b.quote_stance, -1, 1),
                b.quote_topic,
                parent=b.quote_parent,
            )
        )
        posts.count("replies", b.reply_parent)
        posts.count("reposts", b.repost_parent)
        posts.count("reposts", b.quote_parent)  # a quote shares its post, as OASIS counts it
        liked = b.like_post
        posts.count("likes", liked)
        if self._tally is not None:
            self._tally.act(self.population, self.feed_experiment.treated, users, writes, b)
        if b.dislike_post.size:
            posts.count("dislikes", b.dislike_post)
        no_ids = np.zeros(0, np.int64)
        mention_post, mention_target, dropped = (
            (no_ids, no_ids, 0)
            if b.mention is None
            else self._mentions(new_ids[0], b.mention[writes])
        )
        posts.mention(mention_post, mention_target)
        mute_src, mute_dst, mute_action = self._mute(
            users,
            np.zeros((users.shape[0], 0), np.int64) if b.mute is None else b.mute,
            np.zeros((users.shape[0], 0), np.int64) if b.unmute is None else b.unmute,
        )
        searching = np.zeros(users.shape[0], bool) if b.search is None else b.search >= 0
        if searching.any():
            if self.pending_search is None:
                self.pending_search = np.full(self.n, -1, np.int16)
            self.pending_search[users[searching]] = b.search[searching]

        # follows, then unfollows; self-follows and duplicates are dropped by the graph
        fu = np.repeat(users, b.follow.shape[1])
        fv = b.follow.ravel()
        ok = fv >= 0
        fu, fv = fu[ok], fv[ok]
        applied = graph.follow(fu, fv)
        np.add.at(self.population.follows_made, fu[applied], 1)
        uu = np.repeat(users, b.unfollow.shape[1])
        uv = b.unfollow.ravel()
        ok = uv >= 0
        uu, uv = uu[ok], uv[ok]
        removed = graph.unfollow(uu, uv)

        ids = np.concatenate(new_ids)
        return StepEvents(
            step=t,
            post_id=ids,
            post_author=posts.author[ids].astype(np.int64),
            post_kind=posts.kind[ids],
            post_parent=posts.parent[ids],
            post_stance=posts.stance[ids],
            post_topic=posts.topic[ids],
            like_user=users[b.like_row],
            like_post=liked,
            follow_src=np.concatenate([fu[applied], uu[removed]]),
            follow_dst=np.concatenate([fv[applied], uv[removed]]),
            follow_action=np.concatenate(
                [np.ones(applied.sum(), np.int8), -np.ones(removed.sum(), np.int8)]
            ),
            suspended=np.zeros(0, np.int64),
            post_text=(
                None
                if b.post_text is None and b.reply_text is None
                else [posts.text.get(pid) for pid in ids.tolist()]
            ),
            dislike_user=users[b.dislike_row],
            dislike_post=b.dislike_post,
            report_user=users[b.report_row],
            report_post=b.report_post,
            report_author=posts.author[b.report_post].astype(np.int64),
            mention_post=mention_post,
            mention_target=mention_target,
            mentions_dropped=dropped,
            mute_src=mute_src,
            mute_dst=mute_dst,
            mute_action=mute_action,
            search_user=users[searching],
            search_topic=no_ids if b.search is None else b.search[searching],
        )

    def _mentions(self, written: np.ndarray, target: np.ndarray):
        """The mentions of the step's original posts (``written``, one target each, -1:
        none): delivered ones as (posts, targets), and how many were dropped, being of a
        suspended account or of the author itself (docs/platform.md)."""
        made = target >= 0
        if not made.any():
            return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
        post, target = written[made], target[made].astype(np.int64)
        ok = ~self.population.suspended[target] & (target != self.posts.author[post])
        return post[ok], target[ok], int((~ok).sum())

    def _mute(self, users: np.ndarray, mute: np.ndarray, unmute: np.ndarray):
        """Apply mutes, then unmutes (self-mutes and repeats are dropped, as follows are);
        the graph of mutes is made at the first one."""
        mu = np.repeat(users, mute.shape[1])
        mv = mute.ravel()
        ok = mv >= 0
        mu, mv = mu[ok], mv[ok]
        uu = np.repeat(users, unmute.shape[1])
        uv = unmute.ravel()
        ok = uv >= 0
        uu, uv = uu[ok], uv[ok]
        if mu.size == 0 and (uu.size == 0 or self.mutes is None):
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8)
        if self.mutes is None:
            self.mutes = FollowGraph(self.n)
        muted = self.mutes.follow(mu, mv)
        unmuted = self.mutes.unfollow(uu, uv)
        return (
            np.concatenate([mu[muted], uu[unmuted]]).astype(np.int64),
            np.concatenate([mv[muted], uv[unmuted]]).astype(np.int64),
            np.concatenate([np.ones(muted.sum(), np.int8), -np.ones(unmuted.sum(), np.int8)]),
        )

    def _feedback_to_learners(self, t: int, ev: StepEvents) -> None:
        """Hand each policy that learns online (``learn``) the step just applied: what it
        means for the policy is its role's to say, not the world's."""
        context = StepContext(t, ev, self)
        for policy in self.policies.values():
            if hasattr(policy, "learn"):
                policy.learn(context)

    def _metrics(self, t: int, active: np.ndarray, ev: StepEvents) -> dict[str, float | int]:
        pop = self.population
        kinds = np.bincount(ev.post_kind, minlength=4)
        row: dict[str, float | int] = {
            "step": t,
            "active_users": int(active.size),
            "posts": int(kinds[PostKind.POST]),
            "replies": int(kinds[PostKind.REPLY]),
            "reposts": int(kinds[PostKind.REPOST]),
            "likes": int(ev.like_post.size),
            "quotes": int(kinds[PostKind.QUOTE]),
            "dislikes": int(ev.dislike_post.size),
            "mentions": int(ev.mention_post.size),
            "reports": int(ev.report_post.size),
            "mutes": int((ev.mute_action > 0).sum()),
            "unmutes": int((ev.mute_action < 0).sum()),
            "searches": int(ev.search_user.size),
            "follows": int((ev.follow_action > 0).sum()),
            "unfollows": int((ev.follow_action < 0).sum()),
            "suspended": int(ev.suspended.size),
            "suspended_total": int(pop.suspended.sum()),
            "bots_active_share": _active_share(pop, Role.SOCIALBOT),
            "follow_edges": self.graph.edge_count,
        }
        for topic in range(pop.topics):
            x = pop.opinion[self._opinion_group, topic]
            suffix = "" if topic == 0 else f"_t{topic}"
            mean, std, bimodality = opinion_moments(x)
            row[f"opinion_mean{suffix}"] = mean
            row[f"opinion_std{suffix}"] = std
            row[f"bimodality{suffix}"] = bimodality
        if self._tally is not None:
            row.update(self._tally.metrics(pop, self.feed_experiment.treated))
        if self.election is not None:
            row.update(self.election.metrics(pop, ev.election or ElectionEvents()))
        for policy in self.policies.values():
            if hasattr(policy, "metrics"):
                row.update(policy.metrics())
        return row

    # ------------------------------------------------------------------ state
    def fork(self) -> World:
        """An independent copy of this world between steps: users, graph, posts, detector,
        every random stream and every policy's state. Stepped k times, the fork gives
        byte-identical events to this world stepped k times, and neither ever sees the
        other's steps: what planners and verifiable rewards roll out.

        Read-only parts are shared rather than copied: the recommender's settings, the
        opinion rule, and a frozen checkpoint's table or network (``learning: frozen``
        never changes them)."""
        if self._turn is not None:
            raise RuntimeError("cannot fork a world in the middle of a step")
        memo: dict[int, object] = {id(self.recommender): self.recommender}
        for policy in self.policies.values():
            ckpt = getattr(policy, "ckpt", None)
            if ckpt is not None and getattr(policy, "learning", None) == "frozen":
                memo[id(ckpt)] = ckpt
        return copy.deepcopy(self, memo)

    def state(self) -> tuple[dict[str, np.ndarray], str]:
        """Arrays and a JSON string that together restore this world exactly (between
        steps: not after `begin_step`)."""
        if self._turn is not None:
            raise RuntimeError("cannot save a world in the middle of a step")
        arrays: dict[str, np.ndarray] = {}
        for prefix, part in (
            ("pop", self.population.state()),
            ("graph", self.graph.state()),
            ("posts", self.posts.state()),
            ("detector", self.detector.state()),
        ):
            arrays.update({f"{prefix}.{k}": v for k, v in part.items()})
        arrays["cursor"] = self.cursor
        if self.mutes is not None:
            arrays.update({f"mutes.{k}": v for k, v in self.mutes.state().items()})
        if self.pending_search is not None:
            arrays["pending_search"] = self.pending_search
        if self.election is not None:
            arrays.update({f"election.{k}": v for k, v in self.election.state().items()})
        for role, policy in self.policies.items():
            if hasattr(policy, "state"):
                arrays.update({f"policy.{role.label}.{k}": v for k, v in policy.state().items()})
        meta = {
            "t": self.t,
            "rngs": {name: rng.bit_generator.state for name, rng in self.rngs.items()},
            "phase_seconds": self.phase_seconds,
        }
        return arrays, json.dumps(meta)

    def load_state(self, arrays: Mapping[str, np.ndarray], meta_json: str) -> None:
        """Restore what `state` saved. A checkpoint is a file and never trusted: every
        array and meta value is checked (`checked_state`, then each policy's own
        `load_state`) before any kernel sees it, and anything wrong is a ``ValueError``
        naming the array."""
        generators = {name: type(rng.bit_generator) for name, rng in self.rngs.items()}
        loaded = checked_state(arrays, meta_json, n=self.n, bit_generators=generators)
        counts = np.bincount(loaded.population.role, minlength=len(Role))
        for role in Role:
            if counts[role] and role not in self.policies:
                raise ValueError(f"pop.role: {role.label} users but the world has no such policy")
        mutes = None
        if any(key.startswith("mutes.") for key in arrays):
            with _named("mutes."):
                mutes = FollowGraph.from_state(_part(arrays, "mutes"), n=self.n)
        pending = None
        if "pending_search" in arrays:
            pending = checks.array(arrays, "pending_search", np.int16, (self.n,))
            checks.within("pending_search", pending, -1, loaded.population.topics - 1)
        if loaded.posts.has_dislikes != ("dislike" in self.offered):
            raise ValueError(
                "posts.col_dislikes: the checkpoint's platform "
                f"{'has' if loaded.posts.has_dislikes else 'has no'} dislikes, this one "
                f"{'has' if 'dislike' in self.offered else 'has not'}"
            )
        with _named("detector."):
            self.detector.load_state(_part(arrays, "detector"))
        if self.election is not None:
            steps = [
                np.asarray(arrays.get(f"election.{k}", -1)) for k in ("poll_step", "vote_step")
            ]
            # (what the steps hold is checked by the election below; here only whether
            # any poll or vote was held)
            held = any(
                x.dtype.kind in "iu" and x.size == 1 and int(x.ravel()[0]) >= 0 for x in steps
            )
            if held and "election" not in loaded.rng_states:
                raise ValueError(
                    "latest.json world.rngs: streams missing ['election'], which the "
                    "checkpoint's polls and votes drew from"
                )
            with _named("election."):
                self.election.load_state(_part(arrays, "election"), loaded.t)
        for role, policy in self.policies.items():
            if hasattr(policy, "load_state"):
                with _named(f"policy.{role.label}."):
                    policy.load_state(_part(arrays, f"policy.{role.label}"))
        self._turn = None
        self.population, self.graph, self.posts = loaded.population, loaded.graph, loaded.posts
        self.mutes, self.pending_search = mutes, pending
        self.cursor = loaded.cursor
        self.t = loaded.t
        for name in OPTIONAL_STREAMS - set(loaded.rng_states):
            self.rngs[name].bit_generator.state = self._fresh_streams[name]
        for name, st in loaded.rng_states.items():
            self.rngs[name].bit_generator.state = st
        self.phase_seconds = loaded.phase_seconds
        self._opinion_group = _measured_users(self.population)


@dataclass
class CheckedState:
    """A checkpoint's world parts, every value checked (`checked_state`)."""

    population: Population
    graph: FollowGraph
    posts: PostStore
    detector: dict[str, np.ndarray]  # as saved; the world's detector checks it
    cursor: np.ndarray
    t: int
    rng_states: dict[str, dict]
    phase_seconds: dict[str, float]


def checked_state(
    arrays: Mapping[str, np.ndarray],
    meta_json: str,
    n: int | None = None,
    bit_generators: Mapping[str, type] | None = None,
) -> CheckedState:
    """The parts of a checkpoint written by `World.state`, after checking every value of
    every part and how they fit together (for `World.load_state` and for readers of a
    run directory alike). Raises ``ValueError("<array>: <what is wrong>")``; values of
    the JSON meta are named ``latest.json world.<key>``. ``n``: the number of users the
    world must have; ``bit_generators``: each random stream's numpy bit generator
    (default PCG64 for every stream of `RNG_STREAMS`)."""
    meta = _checked_meta(meta_json, bit_generators)
    t = meta["t"]
    with _named("pop."):
        population = Population.from_state(_part(arrays, "pop"), n=n)
    n = population.n
    with _named("graph."):
        graph = FollowGraph.from_state(_part(arrays, "graph"), n=n)
    with _named("posts."):
        posts = PostStore.from_state(_part(arrays, "posts"), n, t, population.topics)
    # a detector checks its own arrays (`World.load_state`); here the built-in rule's
    # layout is checked in full and any other detector's arrays for being numbers
    detector = _part(arrays, "detector")
    with _named("detector."):
        if set(detector) in ({"rate", "strike_count"}, {"rate", "strike_count", "reports"}):
            rate, strikes = ActivityDetector.checked_state(detector, n)
            checked = {"rate": rate, "strike_count": strikes}
            if "reports" in detector:
                checked["reports"] = checks.array(detector, "reports", np.int32, (n,))
                checks.within("reports", checked["reports"], 0)
            detector = checked
        for name, array in detector.items():
            if array.dtype.kind not in "biuf":
                raise ValueError(f"{name}: {array.dtype} is not a number type")
    cursor = checks.array(arrays, "cursor", np.int64, (n,))
    checks.within("cursor", cursor, -1, len(posts) - 1)
    return CheckedState(
        population, graph, posts, detector, cursor, t, meta["rngs"], meta["phase_seconds"]
    )


def _checked_meta(meta_json: str, bit_generators: Mapping[str, type] | None) -> dict:
    where = "latest.json world"
    try:
        meta = json.loads(meta_json)
    except ValueError as exc:
        raise ValueError(f"{where}: not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: not a JSON object")
    for key in ("t", "rngs", "phase_seconds"):
        if key not in meta:
            raise ValueError(f"{where}.{key}: missing")
    t = checks.int_in(f"{where}.t", meta["t"], 0)
    if bit_generators is None:
        bit_generators = dict.fromkeys(RNG_STREAMS, np.random.PCG64)
    rngs = meta["rngs"]
    if not isinstance(rngs, dict):
        raise ValueError(f"{where}.rngs: expected an object of random states")
    if set(rngs) | (OPTIONAL_STREAMS & set(bit_generators)) != set(bit_generators):
        missing = sorted(set(bit_generators) - set(rngs) - OPTIONAL_STREAMS)
        unknown = sorted(set(rngs) - set(bit_generators))
        wrong = f"missing {missing}" if missing else f"unknown {unknown}"
        raise ValueError(f"{where}.rngs: streams {wrong}"[:200])
    for name, st in rngs.items():
        bit_generator = bit_generators[name]()
        try:
            bit_generator.state = st
            accepted = bit_generator.state == st
        except Exception as exc:  # numpy's TypeError, ValueError, OverflowError, KeyError
            raise ValueError(f"{where}.rngs.{name}: not a random state ({exc})"[:200]) from None
        if not accepted:
            raise ValueError(f"{where}.rngs.{name}: not a random state numpy keeps as it is")
    seconds = meta["phase_seconds"]
    if not isinstance(seconds, dict) or not set(seconds) <= set(PHASES):
        raise ValueError(f"{where}.phase_seconds: expected seconds for {', '.join(PHASES)}")
    phase_seconds = dict.fromkeys(PHASES, 0.0)
    for phase, value in seconds.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not np.isfinite(value) or value < 0:
            raise ValueError(f"{where}.phase_seconds.{phase}: {value!r:.40} is not seconds")
        phase_seconds[phase] = float(value)
    return {"t": t, "rngs": rngs, "phase_seconds": phase_seconds}


def _part(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    p = prefix + "."
    return {k[len(p) :]: arrays[k] for k in arrays if k.startswith(p)}


@contextmanager
def _named(prefix: str):
    """Prefix the array name that starts a part's ``ValueError`` with the part's name."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from None


class _Batch:
    """What a step keeps of a batch's actions: its values per row (posts, follows, a
    platform's position, words) and, as lists, its replies, reposts and likes of feed
    slots with what the world needs of each slot (rows counted within the batch)."""

    ROW_FIELDS = (
        "post", "post_stance", "post_topic", "follow", "unfollow", "mention", "search",
        "mute", "unmute",
    )  # fmt: skip
    #: row fields of user ids, padded to the widest batch when batches are joined
    WIDE_FIELDS = ("follow", "unfollow", "mute", "unmute")
    #: row fields of optional actions: None where no batch took the action
    OPTIONAL_ROW_FIELDS = ("mention", "search", "mute", "unmute")
    SLOT_FIELDS = (
        "reply_row",
        "reply_parent",
        "reply_topic",
        "reply_stance",
        "repost_row",
        "repost_parent",
        "repost_stance",
        "repost_topic",
        "like_row",
        "like_post",
        "dislike_row",
        "dislike_post",
        "quote_row",
        "quote_parent",
        "quote_stance",
        "quote_topic",
        "report_row",
        "report_post",
    )

    def __init__(self, position, post_text, reply_text, **fields):
        self.position = position  # float (n,), NaN where unmoved; None: nobody moved
        self.post_text = post_text  # object (n,) or None
        self.reply_text = reply_text  # object (replies,) or None
        for name in self.ROW_FIELDS + self.SLOT_FIELDS:
            setattr(self, name, fields[name])

    @classmethod
    def of(cls, acts: Actions, obs: Observations | None) -> _Batch:
        """The batch of ``acts`` taken on the feeds of ``obs`` (None: an empty batch)."""
        if obs is None:
            feed = np.full(acts.like.shape, -1, np.int64)
            topic, stance = np.zeros(feed.shape, np.int64), np.zeros(feed.shape)
            shown = compact_feeds(feed)
        else:
            feed, topic, stance = obs.feed, obs.feed_topic, obs.feed_stance
            shown = obs.shown_slots()
        acted = _shown_slots(acts.reply, acts.repost, acts.like, *shown)
        (ri, rj, reply_parent), (si, sj, repost_parent), (li, lj, like_post) = acted
        reply_text = (
            None if acts.reply_text is None else np.asarray(acts.reply_text, object)[ri, rj]
        )
        (di, dj), (qi, qj), (pi, pj) = (
            _slots_of(getattr(acts, name), feed) for name in ("dislike", "quote", "report")
        )
        quote_stance = np.zeros(0) if acts.quote is None else acts.quote_stance[qi, qj]
        return cls(
            acts.position,
            None if acts.post_text is None else np.asarray(acts.post_text, object),
            reply_text,
            post=acts.post,
            post_stance=acts.post_stance,
            post_topic=acts.post_topic,
            follow=acts.follow,
            unfollow=acts.unfollow,
            reply_row=ri,
            reply_parent=reply_parent,
            reply_topic=topic[ri, rj],
            reply_stance=acts.reply_stance[ri, rj],
            repost_row=si,
            repost_parent=repost_parent,
            repost_stance=stance[si, sj],
            repost_topic=topic[si, sj],
            like_row=li,
            like_post=like_post,
            dislike_row=di,
            dislike_post=feed[di, dj],
            quote_row=qi,
            quote_parent=feed[qi, qj],
            quote_stance=quote_stance,
            quote_topic=topic[qi, qj],
            report_row=pi,
            report_post=feed[pi, pj],
            # None where the batch took none: most batches, which then cost nothing
            mention=None if acts.mention is None else acts.mention.astype(np.int64, copy=False),
            search=None if acts.search is None else acts.search.astype(np.int64, copy=False),
            mute=None if acts.mute is None else acts.mute.astype(np.int64, copy=False),
            unmute=None if acts.unmute is None else acts.unmute.astype(np.int64, copy=False),
        )

    @classmethod
    def joined(cls, parts: list[_Batch]) -> _Batch:
        """The parts' batches as one, in order: the batch of their rows one after the other."""
        first = np.cumsum([0] + [b.post.shape[0] for b in parts[:-1]])
        fields = {}
        for name in cls.ROW_FIELDS + cls.SLOT_FIELDS:
            if name in cls.OPTIONAL_ROW_FIELDS:
                fields[name] = _joined_optional(parts, name, name in cls.WIDE_FIELDS)
            elif name in cls.WIDE_FIELDS:
                width = max(getattr(b, name).shape[1] for b in parts)
                fields[name] = np.concatenate([_pad(getattr(b, name), width) for b in parts])
            elif name.endswith("_row"):
                fields[name] = np.concatenate(
                    [getattr(b, name) + f for b, f in zip(parts, first, strict=True)]
                )
            else:
                fields[name] = np.concatenate([getattr(b, name) for b in parts])
        position = (
            None
            if all(b.position is None for b in parts)
            else np.concatenate(
                [
                    b.position if b.position is not None else np.full(b.post.shape, np.nan)
                    for b in parts
                ]
            )
        )
        post_text = _texts(parts, "post_text", lambda b: b.post.shape[0])
        reply_text = _texts(parts, "reply_text", lambda b: b.reply_row.shape[0])
        return cls(position, post_text, reply_text, **fields)


class _Reads:
    """What a batch's readers read, for the opinion rule: their feeds' stances and topics
    where a post was shown; the step's own arrays, or (``compact``, `compact_feeds`) just
    the shown slots' posts, whose stance and topic are the feed's (`FeedItems`)."""

    def __init__(self, users, dense=None, compact=None):
        self.users, self._dense, self.compact = users, dense, compact

    @classmethod
    def of(cls, obs: Observations, compact: bool = False) -> _Reads:
        if compact:
            return cls(obs.users, compact=obs.shown_slots())
        return cls(obs.users, dense=(obs.feed_stance, obs.feed_topic, obs.feed >= 0))

    def dense(self):
        """(users, stance, topic, shown): the rule's arguments."""
        return (self.users, *self._dense)


def _texts(batches, name: str, length) -> np.ndarray | None:
    """The batches' ``name`` words as one object array, None where a batch wrote none;
    None altogether when no policy wrote any words this step."""
    if all(getattr(b, name) is None for b in batches):
        return None
    parts = []
    for b in batches:
        words = getattr(b, name)
        parts.append(words if words is not None else np.full(length(b), None, object))
    return np.concatenate(parts)


def _active_share(population: Population, role: Role) -> float:
    """Share of the role's users not suspended (NaN when the role has none)."""
    ids = population.ids_of(role)
    if not ids.size:
        return float("nan")
    return float(np.count_nonzero(~population.suspended[ids]) / ids.size)


def _measured_users(population: Population) -> np.ndarray:
    """Whose opinions the metrics describe: citizens, or everyone if there are none."""
    citizens = population.ids_of(Role.CITIZEN)
    return citizens if citizens.size else np.arange(population.n)


@numba.njit(cache=True, parallel=True)
def _shown_slots(reply, repost, like, start, col, post):
    """For each of the three masks, the (row, column, post) of the shown slots where it
    is set, in row-major order (``np.nonzero(mask & (feed >= 0))`` and the slots'
    posts). Only the shown slots are read (`compact_feeds`: row i's columns and posts
    are ``col[start[i]:start[i + 1]]`` and ``post[...]``)."""
    n = start.shape[0] - 1
    counts = np.zeros((3, n + 1), np.int64)
    for i in numba.prange(n):
        for q in range(start[i], start[i + 1]):
            j = col[q]
            counts[0, i + 1] += reply[i, j]
            counts[1, i + 1] += repost[i, j]
            counts[2, i + 1] += like[i, j]
    for m in range(3):
        counts[m] = np.cumsum(counts[m])
    out = []
    for m in range(3):
        out.append((np.empty(counts[m, n], np.int64), np.empty(counts[m, n], np.int64),
                    np.empty(counts[m, n], np.int64)))  # fmt: skip
    (r_at, r_col, r_post), (s_at, s_col, s_post), (l_at, l_col, l_post) = out
    for i in numba.prange(n):
        r, s, q = counts[0, i], counts[1, i], counts[2, i]
        for at in range(start[i], start[i + 1]):
            j = col[at]
            if reply[i, j]:
                r_at[r], r_col[r], r_post[r] = i, j, post[at]
                r += 1
            if repost[i, j]:
                s_at[s], s_col[s], s_post[s] = i, j, post[at]
                s += 1
            if like[i, j]:
                l_at[q], l_col[q], l_post[q] = i, j, post[at]
                q += 1
    return (r_at, r_col, r_post), (s_at, s_col, s_post), (l_at, l_col, l_post)


def _slots_of(mask: np.ndarray | None, feed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) pairs where an optional mask is set on a shown slot."""
    if mask is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols = np.nonzero(mask & (feed >= 0))
    return rows.astype(np.int64), cols.astype(np.int64)


def _joined_optional(parts, name: str, wide: bool) -> np.ndarray | None:
    """An optional row field of the parts laid end to end: None where none has it, -1
    (no id) for the rows of the parts without it."""
    if all(getattr(b, name) is None for b in parts):
        return None
    width = max((getattr(b, name).shape[1] for b in parts if getattr(b, name) is not None),
                default=0) if wide else None  # fmt: skip
    out = []
    for b in parts:
        value, rows = getattr(b, name), b.post.shape[0]
        if value is None:
            value = np.full((rows, width) if wide else rows, -1, np.int64)
        out.append(_pad(value, width) if wide else value)
    return np.concatenate(out)


def _pad(a: np.ndarray, width: int) -> np.ndarray:
    if a.shape[1] == width:
        return a.astype(np.int64, copy=False)
    out = np.full((a.shape[0], width), -1, np.int64)
    out[:, : a.shape[1]] = a
    return out


@dataclass
class FeedExperiment:
    """Treated citizens (``treated``, bool per user) read ``recommender``'s feed from
    step ``start`` on; the others the platform's (docs/platform.md)."""

    treated: np.ndarray
    recommender: Recommender
    start: int


ARMS = ("control", "treated")


class _ExperimentTally:
    """A feed experiment's outcomes per arm over one step, for metrics.parquet: citizens
    who read, posts shown to them, like-minded and cross-cutting ones (a post's stance on
    the reader's side of its opinion on the topic, or the other), their likes, reposts,
    replies and quotes, and their posts."""

    FIELDS = ("readers", "shown", "like_minded", "cross_cutting", "engaged", "posted")

    def __init__(self):
        self.sums = {f: np.zeros(2) for f in self.FIELDS}

    def read(self, pop: Population, treated, users, items) -> None:
        citizens = pop.role[users] == Role.CITIZEN
        users, arm = users[citizens], treated[users[citizens]].astype(np.int64)
        shown = items.feed[citizens] >= 0
        own = pop.opinion[users[:, None], items.topic[citizens]]
        lean = items.stance[citizens] * own
        for name, per_row in (
            ("readers", np.ones(users.shape[0])),
            ("shown", shown.sum(axis=1)),
            ("like_minded", (shown & (lean > 0)).sum(axis=1)),
            ("cross_cutting", (shown & (lean < 0)).sum(axis=1)),
        ):
            self.sums[name] += np.bincount(arm, weights=per_row, minlength=2)

    def act(self, pop: Population, treated, users, writes, b) -> None:
        rows = np.concatenate([b.like_row, b.repost_row, b.reply_row, b.quote_row])
        for name, who in (("engaged", users[rows]), ("posted", users[writes])):
            who = who[pop.role[who] == Role.CITIZEN]
            self.sums[name] += np.bincount(treated[who].astype(np.int64), minlength=2)

    def metrics(self, pop: Population, treated) -> dict[str, float]:
        citizens = pop.role == Role.CITIZEN
        out: dict[str, float] = {}
        s = self.sums
        for a, name in enumerate(ARMS):
            readers, shown = s["readers"][a], s["shown"][a]
            out[f"exp_{name}_readers"] = int(readers)
            for measure, total, over in (
                ("shown", s["shown"][a], readers),
                ("engaged", s["engaged"][a], readers),
                ("posted", s["posted"][a], readers),
                ("like_minded", s["like_minded"][a], shown),
                ("cross_cutting", s["cross_cutting"][a], shown),
            ):
                out[f"exp_{name}_{measure}"] = float(total / over) if over else math.nan
            group = citizens & (treated if a else ~treated)
            out[f"exp_{name}_extremity"] = (
                float(np.abs(pop.opinion[group, 0]).mean()) if group.any() else math.nan
            )
        self.sums = {f: np.zeros(2) for f in self.FIELDS}
        return out
