"""The election candidate as a learner (CICERO's plan-then-speak, MODELS.md section 4).

Goal: votes. Reward: the candidate's vote share on an election day, with the change of
its poll share at each new poll as shaping (the first poll it sees sets the baseline and
earns nothing).

A decision is an **intent** (as CICERO's strategic module plans intents and its dialogue
module speaks to them): which voters to address, whether to move its platform, and in
what tone. 3 × 3 × 2 = 18 intents:

* segment — ``base`` (its own side), ``centre``, ``rival_base`` (the nearest rival's
  side). The message leans a quarter of the way from the candidate's position toward the
  segment's point (its side's end of the scale, 0, the rival's position): it stays the
  candidate's own message and reaches voters a little nearer the segment (stated reason:
  with positions ±0.5, a centre message is ±0.375 and a rival-base one ±0.25, both still
  on its side). It also replies to the best-ranked item of its feed written from that
  segment (stance beyond ±0.3 on its side, within ±0.3, beyond ±0.3 on the other side).
* move — ``hold``, ``to_centre`` (toward 0, never across it) or ``to_base`` (toward its
  side's end), 0.05 a decision: its platform (its topic-0 position, what voters vote on)
  moves across half the scale in ten decisions at most (stated reason).
* tone — ``case`` (states its case, and likes the best-ranked feed item within 0.3 of its
  message) or ``attack`` (the message is pushed 0.25 further from the nearest rival, and
  it likes nothing).

Every intent posts once on topic 0 and replies to at most one item, about what the
scripted candidate does in a step (it posts, likes one agreeing item in five and attacks
one far item in five).

Observation (each in [-1, 1]): the feed at a glance (`roles.base.feed_features`), and of
the race (`world.election.Campaign`; zeros without an election): ``position``,
``poll_lead`` (its latest poll share minus the best rival's), ``poll_known``,
``days_left`` (steps to the next election day as a share of the campaign; +1 when none
is left) and ``follower_share`` (its share of all candidates' followers).

Tabular learners see the lead (behind, level, ahead at ±0.03), the time (first or second
half of the campaign), the feed's side and how far the candidate stands from the centre
(within 0.25, 0.6, beyond): 54 states.
"""

from __future__ import annotations

import numpy as np

from ..world.actions import Actions, Observations
from ..world.population import Role
from .base import (
    EMPTY_FEED,
    FEED_FEATURES,
    LearnerRole,
    MemoryField,
    RewardContext,
    RoleMemory,
    bins3,
    feed_features,
)

SEGMENTS = ("base", "centre", "rival_base")
MOVES = ("hold", "to_centre", "to_base")
TONES = ("case", "attack")
SHAPE = (len(SEGMENTS), len(MOVES), len(TONES))
INTENTS = tuple(f"{s} {m} {t}" for s in SEGMENTS for m in MOVES for t in TONES)
#: how far a message leans from the position toward the segment addressed
REACH = 0.25
#: how much further from the nearest rival an attack pushes the message
ATTACK = 0.25
#: how far the platform moves in one decision
MOVE_STEP = 0.05
#: the stance that separates a side's voters from the centre's
SEGMENT_EDGE = 0.3
#: an item is agreeable to like within this distance of the message
LIKE_GAP = 0.3
LEAD_EDGE = 0.03


