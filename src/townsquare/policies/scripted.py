"""Scripted ("designed") policies, one per role, each vectorised over all its users.

These are the hand-written rules that simulations such as OASIS, Y Social or agent-based
opinion models use. townsquare keeps them as the *designed baseline*: the learned policies
of later roles replace them one line of a scenario at a time, and realism reports compare
the two. Every rule here is a probability applied to whole arrays at once; no Python loop
over users.

Agreement is measured on the [-1, 1] stance scale: ``gap = |post stance - own opinion|``.
"""

from __future__ import annotations

import numba
import numpy as np

from ..config import CandidateConfig, CitizenConfig, InfluencerConfig, SocialbotConfig
from ..world.actions import Actions, Observations


class ScriptedCitizen:
    """An ordinary user.

    When active: posts with probability ``post_prob`` on a random topic, expressing its
    opinion plus noise; likes items with probability ``like_rate`` scaled down linearly to
    zero at a gap of ``like_tolerance``; reposts agreeable items (``repost_rate``); replies
    (``reply_rate``) mostly to items it disagrees with, restating its own view; follows the
    author of one agreeable item (gap < ``follow_tolerance``) it does not follow yet with
    probability ``follow_rate``; unfollows the author of one item it strongly disagrees with
    (gap > ``unfollow_threshold``) with probability ``unfollow_rate``.
    """

    def __init__(self, params: CitizenConfig | None = None):
        self.params = params if params is not None else CitizenConfig()

    def post_stance(self, obs: Observations, topic: np.ndarray, rng) -> np.ndarray:
        own = obs.opinion[np.arange(len(obs)), topic]
        return np.clip(own + rng.normal(0.0, self.params.expression_noise, len(obs)), -1.0, 1.0)

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        p = self.params
        n, k = obs.feed.shape
        topic = rng.integers(0, obs.topics, n)
        post = rng.random(n) < p.post_prob
        stance = self.post_stance(obs, topic, rng)

        # The random numbers are drawn whole, in the order the rules read them, and the
        # rules are applied to them in one compiled pass per row (_citizen_rules): the
        # same actions as whole-array numpy, without its dozen (n, k) temporaries.
        like_u = rng.random((n, k))
        repost_u = rng.random((n, k))
        reply_u = rng.random((n, k))
        like = np.empty((n, k), np.bool_)
        repost = np.empty((n, k), np.bool_)
        reply = np.empty((n, k), np.bool_)
        own = np.empty((n, k))
        gap = np.empty((n, k))
        _citizen_rules(
            obs.feed, obs.feed_stance, obs.feed_topic, obs.opinion,
            like_u, repost_u, reply_u,
            p.like_rate, p.like_tolerance, p.repost_rate, p.reply_rate,
            like, repost, reply, own, gap,
        )  # fmt: skip
        del like_u, repost_u, reply_u
        # noise only where a reply is written: replies are a few percent of slots
        reply_stance = np.zeros((n, k))
        reply_stance[reply] = np.clip(
            own[reply] + rng.normal(0.0, p.expression_noise, int(reply.sum())), -1.0, 1.0
        )
        follow = np.full(n, -1, np.int64)
        unfollow = np.full(n, -1, np.int64)
        if k:
            keys = rng.random((n, k))
            keep = rng.random(n)
            _pick_author(obs.feed, obs.feed_author, obs.feed_followed, obs.users, gap,
                         keys, keep, True, p.follow_tolerance, p.follow_rate, follow)  # fmt: skip
            keys = rng.random((n, k))
            keep = rng.random(n)
            _pick_author(obs.feed, obs.feed_author, obs.feed_followed, obs.users, gap,
                         keys, keep, False, p.unfollow_threshold, p.unfollow_rate,
                         unfollow)  # fmt: skip
        return Actions(
            post=post,
            post_stance=stance,
            post_topic=topic,
            like=like,
            repost=repost,
            reply=reply,
            reply_stance=reply_stance,
            follow=follow[:, None],
            unfollow=unfollow[:, None],
        )


