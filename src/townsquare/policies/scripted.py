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
from ..world.draws import uniforms


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

    #: each user's actions follow from its own row: the world may ask in parts
    rowwise = True

    def __init__(self, params: CitizenConfig | None = None):
        self.params = params if params is not None else CitizenConfig()

    def post_stance(self, obs: Observations, topic: np.ndarray, rng) -> np.ndarray:
        own = obs.opinion[np.arange(len(obs)), topic]
        return np.clip(own + rng.normal(0.0, self.params.expression_noise, len(obs)), -1.0, 1.0)

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        p = self.params
        n, k = obs.feed.shape
        topic = rng.integers(0, obs.topics, n)
        post = uniforms(rng, n) < p.post_prob
        stance = self.post_stance(obs, topic, rng)

        # Random numbers only where a rule can act on them: three per shown slot (like,
        # repost, reply; a feed is mostly empty slots), one per row for each of follow
        # and unfollow (u < rate decides, u / rate then picks one eligible slot
        # uniformly), then the noise of each reply written. The rules run in one
        # compiled pass per row (_citizen_rules).
        start, col, _ = obs.shown_slots()
        slot_u = uniforms(rng, (int(start[-1]), 3))  # rng.random's, in parallel
        row_u = uniforms(rng, (n, 2))
        like = np.empty((n, k), np.bool_)
        repost = np.empty((n, k), np.bool_)
        reply = np.empty((n, k), np.bool_)
        replies = np.empty(n + 1, np.int64)
        follow = np.empty((n, 1), np.int64)
        unfollow = np.empty((n, 1), np.int64)
        suggested, leaning = self._suggestions(obs, row_u[:, 0] < p.follow_rate)
        _citizen_rules(
            obs.feed, obs.feed_author, obs.feed_stance, obs.feed_topic, obs.feed_followed,
            obs.opinion, obs.users, start, col, slot_u, row_u,
            p.like_rate, p.like_tolerance, p.repost_rate, p.reply_rate,
            p.follow_tolerance, p.follow_rate, p.unfollow_threshold, p.unfollow_rate,
            suggested, leaning, like, repost, reply, replies, follow, unfollow,
        )  # fmt: skip
        del slot_u, row_u
        np.cumsum(replies, out=replies)
        noise = rng.normal(0.0, p.expression_noise, int(replies[-1]))
        reply_stance = np.empty((n, k))
        _reply_stances(obs.feed_topic, obs.opinion, reply, replies, noise, reply_stance)
        acts = Actions(
            post=post,
            post_stance=stance,
            post_topic=topic,
            like=like,
            repost=repost,
            reply=reply,
            reply_stance=reply_stance,
            follow=follow,
            unfollow=unfollow,
        )
        self._further_actions(obs, rng, acts, start, col)
        return acts

    def _further_actions(self, obs: Observations, rng, acts: Actions, start, col) -> None:
        """Quotes, dislikes, reports, mutes, mentions and searches, each only where its
        rate is above 0 (the default: no draws, so the baseline's runs are unchanged).
        Random numbers only where a rule can act: three uniforms per shown slot (quote,
        dislike, report) and a quote's noise, when a slot action has a rate; three per row
        (mute, mention, search) when a row action has one. One compiled pass per row."""
        p = self.params
        n, k = obs.feed.shape
        if n == 0 or not any((p.quote_rate, p.dislike_rate, p.report_rate, p.mute_rate,
                              p.mention_rate, p.search_rate)):  # fmt: skip
            return
        slots = int(start[-1])
        slot_actions = p.quote_rate > 0 or p.dislike_rate > 0 or p.report_rate > 0
        slot_u = uniforms(rng, (slots, 3)) if slot_actions else np.zeros((0, 3))
        noise = rng.normal(0.0, p.expression_noise, slots) if p.quote_rate > 0 else np.zeros(0)
        row_actions = p.mute_rate > 0 or p.mention_rate > 0 or p.search_rate > 0
        row_u = uniforms(rng, (n, 3)) if row_actions else np.zeros((0, 3))
        quote = np.empty((n, k), np.bool_)
        quote_stance = np.empty((n, k))
        dislike = np.empty((n, k), np.bool_)
        report = np.empty((n, k), np.bool_)
        targets = np.empty((n, 3), np.int64)  # mute, mention, searched topic
        _further_rules(
            obs.feed, obs.feed_author, obs.feed_stance, obs.feed_topic, obs.feed_followed,
            obs.opinion, obs.users, start, col, slot_u, noise, row_u, p.quote_rate, p.dislike_rate,
            p.report_rate, p.mute_rate, p.mention_rate, p.search_rate, p.follow_tolerance,
            p.unfollow_threshold, quote, quote_stance, dislike, report, targets,
        )  # fmt: skip
        if p.quote_rate > 0:
            acts.quote, acts.quote_stance = quote, quote_stance
        if p.dislike_rate > 0:
            acts.dislike = dislike
        if p.report_rate > 0:
            acts.report = report
        if p.mute_rate > 0:
            acts.mute = targets[:, :1].copy()
        if p.mention_rate > 0:
            acts.mention = np.where(acts.post, targets[:, 1], -1)
        if p.search_rate > 0:
            acts.search = targets[:, 2].copy()

    @staticmethod
    def _suggestions(obs: Observations, follows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Who to follow for the rows about to follow someone (``follows``): the other
        rows are not asked, as a user opens the suggestions only to follow. No follow
        recommender: no columns."""
        n = len(obs)
        if obs.suggest is None:
            return np.full((n, 0), -1, np.int64), np.zeros((n, 0))
        rows = np.flatnonzero(follows)
        got = obs.suggest(rows)
        suggested = np.full((n, got.ids.shape[1]), -1, np.int64)
        leaning = np.zeros((n, got.ids.shape[1]))
        suggested[rows] = got.ids
        leaning[rows] = got.leaning
        return suggested, leaning


#: the slots a rule picks an author among (`_eligible`)
FOLLOW, UNFOLLOW, FAR, NEAR = 0, 1, 2, 3


@numba.njit(cache=True, parallel=True)
def _further_rules(
    feed, feed_author, feed_stance, feed_topic, feed_followed, opinion, users, start, col,
    slot_u, noise, row_u,
    quote_rate, dislike_rate, report_rate, mute_rate, mention_rate, search_rate,
    follow_tolerance, unfollow_threshold, quote, quote_stance, dislike, report, targets,
):  # fmt: skip
    """The further actions of each row (`ScriptedCitizen._further_actions`): on each shown
    slot not one's own, a quote (u < quote_rate x (0.25 + gap / 2), stating one's
    opinion plus the slot's noise), a dislike (u < dislike_rate x gap / 2) and a report
    (gap beyond unfollow_threshold, u < report_rate); per row, the author of one far slot
    to mute and of one near slot (gap < follow_tolerance) to mention, each with its rate
    and each eligible slot as likely, and the topic of the strongest opinion to search."""
    n, k = feed.shape
    slotted = slot_u.shape[0] > 0
    rowed = row_u.shape[0] > 0
    for i in numba.prange(n):
        far = 0
        near = 0
        for j in range(k):
            quote[i, j] = False
            quote_stance[i, j] = 0.0
            dislike[i, j] = False
            report[i, j] = False
        # the shown slots only, slot s with its uniforms slot_u[s], as `_citizen_rules`
        for s in range(start[i], start[i + 1]):
            j = col[s]
            own = opinion[i, feed_topic[i, j]]
            g = abs(feed_stance[i, j] - own)
            if feed_author[i, j] != users[i]:
                if slotted:
                    quote[i, j] = slot_u[s, 0] < quote_rate * (0.25 + g / 2.0)
                    if quote[i, j]:
                        quote_stance[i, j] = min(max(own + noise[s], -1.0), 1.0)
                    dislike[i, j] = slot_u[s, 1] < dislike_rate * g / 2.0
                    report[i, j] = g > unfollow_threshold and slot_u[s, 2] < report_rate
            far += _eligible(FAR, feed, feed_author, feed_followed, users, i, j, g,
                             unfollow_threshold)  # fmt: skip
            near += _eligible(NEAR, feed, feed_author, feed_followed, users, i, j, g,
                              follow_tolerance)  # fmt: skip
        targets[i, 0] = -1
        targets[i, 1] = -1
        targets[i, 2] = -1
        if not rowed:
            continue
        none, no_leaning = targets[:, :0], feed_stance[:, :0]  # no suggested accounts
        targets[i, 0] = _pick(FAR, feed, feed_author, feed_stance, feed_topic, feed_followed,
                              opinion, users, i, far, row_u[i, 0], mute_rate,
                              unfollow_threshold, none, no_leaning)  # fmt: skip
        targets[i, 1] = _pick(NEAR, feed, feed_author, feed_stance, feed_topic, feed_followed,
                              opinion, users, i, near, row_u[i, 1], mention_rate,
                              follow_tolerance, none, no_leaning)  # fmt: skip
        if row_u[i, 2] < search_rate:
            best = 0
            for t in range(opinion.shape[1]):
                if abs(opinion[i, t]) > abs(opinion[i, best]):
                    best = t
            targets[i, 2] = best


@numba.njit(cache=True, inline="always")
def _eligible(mode, feed, feed_author, feed_followed, users, i, j, g, tolerance):
    """Whether slot (i, j) takes part in a rule of ``mode``: FOLLOW (shown, not one's own,
    not followed yet, gap under ``tolerance``), UNFOLLOW (shown, followed, gap over it),
    FAR (shown, not one's own, gap over it: a mute) or NEAR (shown, not one's own, gap
    under it: a mention)."""
    if feed[i, j] < 0:
        return False
    if mode == UNFOLLOW:
        return feed_followed[i, j] and g > tolerance
    if feed_author[i, j] == users[i]:
        return False
    if mode == FOLLOW:
        return not feed_followed[i, j] and g < tolerance
    return g > tolerance if mode == FAR else g < tolerance


@numba.njit(cache=True, inline="always")
def _pick(mode, feed, feed_author, feed_stance, feed_topic, feed_followed, opinion,
          users, i, eligible, u, rate, tolerance, suggested, leaning):  # fmt: skip
    """With probability ``rate`` (u < rate) the author of one of the row's ``eligible``
    slots or suggested accounts, each as likely (the one u / rate lands on); -1
    otherwise. A suggested account is eligible as a slot is, by its public leaning
    against the user's opinion on topic 0."""
    if eligible == 0 or not u < rate:
        return -1
    target = min(int(u / rate * eligible), eligible - 1)
    seen = 0
    for j in range(feed.shape[1]):
        g = abs(feed_stance[i, j] - opinion[i, feed_topic[i, j] if feed[i, j] >= 0 else 0])
        if _eligible(mode, feed, feed_author, feed_followed, users, i, j, g, tolerance):
            if seen == target:
                return feed_author[i, j]
            seen += 1
    for j in range(suggested.shape[1]):
        if _suggestion_eligible(suggested, leaning, opinion, i, j, tolerance):
            if seen == target:
                return suggested[i, j]
            seen += 1
    return -1


@numba.njit(cache=True, inline="always")
def _suggestion_eligible(suggested, leaning, opinion, i, j, tolerance):
    return suggested[i, j] >= 0 and abs(leaning[i, j] - opinion[i, 0]) < tolerance


@numba.njit(cache=True, parallel=True)
def _citizen_rules(
    feed, feed_author, feed_stance, feed_topic, feed_followed, opinion, users, start, col,
    slot_u, row_u, like_rate, like_tolerance, repost_rate, reply_rate, follow_tolerance,
    follow_rate, unfollow_threshold, unfollow_rate, suggested, leaning, like, repost, reply,
    replies, follow, unfollow,
):  # fmt: skip
    """The citizen's rules (see `ScriptedCitizen`) on each row: like, repost and reply on
    each shown slot with that slot's three uniforms (``slot_u[start[i]:start[i + 1]]``),
    then follow and unfollow with the row's two (``row_u[i]``). ``replies[i + 1]``: the
    row's replies written."""
    n, k = feed.shape
    replies[0] = 0
    for i in numba.prange(n):
        to_follow = 0
        to_unfollow = 0
        written = 0
        for j in range(k):
            like[i, j] = False
            repost[i, j] = False
            reply[i, j] = False
        # the shown slots only (row i's columns are col[start[i]:start[i + 1]]), slot s
        # with its uniforms slot_u[s]
        for s in range(start[i], start[i + 1]):
            j = col[s]
            g = abs(feed_stance[i, j] - opinion[i, feed_topic[i, j]])
            agree = min(max(1.0 - g / like_tolerance, 0.0), 1.0)
            like[i, j] = slot_u[s, 0] < like_rate * agree
            repost[i, j] = slot_u[s, 1] < repost_rate * agree
            reply[i, j] = slot_u[s, 2] < reply_rate * (0.25 + g / 2.0)
            written += reply[i, j]
            to_follow += _eligible(FOLLOW, feed, feed_author, feed_followed, users, i, j, g,
                                   follow_tolerance)  # fmt: skip
            to_unfollow += _eligible(UNFOLLOW, feed, feed_author, feed_followed, users, i, j, g,
                                     unfollow_threshold)  # fmt: skip
        replies[i + 1] = written
        for j in range(suggested.shape[1]):
            to_follow += _suggestion_eligible(suggested, leaning, opinion, i, j,
                                              follow_tolerance)  # fmt: skip
        follow[i, 0] = _pick(FOLLOW, feed, feed_author, feed_stance, feed_topic, feed_followed,
                             opinion, users, i, to_follow, row_u[i, 0], follow_rate,
                             follow_tolerance, suggested, leaning)  # fmt: skip
        unfollow[i, 0] = _pick(UNFOLLOW, feed, feed_author, feed_stance, feed_topic,
                               feed_followed, opinion, users, i, to_unfollow, row_u[i, 1],
                               unfollow_rate, unfollow_threshold, suggested[:, :0],
                               leaning[:, :0])  # fmt: skip


@numba.njit(cache=True, parallel=True)
def _reply_stances(feed_topic, opinion, reply, replies, noise, reply_stance):
    """Each reply restates the reader's own opinion on the slot's topic plus its noise
    (``noise[replies[i]:replies[i + 1]]`` for row i, in slot order); 0 elsewhere."""
    n, k = reply.shape
    for i in numba.prange(n):
        r = replies[i]
        for j in range(k):
            if reply[i, j]:
                reply_stance[i, j] = min(max(opinion[i, feed_topic[i, j]] + noise[r], -1.0), 1.0)
                r += 1
            else:
                reply_stance[i, j] = 0.0


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

    #: each user's actions follow from its own row: the world may ask in parts
    rowwise = True

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

    #: each user's actions follow from its own row: the world may ask in parts
    rowwise = True

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
