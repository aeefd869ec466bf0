"""Scripted ("designed") policies, one per role, each vectorised over all its users.

These are the hand-written rules that simulations such as OASIS, Y Social or agent-based
opinion models use. townsquare keeps them as the *designed baseline*: the learned policies
of later roles replace them one line of a scenario at a time, and realism reports compare
the two. Every rule here is a probability applied to whole arrays at once; no Python loop
over users.

Agreement is measured on the [-1, 1] stance scale: ``gap = |post stance - own opinion|``.
"""

from __future__ import annotations

import numpy as np

from ..config import CandidateConfig, CitizenConfig, InfluencerConfig, SocialbotConfig
from ..world.actions import Actions, Observations


def _own_opinion_on(obs: Observations) -> np.ndarray:
    """(n, k) the user's opinion on the topic of each feed item."""
    return np.take_along_axis(obs.opinion, np.where(obs.shown, obs.feed_topic, 0), axis=1)


def _pick_one(rng: np.random.Generator, eligible: np.ndarray, rate: float) -> np.ndarray:
    """For each row, the column of one eligible slot chosen uniformly, kept with
    probability ``rate``; -1 where none is picked."""
    n = eligible.shape[0]
    if eligible.shape[1] == 0:
        return np.full(n, -1, np.int64)
    keys = np.where(eligible, rng.random(eligible.shape), -1.0)
    col = keys.argmax(axis=1)
    picked = eligible[np.arange(n), col] & (rng.random(n) < rate)
    return np.where(picked, col, -1)


def _authors_at(obs: Observations, col: np.ndarray) -> np.ndarray:
    rows = np.arange(len(obs))
    return np.where(col >= 0, obs.feed_author[rows, np.maximum(col, 0)], -1)


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
        shown = obs.shown
        topic = rng.integers(0, obs.topics, n)
        post = rng.random(n) < p.post_prob
        stance = self.post_stance(obs, topic, rng)

        own = _own_opinion_on(obs)
        gap = np.abs(obs.feed_stance - own)
        agree = np.clip(1.0 - gap / p.like_tolerance, 0.0, 1.0)
        like = shown & (rng.random((n, k)) < p.like_rate * agree)
        repost = shown & (rng.random((n, k)) < p.repost_rate * agree)
        reply = shown & (rng.random((n, k)) < p.reply_rate * (0.25 + gap / 2.0))
        # noise only where a reply is written: replies are a few percent of slots
        reply_stance = np.zeros((n, k))
        reply_stance[reply] = np.clip(
            own[reply] + rng.normal(0.0, p.expression_noise, int(reply.sum())), -1.0, 1.0
        )

        not_self = obs.feed_author != obs.users[:, None]
        can_follow = shown & not_self & ~obs.feed_followed & (gap < p.follow_tolerance)
        can_unfollow = shown & obs.feed_followed & (gap > p.unfollow_threshold)
        follow = _authors_at(obs, _pick_one(rng, can_follow, p.follow_rate))
        unfollow = _authors_at(obs, _pick_one(rng, can_unfollow, p.unfollow_rate))
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
