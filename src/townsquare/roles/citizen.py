"""The citizen's incentive on the platform: the feedback its posts receive.

Social reinforcement learning (Meylahn & Meylahn 2024, carried onto the platform) rewards
a citizen for the response to what it expressed: posts reach feeds one step after they
are written, so the first round of feedback on the original topic-0 posts written in
step t - 1 arrives during step t. The net feedback of a post is its likes, plus agreeing
replies, minus disagreeing ones. The role defines it once here: the social-RL citizen
policy (`policies/social_rl.py`, one bandit per user) and the learner role below (one
policy for many citizens, in the environments and through a checkpoint) both learn
from it.

`CitizenRole`, the citizen as a learner. Observation, each in [-1, 1]:

* ``feed_stance``, ``feed_spread``, ``feed_fill``: what its feed says at a glance
  (`roles.base.feed_features`, as the influencer reads it);

and of itself (self-observation, which the citizen cannot do without):

* ``own_opinion``: its private opinion on topic 0;
* ``last_side``: the side it last expressed (-1 con, +1 pro, 0 not yet or silent).

Actions (``limited``): stay silent, post con, post pro, on topic 0, with the conviction
of its own opinion (stance ``side × |opinion|``, as the social-RL citizen). It decides
only its post: what it likes, replies to and follows stays the scenario's citizen policy.

Reward: the net feedback, during the step, on its topic-0 post of the step before, each
post's net clipped to [-1, 1] as in ARLOD (silence earns 0). Episode records keep its
``opinion`` and ``last_side``.

Tabular learners see the feed's side (con / neutral / pro at ±0.15), whether it is
divided, the side of their opinion and the side they last expressed (con, none, pro):
36 states. Self-observation cannot be turned off: the reward of a post arrives a step
later, and only an agent that sees the side it last expressed can credit it.
"""

from __future__ import annotations

import numpy as np

from ..world.actions import Actions, Feedback, Observations, StepContext
from ..world.population import Role
from ..world.posts import PostKind
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

ACTIONS = ("stay silent", "post con", "post pro")
ACTION_SIDE = np.array([0.0, -1.0, 1.0])
FEED_EDGE = 0.15  # as the influencer's tabular view
#: the social-RL topic: the one whose expression is learned
TOPIC = 0


def social_feedback(context: StepContext, role: Role = Role.CITIZEN) -> Feedback | None:
    """The net feedback, during ``context.step``, on the original topic-0 posts that
    users of ``role`` wrote in the step before; None when there are none."""
    t, events, world = context.step, context.events, context.world
    if t == 0:
        return None
    posts = world.posts
    lo, hi = posts.step_start[t - 1], posts.step_start[t]
    ids = np.arange(lo, hi)
    ids = ids[(posts.kind[lo:hi] == PostKind.POST) & (posts.topic[lo:hi] == TOPIC)]
    if ids.size == 0:
        return None
    replies = events.post_kind == PostKind.REPLY
    parent = events.post_parent[replies]
    inside = (parent >= lo) & (parent < hi)
    parent = parent[inside]
    agree = np.sign(events.post_stance[replies][inside]) == np.sign(posts.stance[parent])
    reply_net = np.bincount(parent - lo, weights=np.where(agree, 1.0, -1.0), minlength=hi - lo)
    net = posts.likes[ids].astype(np.float64) + reply_net[ids - lo]
    author = posts.author[ids].astype(np.int64)
    mine = world.population.role[author] == role
    if not mine.any():
        return None
    return Feedback(author[mine], posts.stance[ids[mine]], net[mine])


class CitizenRole(LearnerRole):
    name = "citizen"
    world_role = Role.CITIZEN
    action_spaces = ("limited",)
    memory_fields = (
        MemoryField("last_side", np.float64, -1.0, 1.0),
        MemoryField("decided", bool),
    )
    decides = ("post", "post_stance", "post_topic", "post_text")
    info_columns = ("opinion", "last_side")
    reward_label = "net feedback on its posts"

    def __init__(self, action_space: str = "limited", self_observation: bool = True):
        if not self_observation:
            # the reward of a post arrives a step later: only an agent that sees the side
            # it last expressed can tell which of its actions earned it
            raise ValueError(
                "self_observation: the citizen must see the side it last expressed (its "
                "reward arrives a step after its post; without it no action can be credited)"
            )
        super().__init__(action_space, self_observation)

    @property
    def feature_names(self) -> list[str]:
        return FEED_FEATURES + ["own_opinion", "last_side"]

    @property
    def action_names(self) -> list[str]:
        return list(ACTIONS)

    # -- observation ---------------------------------------------------------------
    def observe(self, obs: Observations, rows: np.ndarray, memory: RoleMemory) -> np.ndarray:
        feed = feed_features(obs, rows)
        own = np.column_stack([obs.opinion[rows, TOPIC], memory.last_side[obs.users[rows]]])
        return np.clip(np.hstack([feed, own.astype(np.float32)]), -1, 1)

    def observe_absent(self, users, followers, memory: RoleMemory) -> np.ndarray:
        # a suspended or inactive citizen: its opinion is not in a feed batch, so it
        # reads as 0 (the observation only stands in until the agent leaves)
        feed = np.tile(np.array(EMPTY_FEED, np.float32), (users.size, 1))
        own = np.column_stack([np.zeros(users.size), memory.last_side[users]])
        return np.hstack([feed, own.astype(np.float32)])

    # -- action ------------------------------------------------------------------------
    def to_actions(
        self, obs: Observations, rows: np.ndarray, actions: np.ndarray, memory: RoleMemory
    ) -> Actions:
        actions = self.checked_actions(actions, rows)
        users = obs.users[rows]
        out = Actions.nothing(rows.size, obs.feed.shape[1])
        side = ACTION_SIDE[actions]
        out.post = side != 0
        out.post_stance = side * np.abs(obs.opinion[rows, TOPIC])
        out.post_topic[:] = TOPIC
        memory.last_side[users] = side
        memory.decided[users] = True
        return out

    # -- reward and records ------------------------------------------------------------
    def reward(self, context: RewardContext) -> np.ndarray:
        """The clipped net feedback received during the step on each agent's topic-0
        posts of the step before (0 for an agent that posted nothing then)."""
        feedback = social_feedback(StepContext(context.step, context.events, context.world))
        if feedback is None:
            return np.zeros(context.users.size)
        per_user = np.bincount(
            feedback.author,
            weights=np.clip(feedback.net, -1.0, 1.0),
            minlength=context.world.n,
        )
        return per_user[context.users]

    def info(self, users, world, memory: RoleMemory) -> dict[str, np.ndarray]:
        return {
            "opinion": world.population.opinion[users, TOPIC].astype(np.float64),
            "last_side": memory.last_side[users].copy(),
        }

    # -- tabular -------------------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return 36

    def discretise(self, vectors: np.ndarray) -> np.ndarray:
        v = np.atleast_2d(np.asarray(vectors, np.float64))
        parts = [
            bins3(v[:, 0], FEED_EDGE),
            (v[:, 1] > 0.0).astype(np.int64),
            (v[:, 3] > 0.0).astype(np.int64),
            bins3(v[:, 4], 0.5),  # last_side is exactly -1, 0 or +1
        ]
        return np.ravel_multi_index(parts, (3, 2, 2, 3)).astype(np.int64)
