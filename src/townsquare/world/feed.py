"""Feed recommenders: which k posts each active user is shown.

Three rankings, chosen in the scenario:

* ``chronological``: newest posts from the user's followees (a classic timeline);
* ``engagement``: followees' posts plus the platform's trending posts, ranked by
  engagement (1 + likes + 2 reposts + replies) decayed with age;
* ``personalised``: the same candidates, posts closest to the user's own opinion first.

Every feed only offers posts newer than the last post the user was shown (their read
cursor) and written in the last ``window`` steps, so a user never sees a post twice:
likes can never exceed the users a post was shown to. Posts by suspended users are hidden.
"""

from __future__ import annotations

from enum import IntEnum

import numba
import numpy as np

from .graph import FollowGraph
from .posts import PostStore


class Ranking(IntEnum):
    CHRONOLOGICAL = 0
    ENGAGEMENT = 1
    PERSONALISED = 2


@numba.njit(cache=True, inline="always")
def _score(mode, post, user, base_score, stance, topic, opinion, lo, hi):
    if mode != 2:
        return base_score[post - lo]  # the same for every reader
    # Similar stance first; recency breaks ties among equally close posts.
    gap = abs(stance[post] - opinion[user, topic[post]])
    return -gap + 1e-6 * (post - lo) / (hi - lo + 1)


@numba.njit(cache=True, inline="always")
def _argmin(values):
    worst = 0
    for j in range(1, values.shape[0]):
        if values[j] < values[worst]:
            worst = j
    return worst


@numba.njit(cache=True, inline="always")
def _offer(row_ids, row_scores, filled, worst, post, score):
    """Keep the best k (score, post) pairs of a row; ``worst`` is the slot to replace
    once the row is full. Returns the new (filled, worst)."""
    k = row_ids.shape[0]
    if filled < k:
        row_ids[filled] = post
        row_scores[filled] = score
        filled += 1
        if filled == k:
            worst = _argmin(row_scores)
        return filled, worst
    if score > row_scores[worst]:
        row_ids[worst] = post
        row_scores[worst] = score
        worst = _argmin(row_scores)
    return filled, worst


@numba.njit(cache=True, parallel=True)
def _feed_kernel(
    mode,
    users,
    offset,
    out_deg,
    pool,
    author_start,
    author_posts,
    trending,
    cursor,
    hidden_author,
    author,
    base_score,
    stance,
    topic,
    opinion,
    lo,
    hi,
    feed,
    scores,
):
    k = feed.shape[1]
    for i in numba.prange(users.shape[0]):
        u = users[i]
        row_ids = feed[i]
        row_scores = scores[i]
        filled = 0
        worst = 0
        seen_until = cursor[u]
        o = offset[u]
        for j in range(o, o + out_deg[u]):
            f = pool[j]
            if hidden_author[f]:
                continue
            # author_posts holds each author's window posts newest first
            for q in range(author_start[f], author_start[f + 1]):
                post = author_posts[q]
                if post <= seen_until:
                    break
                s = _score(mode, post, u, base_score, stance, topic, opinion, lo, hi)
                filled, worst = _offer(row_ids, row_scores, filled, worst, post, s)
        for q in range(trending.shape[0]):
            post = trending[q]
            if post <= seen_until or author[post] == u:
                continue
            s = _score(mode, post, u, base_score, stance, topic, opinion, lo, hi)
            if filled == k and s <= row_scores[worst]:
                continue  # would not get in, duplicate or not
            duplicate = False
            for j in range(filled):
                if row_ids[j] == post:
                    duplicate = True
                    break
            if not duplicate:
                filled, worst = _offer(row_ids, row_scores, filled, worst, post, s)
        # best first (insertion sort: k is small)
        for a in range(1, filled):
            sid = row_ids[a]
            ssc = row_scores[a]
            b = a - 1
            while b >= 0 and row_scores[b] < ssc:
                row_ids[b + 1] = row_ids[b]
                row_scores[b + 1] = row_scores[b]
                b -= 1
            row_ids[b + 1] = sid
            row_scores[b + 1] = ssc
        for j in range(filled, k):
            row_ids[j] = -1


class Recommender:
    """Builds feeds of ``k`` posts for a batch of users."""

    def __init__(
        self,
        ranking: str | Ranking,
        k: int,
        window: int = 3,
        trending: int = 50,
        half_life: float = 1.0,
    ):
        self.ranking = Ranking[ranking.upper()] if isinstance(ranking, str) else Ranking(ranking)
        self.k = int(k)
        self.window = int(window)
        # A chronological timeline shows followees only; ranked feeds also surface
        # trending posts, which is how users discover accounts they do not follow yet.
        self.trending = 0 if self.ranking == Ranking.CHRONOLOGICAL else int(trending)
        self.half_life = float(half_life)

    def feed_for(
        self,
        users: np.ndarray,
        graph: FollowGraph,
        posts: PostStore,
        opinion: np.ndarray,
        hidden_author: np.ndarray,
        cursor: np.ndarray,
        step: int,
    ) -> np.ndarray:
        """(len(users), k) post ids, best first, -1 where fewer posts were available."""
        users = np.ascontiguousarray(users, np.int64)
        feed = np.full((users.shape[0], self.k), -1, np.int64)
        lo = posts.window_start(step, self.window)
        hi = len(posts)
        if users.size == 0 or hi == lo:
            return feed
        window_ids = np.arange(lo, hi, dtype=np.int64)
        window_authors = posts.author[lo:hi]
        visible = ~hidden_author[window_authors]
        # group window posts by author, newest first within an author
        order = np.lexsort((-window_ids, window_authors))
        author_posts = window_ids[order]
        author_start = np.zeros(graph.n + 1, np.int64)
        np.cumsum(np.bincount(window_authors, minlength=graph.n), out=author_start[1:])
        # engagement and scores only for the window's posts, indexed by id - lo
        engagement = (
            1.0 + posts.likes[lo:hi] + 2.0 * posts.reposts[lo:hi] + posts.replies[lo:hi]
        ).astype(np.float64)
        heat = engagement * 0.5 ** ((step - posts.step[lo:hi]) / self.half_life)
        if self.ranking == Ranking.CHRONOLOGICAL:
            base_score = window_ids.astype(np.float64)
        else:
            base_score = heat
        trending = np.zeros(0, np.int64)
        if self.trending > 0:
            candidates = window_ids[visible]
            if candidates.size:
                hot = heat[visible]
                top = min(self.trending, candidates.size)
                pick = (
                    np.argpartition(-hot, top - 1)[:top]
                    if top < candidates.size
                    else np.arange(candidates.size)
                )
                # stable order for determinism: by heat, then by id
                pick = pick[np.lexsort((candidates[pick], -hot[pick]))]
                trending = candidates[pick]
        scores = np.empty(feed.shape, np.float64)
        _feed_kernel(
            int(self.ranking),
            users,
            graph.offset,
            graph.out_deg,
            graph.pool,
            author_start,
            author_posts,
            trending,
            cursor,
            hidden_author,
            posts.author,
            base_score,
            posts.stance,
            posts.topic,
            opinion,
            lo,
            hi,
            feed,
            scores,
        )
        return feed