def intent_parts(intents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(segment, move, tone) indices of intent ids."""
    return np.unravel_index(np.asarray(intents, np.int64), SHAPE)


def intent_id(segment, move, tone) -> np.ndarray:
    return np.ravel_multi_index((segment, move, tone), SHAPE).astype(np.int64)


def own_side(position: np.ndarray) -> np.ndarray:
    """+1 or -1: the side of the scale a candidate stands on (+1 at 0)."""
    return np.where(position < 0, -1.0, 1.0)


def nearest_rival(obs: Observations, rows: np.ndarray, position: np.ndarray) -> np.ndarray:
    """The position of each candidate's nearest rival (its mirror image without an
    election, or without rivals)."""
    mirror = np.where(position == 0, -0.5, -position)
    campaign = obs.campaign
    if campaign is None or campaign.candidates.size < 2:
        return mirror
    users = obs.users[rows]
    rivals = np.broadcast_to(campaign.positions, (rows.size, campaign.candidates.size)).copy()
    me = campaign.index_of(users)
    gap = np.abs(rivals - position[:, None])
    gap[np.arange(rows.size)[me >= 0], me[me >= 0]] = np.inf
    out = rivals[np.arange(rows.size), gap.argmin(axis=1)]
    return np.where(np.isfinite(gap.min(axis=1)), out, mirror)


def moved_position(position: np.ndarray, side: np.ndarray, move: np.ndarray) -> np.ndarray:
    """The platform after a move (0 hold, 1 toward the centre, 2 toward its base)."""
    toward_centre = np.sign(position) * np.maximum(np.abs(position) - MOVE_STEP, 0.0)
    toward_base = np.clip(position + side * MOVE_STEP, -1.0, 1.0)
    return np.select([move == 1, move == 2], [toward_centre, toward_base], position)


def message_stance(position, side, rival, segment, tone) -> np.ndarray:
    """The stance of the message an intent writes (see the module docstring)."""
    target = np.select([segment == 0, segment == 1], [side, 0.0], rival)
    stance = position + REACH * (target - position)
    away = np.where(rival >= position, -1.0, 1.0)
    stance = np.where(tone == 1, stance + ATTACK * away, stance)
    return np.clip(stance, -1.0, 1.0)


def segment_of(stance: np.ndarray, side: np.ndarray) -> np.ndarray:
    """0 base, 1 centre, 2 rival base: the segment a stance was written from, for a
    candidate on ``side`` (broadcasts)."""
    leaning = stance * side
    return np.where(leaning > SEGMENT_EDGE, 0, np.where(leaning < -SEGMENT_EDGE, 2, 1))


class CandidateRole(LearnerRole):
    name = "candidate"
    world_role = Role.CANDIDATE
    action_spaces = ("intents",)
    memory_fields = (
        MemoryField("side", np.float64, -1.0, 1.0),
        MemoryField("poll_paid", np.float64, 0.0, 1.0),
        MemoryField("polled", bool),
        MemoryField("vote_paid", np.int64, -1),
        MemoryField("decided", bool),
        MemoryField("last_intent", np.int64, 0, len(INTENTS) - 1),
    )
    info_columns = ("position", "poll_share", "vote_share")
    reward_label = "vote share (poll changes as shaping)"
    action_word = "intents"

    def __init__(self, action_space: str = "intents", self_observation: bool = True):
        super().__init__(action_space, self_observation)

    @property
    def feature_names(self) -> list[str]:
        return FEED_FEATURES + [
            "position",
            "poll_lead",
            "poll_known",
            "days_left",
            "follower_share",
        ]

    @property
    def action_names(self) -> list[str]:
        return list(INTENTS)

    # -- observation ---------------------------------------------------------------
    def _race(self, campaign, users: np.ndarray, position: np.ndarray) -> np.ndarray:
        m = users.size
        race = np.zeros((m, 5), np.float32)
        race[:, 0] = position
        if campaign is None:
            race[:, 2] = -1.0
            race[:, 3] = 1.0
            return race
        me = campaign.index_of(users)
        known = campaign.poll_step >= 0 and np.isfinite(campaign.poll_share).all()
        if known and campaign.candidates.size > 1:
            share = campaign.poll_share
            own = np.where(me >= 0, share[np.maximum(me, 0)], 0.0)
            others = np.broadcast_to(share, (m, share.size)).copy()
            others[np.arange(m)[me >= 0], me[me >= 0]] = -np.inf
            race[:, 1] = own - others.max(axis=1)
        race[:, 2] = 1.0 if known else -1.0
        left = campaign.steps_to_vote
        race[:, 3] = 2.0 * min(1.0, left / campaign.horizon) - 1.0 if left >= 0 else 1.0
        total = campaign.followers.sum()
        if total > 0:
            own_followers = np.where(me >= 0, campaign.followers[np.maximum(me, 0)], 0)
            race[:, 4] = 2.0 * own_followers / total - 1.0
        return np.clip(race, -1.0, 1.0)

    def observe(self, obs: Observations, rows: np.ndarray, memory: RoleMemory) -> np.ndarray:
        feed = feed_features(obs, rows)
        race = self._race(obs.campaign, obs.users[rows], obs.opinion[rows, 0])
        return np.hstack([feed, race]).astype(np.float32)

    def observe_absent(self, users, followers, memory: RoleMemory) -> np.ndarray:
        feed = np.tile(np.array(EMPTY_FEED, np.float32), (users.size, 1))
        race = np.zeros((users.size, 5), np.float32)
        race[:, 2] = -1.0
        race[:, 3] = 1.0
        return np.hstack([feed, race])

    # -- action ------------------------------------------------------------------------
    def to_actions(
        self, obs: Observations, rows: np.ndarray, actions: np.ndarray, memory: RoleMemory
    ) -> Actions:
        actions = self.checked_actions(actions, rows)
        m, k = rows.size, obs.feed.shape[1]
        users = obs.users[rows]
        position = obs.opinion[rows, 0]
        first = ~memory.decided[users]
        memory.side[users[first]] = own_side(position[first])
        memory.decided[users] = True
        memory.last_intent[users] = actions
        side = memory.side[users]
        segment, move, tone = intent_parts(actions)

        platform = moved_position(position, side, move)
        rival = nearest_rival(obs, rows, platform)
        stance = message_stance(platform, side, rival, segment, tone)

        out = Actions.nothing(m, k)
        out.position = np.where(move == 0, np.nan, platform)
        out.post[:] = True
        out.post_stance = stance
        shown = obs.shown[rows]
        feed_stance = obs.feed_stance[rows]
        not_self = obs.feed_author[rows] != users[:, None]
        r = np.arange(m)

        # reply to the best-ranked item written from the segment addressed
        from_segment = (
            shown & not_self & (segment_of(feed_stance, side[:, None]) == segment[:, None])
        )
        has = from_segment.any(axis=1)
        slot = from_segment.argmax(axis=1)
        out.reply[r[has], slot[has]] = True
        out.reply_stance[r[has], slot[has]] = stance[has]

        # stating one's case: like the best-ranked item near the message
        near = shown & not_self & (np.abs(feed_stance - stance[:, None]) < LIKE_GAP)
        likes = near.any(axis=1) & (tone == 0)
        out.like[r[likes], near.argmax(axis=1)[likes]] = True
        return out

    # -- reward and records ------------------------------------------------------------
    def reward(self, context: RewardContext) -> np.ndarray:
        """Poll-share change since the last poll paid, plus the vote share on an
        election day."""
        users, memory = context.users, context.memory
        election = context.world.election
        out = np.zeros(users.size)
        if election is None:
            return out
        found = election.index_of(users)
        mine, index = found >= 0, np.maximum(found, 0)
        poll = election.last_poll
        if poll is not None and poll.step == context.step:
            share = poll.share[index]
            usable = mine & np.isfinite(share)
            paid = usable & memory.polled[users]
            out[paid] += share[paid] - memory.poll_paid[users[paid]]
            memory.poll_paid[users[usable]] = share[usable]
            memory.polled[users[usable]] = True
        held = context.events.election
        if held is not None and held.vote is not None:
            share = np.nan_to_num(held.vote.share[index], nan=0.0)
            fresh = mine & (memory.vote_paid[users] != context.step)
            out[fresh] += share[fresh]
            memory.vote_paid[users[fresh]] = context.step
        return out

    def begin_scoring(self, users, world, memory: RoleMemory) -> None:
        memory.side[users] = own_side(world.population.opinion[users, 0])
        memory.vote_paid[users] = -1
        poll = world.election.last_poll if world.election is not None else None
        if poll is None:
            memory.polled[users] = False
            return
        index = world.election.index_of(users)
        share = np.where(index >= 0, poll.share[np.maximum(index, 0)], np.nan)
        usable = np.isfinite(share)
        memory.poll_paid[users[usable]] = share[usable]
        memory.polled[users] = usable

    def new_memory(self, n_users: int) -> RoleMemory:
        memory = super().new_memory(n_users)
        memory.vote_paid[:] = -1
        return memory

    def info(self, users, world, memory: RoleMemory) -> dict[str, np.ndarray]:
        """Position, latest poll share and latest vote share; -1 where there has been no
        poll or vote yet (not NaN: Gymnasium compares infos for determinism)."""
        position = world.population.opinion[users, 0].copy()
        none = np.full(users.size, -1.0)
        election = world.election
        if election is None:
            return {"position": position, "poll_share": none, "vote_share": none.copy()}
        index = np.maximum(election.index_of(users), 0)  # (users are candidates)
        poll, vote = election.last_poll, election.last_vote
        return {
            "position": position,
            "poll_share": np.nan_to_num(poll.share[index], nan=-1.0) if poll else none,
            "vote_share": np.nan_to_num(vote.share[index], nan=-1.0) if vote else none.copy(),
        }

    # -- tabular -------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return 54

    def discretise(self, vectors: np.ndarray) -> np.ndarray:
        v = np.atleast_2d(np.asarray(vectors, np.float64))
        lead = bins3(v[:, 4], LEAD_EDGE)
        late = (v[:, 6] < 0.0).astype(np.int64)
        feed_side = bins3(v[:, 0] * own_side(v[:, 3]), 0.15)
        extremity = (np.abs(v[:, 3]) >= 0.25).astype(np.int64) + (np.abs(v[:, 3]) >= 0.6)
        return np.ravel_multi_index([lead, late, feed_side, extremity], (3, 2, 3, 3)).astype(
            np.int64
        )


def intent_of_scripted(obs: Observations, acts: Actions) -> np.ndarray:
    """The intent nearest what a scripted candidate did in a step, for behaviour cloning
    (`policies.planner`): it never moves its platform (hold); its tone is ``attack`` in a
    step where it replied to an item (it replies only to attack) and ``case`` otherwise;
    its segment is the one most of the items it liked or replied to were written from,
    its base when it engaged with none (its post states its own position)."""
    n = len(obs)
    position = obs.opinion[:, 0]
    side = own_side(position)
    engaged = obs.shown & (acts.like | acts.reply)
    segment_of_item = segment_of(obs.feed_stance, side[:, None])
    counts = np.stack([(engaged & (segment_of_item == s)).sum(axis=1) for s in range(3)], 1)
    segment = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), 0)
    tone = (acts.reply & obs.shown).any(axis=1).astype(np.int64)
    move = np.zeros(n, np.int64)
    if acts.position is not None:
        moved = ~np.isnan(acts.position)
        delta = np.where(moved, acts.position - position, 0.0)
        toward_centre = moved & (np.abs(np.where(moved, acts.position, 0)) < np.abs(position))
        move = np.where(toward_centre, 1, np.where(moved & (delta != 0), 2, 0))
    return intent_id(segment, move, tone)
