"""The socialbot as a learner on the platform: ACORN's two levels (Le, Tran-Thanh & Lee,
WWW 2022; MODELS.md section 3) acting through the platform's own actions, so the bot
trained in the game (`roles.socialbot`) can be dropped into a run, and socialbots can
learn in ``platform_v0``.

**One decision per session,** as every role here: one of the game's turns. The action id
is ``activity * SLOTS + slot``:

* T (0) posts the campaign stance (the bot's topic-0 opinion); the slot is ignored;
* R (1) reposts the feed item in ``slot``; A (2) replies to it with the campaign stance;
  M (3) follows its author (the platform has no mentions; a follow is how a bot
  connects to an account it chose, as the detector counts it, `roles.detector`); an
  author it follows already is not followed again, and each author once;
* an empty or own slot takes the first item it can engage, as in ``Socialbot-v0``;
* **the cost of courting large accounts:** with rho = min(1, (1 + engaged) / (1 +
  followers of the target)), the activity is done ``REPEATS`` = 3 more times, on the
  next items of the feed, with probability 1 - rho: ACORN's Q. The draw is a hash of
  the account, the day and the feed it reads, so it touches no random stream of the
  world, and differs from world to world;
* likes stay the scripted bot's (ACORN's activities leave likes out).

**Observation**, laid out as the game's (`Socialbot-v0`), so a policy trained there
reads it as it learnt:

* level 1's 17 features from the bot's own counts of what it did (posts, reposts,
  replies, follows as mentions), normalised by the training horizon (60 activities);
  ``to_next_check`` counts activities to the next multiple of 20, the game's check
  (the platform checks by days, which the policy never saw);
* 32 slots, the feed's items in rank order (up to its length), each by the game's
  features, read on the follow graph, where what an account posts reaches its
  followers: its author's followers (log, over the largest follower count), the courting
  cost 1 - rho, overlap (1 if the bot already follows the author: the platform keeps no
  chosen set, so the bot's own follows stand in for what it has reached), the new
  audience (followers × (1 - overlap) over the users), and the author's followees (log,
  over the largest);
* the mask of slots holding an item it can engage.

**Reward:** followers gained in the step, the audience its posts reach. ACORN's
survival bonus is not added: suspension ends the agent's episode, and with it every
later gain.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ..world.actions import ACTION_FIELDS, Actions, Observations
from ..world.population import Role
from . import socialbot as sb
from .base import LearnerRole, MemoryField, RewardContext, RoleMemory
from .detector import CHECK_EVERY, activity_features

SLOTS = sb.SLOTS
SLOT_SIZE = len(sb.SLOT_FEATURES)
#: counts are over the training horizon, the scale the policy learnt on
HORIZON = sb.TRAIN_HORIZON
COUNT_FIELDS = ("count_post", "count_repost", "count_reply", "count_mention")


def _uniform(users: np.ndarray, step: int, salt: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per user for this step: SplitMix64 of the user, the day
    and ``salt`` (uint64 per user: what its feed holds, which differs from world to
    world, so two seeds draw differently while one seed draws the same every time)."""
    with np.errstate(over="ignore"):  # SplitMix64 wraps around by design
        x = users.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x += np.uint64((step + 1) * 0xBF58476D1CE4E5B9 % (1 << 64))
        x ^= salt * np.uint64(0xD6E8FEB86659FD93)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class SocialbotRole(LearnerRole):
    """A campaign socialbot choosing its activity and whom to engage (module docstring)."""

    name = "socialbot"
    world_role = Role.SOCIALBOT
    action_spaces = ("two_level",)
    memory_fields = (
        *(MemoryField(f, np.int64, 0) for f in COUNT_FIELDS),
        MemoryField("engaged", np.int64, 0),
        MemoryField("followers_paid", np.int64, 0),
        MemoryField("decided", np.bool_),
    )
    decides = tuple(f for f in ACTION_FIELDS if f != "like")
    info_columns = ("followers", "activities", "engaged")
    reward_label = "followers gained"

    @property
    def feature_names(self) -> list[str]:
        slots = [f"slot{i}_{f}" for i in range(SLOTS) for f in sb.SLOT_FEATURES]
        return [*sb.LEVEL1_FEATURES, *slots, *(f"slot{i}_free" for i in range(SLOTS))]

    @property
    def action_names(self) -> list[str]:
        return [f"{a}@slot{i}" for a in sb.ACTIVITIES for i in range(SLOTS)]

    def observation_space(self) -> spaces.Box:
        return spaces.Box(0.0, np.inf, (self.obs_size,), np.float32)

    # -- observation ------------------------------------------------------------------
    def _level1(self, users: np.ndarray, memory: RoleMemory) -> np.ndarray:
        counts = np.column_stack([getattr(memory, f)[users] for f in COUNT_FIELDS])
        total = counts.sum(axis=1)
        return np.hstack(
            [
                np.minimum(counts / HORIZON, 2.0),
                activity_features(counts),
                ((CHECK_EVERY - total % CHECK_EVERY) / CHECK_EVERY)[:, None],
                (memory.engaged[users] / HORIZON)[:, None],
                np.minimum(total / HORIZON, 1.0)[:, None],
            ]
        ).astype(np.float32)

    @staticmethod
    def engageable(obs: Observations, rows: np.ndarray) -> np.ndarray:
        """bool (len(rows), k): feed items a bot can engage (present, not its own)."""
        return (obs.feed[rows] >= 0) & (obs.feed_author[rows] != obs.users[rows][:, None])

    def observe(self, obs: Observations, rows: np.ndarray, memory: RoleMemory) -> np.ndarray:
        if obs.all_followers is None or obs.all_followees is None:
            raise ValueError("the socialbot role reads every account's follower counts")
        users = obs.users[rows]
        n, width = rows.size, min(obs.feed.shape[1], SLOTS)
        mask = np.zeros((n, SLOTS), np.float32)
        mask[:, :width] = self.engageable(obs, rows)[:, :width]
        authors = np.maximum(obs.feed_author[rows][:, :width], 0)
        followers = obs.all_followers[authors].astype(np.float64)
        followees = obs.all_followees[authors].astype(np.float64)
        overlap = obs.feed_followed[rows][:, :width].astype(np.float64)
        engaged = memory.engaged[users].astype(np.float64)[:, None]
        feats = np.zeros((n, SLOTS, SLOT_SIZE), np.float32)
        feats[:, :width] = np.stack(
            [
                np.log1p(followers) / np.log1p(max(int(obs.all_followers.max()), 1)),
                1.0 - np.minimum(1.0, (1.0 + engaged) / (1.0 + followers)),
                overlap,
                followers * (1.0 - overlap) / obs.n_users,
                np.log1p(followees) / np.log1p(max(int(obs.all_followees.max()), 1)),
            ],
            axis=-1,
        )
        feats *= mask[:, :, None]
        return np.hstack([self._level1(users, memory), feats.reshape(n, -1), mask])

    def observe_absent(self, users, followers, memory: RoleMemory) -> np.ndarray:
        empty = np.zeros((users.size, SLOTS * (SLOT_SIZE + 1)), np.float32)
        return np.hstack([self._level1(users, memory), empty])

    # -- action ----------------------------------------------------------------------
    def to_actions(
        self, obs: Observations, rows: np.ndarray, actions: np.ndarray, memory: RoleMemory
    ) -> Actions:
        actions = self.checked_actions(actions, rows)
        n, k = rows.size, obs.feed.shape[1]
        users = obs.users[rows]
        first = ~memory.decided[users]
        memory.followers_paid[users[first]] = obs.followers[rows][first]
        memory.decided[users] = True
        activity, slot = actions // SLOTS, actions % SLOTS
        can = self.engageable(obs, rows)
        held = (slot < k) & can[np.arange(n), np.minimum(slot, k - 1)]
        slot = np.where(held, slot, np.argmax(can, axis=1))
        interactive = (activity > 0) & can.any(axis=1)
        authors = obs.feed_author[rows]
        target = authors[np.arange(n), slot]
        followers = obs.all_followers[np.maximum(target, 0)].astype(np.float64)
        rho = np.minimum(1.0, (1.0 + memory.engaged[users]) / (1.0 + followers))
        salt = (obs.feed[rows].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).sum(axis=1)
        repeat = interactive & (_uniform(users, obs.step, salt) >= rho)
        chosen = np.zeros((n, k), bool)
        chosen[np.arange(n), slot] = True
        chosen &= interactive[:, None]
        # the repeats take the next items of the feed it can engage (for a follow, whose
        # author it does not follow yet)
        later = authors[:, :, None] == authors[:, None, :]
        later &= np.arange(k)[None, None, :] < np.arange(k)[None, :, None]
        new_author = ~obs.feed_followed[rows] & ~later.any(axis=2) & (authors != target[:, None])
        spare = can & ~chosen & np.where(activity[:, None] == 3, new_author, True)
        extra = spare & (np.cumsum(spare, axis=1) <= sb.REPEATS) & repeat[:, None]
        engaged = chosen | extra
        campaign = obs.opinion[rows, 0]
        out = Actions.nothing(n, k)
        out.post = (activity == 0) & obs.may_post[rows]
        out.post_stance = campaign.copy()
        out.repost = engaged & (activity == 1)[:, None]
        out.reply = engaged & (activity == 2)[:, None]
        out.reply_stance = np.broadcast_to(campaign[:, None], (n, k)).copy()
        # a follow goes to an author not followed yet, each author once
        follows = np.where(
            engaged & (activity == 3)[:, None] & ~obs.feed_followed[rows], authors, -1
        )
        follows = -np.sort(-follows, axis=1)  # largest first, -1 (none) last
        follows[:, 1:][follows[:, 1:] == follows[:, :-1]] = -1
        order = np.argsort(follows < 0, axis=1, kind="stable")[:, : 1 + sb.REPEATS]
        out.follow = np.take_along_axis(follows, order, axis=1)
        memory.count_post[users] += out.post
        memory.count_repost[users] += out.repost.sum(axis=1)
        memory.count_reply[users] += out.reply.sum(axis=1)
        memory.count_mention[users] += (out.follow >= 0).sum(axis=1)
        memory.engaged[users] += interactive
        return out

    # -- reward and records -------------------------------------------------------------
    def reward(self, context: RewardContext) -> np.ndarray:
        """Followers gained since the bot was last rewarded (or first decided, or
        `begin_scoring`)."""
        users, memory = context.users, context.memory
        gained = np.where(
            memory.decided[users], context.followers - memory.followers_paid[users], 0
        )
        memory.followers_paid[users] = context.followers
        return gained.astype(np.float64)

    def begin_scoring(self, users, world, memory: RoleMemory) -> None:
        memory.followers_paid[users] = world.graph.in_deg[users]
        memory.decided[users] = True

    def info(self, users, world, memory: RoleMemory) -> dict[str, np.ndarray]:
        activities = sum(getattr(memory, f)[users] for f in COUNT_FIELDS)
        return {
            "followers": world.graph.in_deg[users].astype(np.int64),
            "activities": np.asarray(activities, np.int64),
            "engaged": memory.engaged[users].copy(),
        }

    # -- tabular ---------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return 6

    def discretise(self, vectors: np.ndarray) -> np.ndarray:
        """The interactive share of its activity (below a third, below two thirds, above)
        and whether any feed item can be engaged: 6 states."""
        v = np.atleast_2d(np.asarray(vectors, np.float64))
        share = v[:, sb.LEVEL1_FEATURES.index("interactive_share")]
        third = np.minimum((share * 3).astype(np.int64), 2)
        free = (v[:, -SLOTS:] > 0).any(axis=1).astype(np.int64)
        return (third * 2 + free).astype(np.int64)