@numba.njit(cache=True, parallel=True)
def _citizen_rules(
    feed, feed_stance, feed_topic, opinion, like_u, repost_u, reply_u,
    like_rate, like_tolerance, repost_rate, reply_rate, like, repost, reply, own, gap,
):  # fmt: skip
    """The citizen's like, repost and reply rules on each slot (see `ScriptedCitizen`),
    with ``own`` (the reader's opinion on the slot's topic) and ``gap`` kept for the
    follow rules. Each element is the same float arithmetic as the numpy it replaces."""
    n, k = feed.shape
    for i in numba.prange(n):
        for j in range(k):
            shown = feed[i, j] >= 0
            o = opinion[i, feed_topic[i, j] if shown else 0]
            g = abs(feed_stance[i, j] - o)
            own[i, j] = o
            gap[i, j] = g
            agree = min(max(1.0 - g / like_tolerance, 0.0), 1.0)
            like[i, j] = shown and like_u[i, j] < like_rate * agree
            repost[i, j] = shown and repost_u[i, j] < repost_rate * agree
            reply[i, j] = shown and reply_u[i, j] < reply_rate * (0.25 + g / 2.0)


@numba.njit(cache=True, parallel=True)
def _pick_author(feed, feed_author, feed_followed, users, gap, keys, keep, to_follow,
                 tolerance, rate, out):  # fmt: skip
    """For each row, one eligible slot uniformly (the largest key, the first of equals,
    as numpy's argmax), kept with probability ``rate``: its author into ``out`` (-1 where
    none). Eligible to follow: shown, not one's own, not followed, gap under
    ``tolerance``; to unfollow: shown, followed, gap over ``tolerance``."""
    n, k = feed.shape
    for i in numba.prange(n):
        best_j = 0
        best = -2.0
        first = True
        for j in range(k):
            if to_follow:
                ok = (feed[i, j] >= 0 and feed_author[i, j] != users[i]
                      and not feed_followed[i, j] and gap[i, j] < tolerance)  # fmt: skip
            else:
                ok = feed[i, j] >= 0 and feed_followed[i, j] and gap[i, j] > tolerance
            key = keys[i, j] if ok else -1.0
            if first or key > best:
                best, best_j, first = key, j, False
        if best >= 0.0 and keep[i] < rate:
            out[i] = feed_author[i, best_j]


class ScriptedInfluencer(ScriptedCitizen):
    """A citizen who posts often and boldly (stance pushed to at least ``boldness`` in
    magnitude, on their side) and rarely unfollows: audience-building by rule."""

    def __init__(self, params: InfluencerConfig | None = None):
        super().__init__(params if params is not None else InfluencerConfig())

    def post_stance(self, obs, topic, rng):
        raw = super().post_stance(obs, topic, rng)
        side = np.where(raw >= 0, 1.0, -1.0)
        return side * np.maximum(np.abs(raw), self.params.boldness)


class ScriptedCandidate:
    """An election candidate: states its platform position on topic 0 whenever active
    (``post_prob``), likes agreeing posts, and attacks: replies to posts far from its
    position (gap > 0.8) with probability ``attack_rate``, restating the position."""

    def __init__(self, params: CandidateConfig | None = None):
        self.params = params if params is not None else CandidateConfig()

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        p = self.params
        n, k = obs.feed.shape
        position = obs.opinion[:, 0]
        gap = np.abs(obs.feed_stance - position[:, None])
        shown = obs.shown
        acts = Actions.nothing(n, k)
        acts.post = rng.random(n) < p.post_prob
        acts.post_stance = position.copy()
        acts.like = shown & (gap < 0.3) & (rng.random((n, k)) < p.like_rate)
        acts.reply = shown & (gap > 0.8) & (rng.random((n, k)) < p.attack_rate)
        acts.reply_stance = np.broadcast_to(position[:, None], (n, k)).copy()
        return acts


class ScriptedSocialbot:
    """A campaign bot: posts its campaign stance (its opinion, fixed), reposts and likes
    feed items that agree with it, and follows ``follows_per_step`` random accounts each
    active step, hoping for follow-backs — the follow-spam real bots are known for."""

    def __init__(self, params: SocialbotConfig | None = None):
        self.params = params if params is not None else SocialbotConfig()

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        p = self.params
        n, k = obs.feed.shape
        campaign = obs.opinion[:, 0]
        aligned = obs.shown & (obs.feed_stance * campaign[:, None] > 0.3)
        acts = Actions.nothing(n, k)
        acts.post = rng.random(n) < p.post_prob
        acts.post_stance = campaign.copy()
        acts.like = aligned & (rng.random((n, k)) < p.like_rate)
        acts.repost = aligned & (rng.random((n, k)) < p.repost_rate)
        acts.follow = rng.integers(0, obs.n_users, (n, p.follows_per_step))
        return acts


SCRIPTED = {
    "citizen": ScriptedCitizen,
    "influencer": ScriptedInfluencer,
    "candidate": ScriptedCandidate,
    "socialbot": ScriptedSocialbot,
}
