"""The influencer role as a learner (Jin & Guo 2024/2025; MODELS.md section 2).

Goal: followers. Reward: followers gained in the step (summed over the steps between two
decisions, the followers gained since the previous one).

Memory: the stance it last expressed, its follower count when it last decided (for the
trend it observes) and when it was last rewarded, and whether it has decided yet.
Episode records keep its ``followers`` and whether it is the world's ``leader`` (its
most-followed user).

Observation (what the influencer reads, each in [-1, 1]):

* ``feed_stance``: mean stance of the items in its feed;
* ``feed_spread``: how divided the feed is, ``2 × std(stances) - 1`` (-1: unanimous);
* ``feed_fill``: the share of feed slots that hold an item, scaled to [-1, 1];

and, with self-observation, what it knows of itself:

* ``own_stance``: the stance it last expressed;
* ``follower_trend``: ``tanh(gained / 5)``, followers gained since its last decision.

Actions:

* ``limited`` — which side to post: con, neutral or pro (stance -0.6, 0, +0.6);
* ``full`` — side (con, neutral, pro) × activity (post, reply, repost, follow, idle) × tone
  (measured |stance| 0.3, bold 0.8): 30 actions. *reply* answers the top item of its feed,
  *repost* shares the item closest to the chosen stance, *follow* follows the author of the
  closest item it does not follow yet, *idle* does nothing.

Tabular learners see the feed's side (con / neutral / pro, at ±0.15) and whether it is
divided (stance std above 0.5), and with self-observation also their own side and their
trend (losing, flat, gaining): 6 states without self-observation, 54 with.
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

SIDES = ("con", "neutral", "pro")
SIDE_SIGN = np.array([-1.0, 0.0, 1.0])
LIMITED_STANCE = 0.6
ACTIVITIES = ("post", "reply", "repost", "follow", "idle")
TONES = ("measured", "bold")
TONE_STRENGTH = np.array([0.3, 0.8])
FULL_SHAPE = (len(SIDES), len(ACTIVITIES), len(TONES))
BIN_EDGE = 0.15
TREND_SCALE = 5.0


class InfluencerRole(LearnerRole):
    name = "influencer"
    world_role = Role.INFLUENCER
    action_spaces = ("limited", "full")
    memory_fields = (
        MemoryField("last_stance", np.float64, -1.0, 1.0),
        MemoryField("followers_then", np.int64, 0),
        MemoryField("followers_paid", np.int64, 0),
        MemoryField("decided", bool),
    )
    info_columns = ("followers", "leader")
    reward_label = "followers gained"

    @property
    def feature_names(self) -> list[str]:
        return FEED_FEATURES + (["own_stance", "follower_trend"] if self.self_observation else [])

    @property
    def action_names(self) -> list[str]:
        if self.action_space_name == "limited":
            return [f"post {side}" for side in SIDES]
        return [f"{act} {side} {tone}" for side in SIDES for act in ACTIVITIES for tone in TONES]

    # -- observation ---------------------------------------------------------------
    def _self_part(self, users, followers, memory: RoleMemory) -> np.ndarray:
        gained = np.where(memory.decided[users], followers - memory.followers_then[users], 0)
        return np.column_stack([memory.last_stance[users], np.tanh(gained / TREND_SCALE)]).astype(
            np.float32
        )

    def observe(self, obs: Observations, rows: np.ndarray, memory: RoleMemory) -> np.ndarray:
        feed = feed_features(obs, rows)
        if not self.self_observation:
            return feed
        own = self._self_part(obs.users[rows], obs.followers[rows], memory)
        return np.clip(np.hstack([feed, own]), -1, 1)

    def observe_absent(self, users, followers, memory: RoleMemory) -> np.ndarray:
        feed = np.tile(np.array(EMPTY_FEED, np.float32), (users.size, 1))
        if not self.self_observation:
            return feed
        return np.hstack([feed, self._self_part(users, followers, memory)])

    # -- action ------------------------------------------------------------------------
    def to_actions(
        self, obs: Observations, rows: np.ndarray, actions: np.ndarray, memory: RoleMemory
    ) -> Actions:
        actions = self.checked_actions(actions, rows)
        m, k = rows.size, obs.feed.shape[1]
        users = obs.users[rows]
        out = Actions.nothing(m, k)
        memory.followers_then[users] = obs.followers[rows]
        first = ~memory.decided[users]
        memory.followers_paid[users[first]] = obs.followers[rows][first]
        memory.decided[users] = True
        if self.action_space_name == "limited":
            stance = SIDE_SIGN[actions] * LIMITED_STANCE
            out.post[:] = True
            out.post_stance = stance
            memory.last_stance[users] = stance
            return out

        side, activity, tone = np.unravel_index(actions, FULL_SHAPE)
        stance = SIDE_SIGN[side] * TONE_STRENGTH[tone]
        shown = obs.shown[rows]
        feed_stance = obs.feed_stance[rows]
        any_item = shown.any(axis=1)
        # the feed item closest to the chosen stance (reposts, follows)
        gap = np.where(shown, np.abs(feed_stance - stance[:, None]), np.inf)
        closest = gap.argmin(axis=1)
        r = np.arange(m)

        posting = activity == 0
        out.post = posting.copy()
        out.post_stance = np.where(posting, stance, 0.0)

        replying = (activity == 1) & shown[:, 0]
        out.reply[r[replying], 0] = True
        out.reply_stance[r[replying], 0] = stance[replying]

        reposting = (activity == 2) & any_item
        out.repost[r[reposting], closest[reposting]] = True

        authors = obs.feed_author[rows]
        followable = shown & ~obs.feed_followed[rows] & (authors != users[:, None])
        follow_gap = np.where(followable, gap, np.inf)
        target = follow_gap.argmin(axis=1)
        following = (activity == 3) & followable.any(axis=1)
        follow = np.full((m, 1), -1, np.int64)
        follow[following, 0] = authors[r[following], target[following]]
        out.follow = follow

        expressed = posting | replying | reposting
        said = np.where(reposting, feed_stance[r, closest], stance)
        memory.last_stance[users[expressed]] = said[expressed]
        return out

    # -- reward and records ------------------------------------------------------------
    def reward(self, context: RewardContext) -> np.ndarray:
        """Followers gained since the agent was last rewarded (or first decided, or
        `begin_scoring`)."""
        users, memory = context.users, context.memory
        gained = context.followers - memory.followers_paid[users]
        memory.followers_paid[users] = context.followers
        return gained.astype(np.float64)

    def begin_scoring(self, users, world, memory: RoleMemory) -> None:
        memory.followers_paid[users] = world.graph.in_deg[users]

    def info(self, users, world, memory: RoleMemory) -> dict[str, np.ndarray]:
        followers = world.graph.in_deg[users].astype(np.int64)
        return {"followers": followers, "leader": followers >= world.graph.in_deg.max()}

    # -- tabular -------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return 54 if self.self_observation else 6

    def discretise(self, vectors: np.ndarray) -> np.ndarray:
        v = np.atleast_2d(np.asarray(vectors, np.float64))
        parts = [bins3(v[:, 0], BIN_EDGE), (v[:, 1] > 0.0).astype(np.int64)]
        shape = [3, 2]
        if self.self_observation:
            # any follower change moves the trend off zero by at least tanh(1/5) ≈ 0.2
            parts += [bins3(v[:, 3], BIN_EDGE), bins3(v[:, 4], 0.1)]
            shape += [3, 3]
        return np.ravel_multi_index(parts, shape).astype(np.int64)
