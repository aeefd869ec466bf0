"""The citizen's incentive on the platform: the feedback its posts receive.

Social reinforcement learning (Meylahn & Meylahn 2024, carried onto the platform) rewards
a citizen for the response to what it expressed: posts reach feeds one step after they
are written, so the first round of feedback on the original topic-0 posts written in
step t - 1 arrives during step t. The net feedback of a post is its likes, plus agreeing
replies, minus disagreeing ones. The role defines it once here; the social-RL citizen
policy (`policies/social_rl.py`) learns from it.
"""

from __future__ import annotations

import numpy as np

from ..world.actions import Feedback, StepContext
from ..world.population import Role
from ..world.posts import PostKind


def social_feedback(context: StepContext, role: Role = Role.CITIZEN) -> Feedback | None:
    """The net feedback, during ``context.step``, on the original topic-0 posts that
    users of ``role`` wrote in the step before; None when there are none."""
    t, events, world = context.step, context.events, context.world
    if t == 0:
        return None
    posts = world.posts
    lo, hi = posts.step_start[t - 1], posts.step_start[t]
    ids = np.arange(lo, hi)
    ids = ids[(posts.kind[lo:hi] == PostKind.POST) & (posts.topic[lo:hi] == 0)]
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
