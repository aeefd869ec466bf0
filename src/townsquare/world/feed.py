"""The feed engine: which k posts each active user is shown.

What a feed ranks, and how, is a content recommender's (`townsquare.world.recommenders`,
one file each behind one contract): it scores the window's posts, and may add a term of
the reader's own. This module runs any of them through one parallel kernel.

Every feed only offers posts newer than the last post the user was shown (their read
cursor) and written in the last ``window`` steps, so a user never sees a post twice:
likes can never exceed the users a post was shown to. Posts by suspended users are hidden.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .draws import step_seed, unit_hash
from .graph import FollowGraph, has_edge
from .posts import PostStore
from .recommenders import ContentRecommender, ReaderTerm, WindowView, by_name

_NO_VECTORS = np.zeros((0, 0), np.float64)
_NO_MUTES = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))


@numba.njit(cache=True, inline="always")
def _reader_term(mode, user, post, stance, topic, opinion, lo, user_vectors, post_vectors, seed):
    """The reader's own part of a post's score (`ReaderTerm`); 0 for mode NONE."""
    if mode == 1:
        return -abs(stance - opinion[user, topic])
    if mode == 2:
        w = post - lo
        s = 0.0
        for d in range(user_vectors.shape[1]):
            s += user_vectors[user, d] * post_vectors[w, d]
        return s
    if mode == 3:
        return unit_hash(seed, user, post)
    return 0.0


@numba.njit(cache=True, inline="always")
def _argmin(values):
    worst = 0
    for j in range(1, values.shape[0]):
        if values[j] < values[worst]:
            worst = j
    return worst


@numba.njit(cache=True, inline="always")
def _offer(row_ids, row_from, row_scores, filled, worst, post, source, score):
    """Keep the best k (score, post) pairs of a row, and beside each post where the
    kernel reads its slot (``source``: its record among the window's candidates, or -1
    for a trending post); ``worst`` is the slot to replace once the row is full. Returns
    the new (filled, worst)."""
    k = row_ids.shape[0]
    if filled < k:
        row_ids[filled] = post
        row_from[filled] = source
        row_scores[filled] = score
        filled += 1
        if filled == k:
            worst = _argmin(row_scores)
        return filled, worst
    if score > row_scores[worst]:
        row_ids[worst] = post
        row_from[worst] = source
        row_scores[worst] = score
        worst = _argmin(row_scores)
    return filled, worst


@numba.njit(cache=True, inline="always")
def _sort_desc(ids, source, scores, filled):
    """Best first, each post's source moving with it (insertion sort: k is small)."""
    for a in range(1, filled):
        sid = ids[a]
        ssrc = source[a]
        ssc = scores[a]
        b = a - 1
        while b >= 0 and scores[b] < ssc:
            ids[b + 1] = ids[b]
            source[b + 1] = source[b]
            scores[b + 1] = scores[b]
            b -= 1
        ids[b + 1] = sid
        source[b + 1] = ssrc
        scores[b + 1] = ssc


@numba.njit(cache=True, inline="always")
def sort_small(values):
    """Insertion sort of a short array (or view) in place: the unseen trending posts
    here, a follower's followees when the final state is written."""
    for a in range(1, values.shape[0]):
        v = values[a]
        b = a - 1
        while b >= 0 and values[b] > v:
            values[b + 1] = values[b]
            b -= 1
        values[b + 1] = v


@numba.njit(cache=True, parallel=True)
def _clear_heads(head):
    for a in numba.prange(head.shape[0]):
        head[a, 0] = 0
        head[a, 1] = -1


@numba.njit(cache=True, parallel=True)
def _group_by_author(window_authors, lo, hidden_author, head, author_posts, parts):
    """The window's posts grouped by author, newest first within one (the order of
    sorting by author, then by id descending), by a counting sort: head[a] = [where a's
    posts start in ``author_posts``, a's newest post if a is not hidden, else -1]. Each
    of ``parts`` threads takes the authors of one id range (reading every post), so no
    two threads write one author's entries."""
    n = head.shape[0] - 1
    totals = np.zeros(parts + 1, np.int64)
    for part in numba.prange(parts):
        a_lo, a_hi = n * part // parts, n * (part + 1) // parts
        for a in window_authors:
            if a_lo <= a < a_hi:
                head[a, 0] += 1
        total = 0
        for a in range(a_lo, a_hi):
            total += head[a, 0]
            head[a, 0] = total  # where a's posts end within the range
        totals[part + 1] = total
    for part in range(parts):
        totals[part + 1] += totals[part]
    head[n, 0] = totals[parts]
    for part in numba.prange(parts):
        a_lo, a_hi = n * part // parts, n * (part + 1) // parts
        before = totals[part]
        for a in range(a_lo, a_hi):
            head[a, 0] += before
        for p in range(window_authors.shape[0]):  # oldest first: the newest lands first
            a = window_authors[p]
            if a_lo <= a < a_hi:
                head[a, 0] -= 1
                author_posts[head[a, 0]] = lo + p
        for a in window_authors:
            if a_lo <= a < a_hi and not hidden_author[a]:
                head[a, 1] = author_posts[head[a, 0]]


@numba.njit(cache=True, parallel=True)
def _has_posts(head):
    """A bit per author (little-endian within a byte): whether it has a visible post in
    the window (``np.packbits(head[:-1, 1] >= 0, bitorder="little")``)."""
    n = head.shape[0] - 1
    bits = np.empty((n + 7) // 8, np.uint8)
    for b in numba.prange(bits.shape[0]):
        byte = 0
        for a in range(8 * b, min(n, 8 * b + 8)):
            if head[a, 1] >= 0:
                byte |= 1 << (a - 8 * b)
        bits[b] = byte
    return bits


@numba.njit(cache=True, parallel=True)
def shown_starts(feed):
    """Where each row's shown slots (post id >= 0) begin in a flat list of them, row
    after row: n + 1 offsets."""
    n, k = feed.shape
    start = np.empty(n + 1, np.int64)
    start[0] = 0
    for i in numba.prange(n):
        shown = 0
        for j in range(k):
            shown += feed[i, j] >= 0
        start[i + 1] = shown
    return np.cumsum(start)


@numba.njit(cache=True, parallel=True)
def _shown_slots_of(feed, start, col, post):
    n, k = feed.shape
    for i in numba.prange(n):
        q = start[i]
        for j in range(k):
            if feed[i, j] >= 0:
                col[q], post[q] = j, feed[i, j]
                q += 1


def compact_feeds(
    feed: np.ndarray, posts: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shown slots of each row of a feed of post ids, in order: row i's are
    ``start[i]:start[i + 1]`` of (column, post). At k = 20 a feed is mostly empty slots,
    and a slot's stance and topic are its post's: a sixth of the bytes of a feed's
    stances, topics and shown marks, at most. ``posts``: how many posts exist, when the
    caller knows (else the feed's largest id is looked up)."""
    start = shown_starts(feed)
    shown = int(start[-1])
    # post ids fit 32 bits below 2^31 posts (ten million users write about 0.9 M a step)
    top = (int(feed.max()) if feed.size else -1) if posts is None else int(posts) - 1
    wide = top >= 2**31
    col = np.empty(shown, np.int16 if feed.shape[1] <= 2**15 else np.int32)
    post = np.empty(shown, np.int64 if wide else np.int32)
    _shown_slots_of(feed, start, col, post)
    return start, col, post


#: readers per parallel chunk: each chunk reuses one scratch row of trending marks
CHUNK = 512
#: a reader with at most this many unseen trending posts is offered just those (found
#: newest first, then sorted back into the list's order); one with more goes through the
#: whole list. At 2 x 10^5 users after 10 steps, 87% of readers had seen every trending
#: post and 8% none of them
FEW_UNSEEN = 8

# A window candidate is one record of four int64 (32 bytes), so that offering a
# followee's post and writing its slot read one cache line, not a random line in each of
# six post columns (at 10^7 users those reads were half of the feed's time):
#   [0] post id | (trending index + 1) << 40 | topic << 56
#   [1] author | likes << 32
#   [2] score (float64 bits; unused by the personalised ranking, which scores per reader)
#   [3] stance (float64 bits)
POST_BITS = 40
POST_MASK = (1 << POST_BITS) - 1
TREND_LIMIT = (1 << 16) - 1  # trending index + 1 must fit its 16 bits
TOPIC_LIMIT = 1 << 7  # topics must fit the 7 bits below the sign


@numba.njit(cache=True, parallel=True)
def _fill_candidates(author_posts, lo, trend_index, base_score, author, likes, topic, stance, out):
    out_f = out.view(np.float64)
    for q in numba.prange(author_posts.shape[0]):
        post = author_posts[q]
        w = post - lo
        out[q, 0] = post | ((trend_index[w] + 1) << POST_BITS) | (np.int64(topic[post]) << 56)
        out[q, 1] = np.int64(author[post]) | (np.int64(likes[post]) << 32)
        out_f[q, 2] = base_score[w]
        out_f[q, 3] = stance[post]


@numba.njit(cache=True, parallel=True)
def _feed_kernel(
    mode,
    users,
    offset,
    out_deg,
    pool,
    has_posts,
    head,
    candidates,
    trending,
    trend_newest,
    trend_index,
    out_slots,
    cursor,
    author,
    base_score,
    stance,
    topic,
    likes,
    opinion,
    user_vectors,
    post_vectors,
    seed,
    mute_offset,
    mute_deg,
    mute_pool,
    lo,
    hi,
    feed,
    feed_author,
    feed_stance,
    feed_topic,
    feed_likes,
    feed_followed,
):
    k = feed.shape[1]
    capped = out_slots < k
    n = users.shape[0]
    candidates_f = candidates.view(np.float64)
    muting = mute_deg.shape[0] > 0  # someone on the platform muted someone
    for c in numba.prange((n + CHUNK - 1) // CHUNK):
        # scratch of the chunk: which trending posts are the reader's own network's
        # (offered with them), where each slot's post is read from, the scores of the
        # row, the out-of-network candidates
        in_network = np.zeros(trending.shape[0], np.bool_)
        unseen = np.empty(FEW_UNSEEN, np.int64)
        row_from = np.empty(k, np.int64)
        row_scores = np.empty(k)
        out_ids = np.empty(k, np.int64)
        out_from = np.empty(k, np.int64)
        out_scores = np.empty(k)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            u = users[i]
            row_ids = feed[i]
            filled = 0
            worst = 0
            seen_until = cursor[u]
            in_network[:] = False
            o = offset[u]
            for j in range(o, o + out_deg[u]):
                f = pool[j]
                # most followees wrote nothing the reader has not seen: a bit says whether
                # the author has a visible post in the window at all (the bits of 10^7
                # users fit the cache; head does not), then one read of its newest says
                # whether the reader has seen it
                if not (has_posts[f >> 3] >> (f & 7)) & 1 or head[f, 1] <= seen_until:
                    continue
                if muting and _muted(u, f, mute_offset, mute_deg, mute_pool):
                    continue
                # the author's window posts, newest first, one record each
                for q in range(head[f, 0], head[f + 1, 0]):
                    code = candidates[q, 0]
                    post = code & POST_MASK
                    if post <= seen_until:
                        break
                    t = ((code >> POST_BITS) & TREND_LIMIT) - 1
                    if t >= 0:
                        in_network[t] = True
                    s = candidates_f[q, 2]
                    if mode != 0:
                        s += _reader_term(
                            mode, u, post, candidates_f[q, 3], code >> 56, opinion, lo,
                            user_vectors, post_vectors, seed,
                        )  # fmt: skip
                    filled, worst = _offer(row_ids, row_from, row_scores, filled, worst, post, q, s)
            # out of network: trending posts by accounts the reader does not follow.
            # Capped, they compete among themselves for their own slots; uncapped, with
            # everything.
            # capped, only the best max(out_slots, k - filled) of them can take a slot:
            # keeping no more spares replacements where scores come in no order (a
            # reader's own term)
            need = max(out_slots, k - filled) if capped else k
            ids, src, sc = (
                (out_ids[:need], out_from[:need], out_scores[:need])
                if capped
                else (row_ids[:k], row_from[:k], row_scores[:k])
            )
            got, low = (0, 0) if capped else (filled, worst)
            # (no slot left for a stranger: a network that fills k with no share for them)
            # Only the trending posts the reader has not seen can be offered: the newest
            # of them, found newest first, then offered in the list's order as before
            # (most readers have seen them all: they skip the list; a few have seen none
            # and go through the whole list)
            m = 0
            if need > 0:
                while m < trend_newest.shape[0] and m <= FEW_UNSEEN:
                    if trending[trend_newest[m]] <= seen_until:
                        break
                    if m < FEW_UNSEEN:
                        unseen[m] = trend_newest[m]
                    m += 1
            listed = m <= FEW_UNSEEN
            if listed:
                sort_small(unseen[:m])
            for a in range(m if listed else trending.shape[0]):
                if listed:
                    q = unseen[a]
                else:
                    q = a
                post = trending[q]
                if in_network[q] or post <= seen_until or author[post] == u:
                    continue
                if muting and _muted(u, author[post], mute_offset, mute_deg, mute_pool):
                    continue
                s = base_score[post - lo]
                if mode != 0:
                    s += _reader_term(
                        mode, u, post, stance[post], topic[post], opinion, lo,
                        user_vectors, post_vectors, seed,
                    )  # fmt: skip
                if got == need and s <= sc[low]:
                    continue
                got, low = _offer(ids, src, sc, got, low, post, -1, s)
            if capped:
                # at most out_slots of them, more only where the network leaves slots empty
                n_out = min(got, max(out_slots, k - filled))
                n_in = min(filled, k - n_out)
                _sort_desc(row_ids, row_from, row_scores, filled)
                _sort_desc(ids, src, sc, got)
                for j in range(n_out):
                    row_ids[n_in + j] = ids[j]
                    row_from[n_in + j] = src[j]
                    row_scores[n_in + j] = sc[j]
                filled = n_in + n_out
            else:
                filled = got
            _sort_desc(row_ids, row_from, row_scores, filled)
            # what the reader's policy sees of each slot. A followee's post is read from
            # its record; a trending post (one of a few dozen, in cache) from the columns.
            # A post in the feed comes from the reader's network unless it is a trending
            # post the network did not offer: every other candidate is a followee's, so
            # "already followed" needs no search of the follow graph
            for j in range(k):
                if j < filled:
                    q = row_from[j]
                    if q >= 0:
                        who = candidates[q, 1]
                        feed_author[i, j] = who & 0xFFFFFFFF
                        feed_likes[i, j] = who >> 32
                        feed_stance[i, j] = candidates_f[q, 3]
                        feed_topic[i, j] = candidates[q, 0] >> 56
                        feed_followed[i, j] = True
                    else:
                        post = row_ids[j]
                        feed_author[i, j] = author[post]
                        feed_stance[i, j] = stance[post]
                        feed_topic[i, j] = topic[post]
                        feed_likes[i, j] = likes[post]
                        feed_followed[i, j] = in_network[trend_index[post - lo]]
                else:
                    row_ids[j] = -1
                    feed_author[i, j] = -1
                    feed_stance[i, j] = 0.0
                    feed_topic[i, j] = 0
                    feed_likes[i, j] = 0
                    feed_followed[i, j] = False


@numba.njit(cache=True, inline="always")
def _muted(user, account, mute_offset, mute_deg, mute_pool):
    """Whether ``user`` muted ``account``: an edge of the mute graph (none made yet: empty
    arrays)."""
    return user < mute_deg.shape[0] and has_edge(mute_offset, mute_deg, mute_pool, user, account)


@numba.njit(cache=True, parallel=True)
def _pin_kernel(
    rows, users, cursor, offset, out_deg, pool, hidden, mute_offset, mute_deg, mute_pool,
    mention_lo, mention_hi, mention_posts, search_topic, topic_start, topic_posts,
    search_results, author, stance, topic, likes, feed, feed_author, feed_stance, feed_topic,
    feed_likes, feed_followed,
):  # fmt: skip
    """Pin posts at the top of the feeds of ``rows``: the posts that mention the reader
    (newest first), then up to ``search_results`` newest posts on the topic it searched;
    never one it has seen, its own, a suspended account's or a muted account's. The ranked
    feed follows, less the pinned posts, cut to the slots left."""
    k = feed.shape[1]
    for r in numba.prange(rows.shape[0]):
        i = rows[r]
        u = users[i]
        seen_until = cursor[u]
        pinned = np.empty(k, np.int64)
        p = 0
        for q in range(mention_lo[i], mention_hi[i]):
            post = mention_posts[q]
            if p == k:
                break
            a = author[post]
            if post <= seen_until or hidden[a] or _muted(u, a, mute_offset, mute_deg, mute_pool):
                continue
            pinned[p] = post
            p += 1
        t = search_topic[i]
        if t >= 0:
            got = 0
            for q in range(topic_start[t], topic_start[t + 1]):
                post = topic_posts[q]
                if got == search_results or p == k or post <= seen_until:
                    break
                a = author[post]
                if a == u or hidden[a] or _muted(u, a, mute_offset, mute_deg, mute_pool):
                    continue
                dup = False
                for j in range(p):
                    dup = dup or pinned[j] == post
                if dup:
                    continue
                pinned[p] = post
                p += 1
                got += 1
        if p == 0:
            continue
        # the ranked feed after the pins, less what they already show
        ranked = np.empty(k, np.int64)
        ranked_at = np.empty(k, np.int64)
        m = 0
        for j in range(k):
            post = feed[i, j]
            if post < 0:
                break
            dup = False
            for x in range(p):
                dup = dup or pinned[x] == post
            if not dup:
                ranked[m] = post
                ranked_at[m] = j
                m += 1
        keep = min(m, k - p)
        # move the kept ranked slots down (from the last, so none is overwritten)
        for x in range(keep - 1, -1, -1):
            src, dst = ranked_at[x], p + x
            feed[i, dst] = ranked[x]
            feed_author[i, dst] = feed_author[i, src]
            feed_stance[i, dst] = feed_stance[i, src]
            feed_topic[i, dst] = feed_topic[i, src]
            feed_likes[i, dst] = feed_likes[i, src]
            feed_followed[i, dst] = feed_followed[i, src]
        for j in range(p):
            post = pinned[j]
            a = author[post]
            feed[i, j] = post
            feed_author[i, j] = a
            feed_stance[i, j] = stance[post]
            feed_topic[i, j] = topic[post]
            feed_likes[i, j] = likes[post]
            feed_followed[i, j] = has_edge(offset, out_deg, pool, u, a)
        for j in range(p + keep, k):
            feed[i, j] = -1
            feed_author[i, j] = -1
            feed_stance[i, j] = 0.0
            feed_topic[i, j] = 0
            feed_likes[i, j] = 0
            feed_followed[i, j] = False


class FeedExtras(NamedTuple):
    """What reaches a feed besides the ranking, for one step (`Recommender.extras_of`):
    mutes, posts that mention the reader, a search the reader made."""

    hidden: np.ndarray  # bool (n,): suspended accounts
    #: the mute graph's (offset, out_deg, pool), empty arrays where nobody muted anyone
    mutes: tuple
    #: the window's mentions by addressed account: (accounts ascending, posts newest
    #: first within one), empty where none
    mentions: tuple
    #: int (n,): the topic each user searched at its last visit (-1: none), or None
    search: np.ndarray | None
    #: the window's posts by topic, newest first: (topic_start (topics + 1), posts)
    by_topic: tuple
    search_results: int


class FeedItems(NamedTuple):
    """Each reader's feed, best first, and what its policy sees of every slot: -1 post
    ids, -1 authors, stance 0, topic 0, likes 0 and not followed where the feed is short."""

    feed: np.ndarray  # int64 (n, k)
    author: np.ndarray  # int64 (n, k)
    stance: np.ndarray  # float64 (n, k)
    topic: np.ndarray  # int64 (n, k)
    likes: np.ndarray  # int32 (n, k): likes when the feed was built
    followed: np.ndarray  # bool (n, k): the reader follows the slot's author


class FeedWindow(NamedTuple):
    """The posts feeds may offer in a step (ids ``lo:hi``), indexed by `Recommender.window_of`."""

    lo: int
    hi: int
    #: the follow graph and the window's posts grouped by author (the kernel's inputs)
    index: tuple | None
    #: the post columns and opinions the kernel reads
    posts: tuple = ()
    #: the reader's term of the scores: (mode, user vectors, post vectors, seed)
    reader: tuple = (0, _NO_VECTORS, _NO_VECTORS, 0)
    #: int64 (topics,): the platform's topics, the most engaged with in the window first
    trending_topics: np.ndarray | None = None


class Recommender:
    """Builds feeds of ``k`` posts for a batch of users, ranked by a content recommender
    (``ranking``: its name, `townsquare.world.recommenders.NAMES`, or the object)."""

    def __init__(
        self,
        ranking: str | ContentRecommender,
        k: int,
        window: int = 3,
        trending: int = 50,
        half_life: float = 1.0,
        out_of_network: float = 0.5,
        seed: int = 0,
        step_days: float = 1.0,
    ):
        self.rule = by_name(ranking) if isinstance(ranking, str) else ranking
        self.ranking = self.rule.name
        self.k = int(k)
        self.window = int(window)
        # A feed of followees only has no out-of-network list; the others surface posts
        # of accounts the reader does not follow, which is how users discover them.
        self.trending = int(trending) if self.rule.discovers else 0
        if not 0 <= self.trending < TREND_LIMIT:
            raise ValueError(f"trending must be between 0 and {TREND_LIMIT - 1}, not {trending}")
        self.half_life = float(half_life)
        # the most slots of a feed that posts from accounts the reader does not follow
        # may take (more only when its own network leaves slots empty); a feed without
        # trending posts has none to cap. The small epsilon keeps 0.29 x 100 at 29.
        share = float(out_of_network)
        self.out_slots = (
            min(self.k, int(np.floor(share * self.k + 1e-9))) if self.trending else self.k
        )
        # the recommender's draws (random rankings) are fixed by the run's seed
        self.seed = int(seed) & 0x7FFFFFFFFFFFFFFF
        self.step_days = float(step_days)  # a recommender that reads a clock (hot)

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
        return self.items_for(users, graph, posts, opinion, hidden_author, cursor, step).feed

    def items_for(
        self,
        users: np.ndarray,
        graph: FollowGraph,
        posts: PostStore,
        opinion: np.ndarray,
        hidden_author: np.ndarray,
        cursor: np.ndarray,
        step: int,
    ) -> FeedItems:
        """The feeds of ``users`` and what their policies see of each slot, built in one
        parallel pass."""
        return self.items_in(
            self.window_of(graph, posts, opinion, hidden_author, step), users, cursor
        )

    def window_of(
        self,
        graph: FollowGraph,
        posts: PostStore,
        opinion: np.ndarray,
        hidden_author: np.ndarray,
        step: int,
    ) -> FeedWindow:
        """The step's candidate posts, indexed once for every feed built from them
        (`items_in`); valid until posts, the follow graph or opinions change."""
        lo = posts.window_start(step, self.window)
        hi = len(posts)
        if hi == lo:
            return FeedWindow(lo, hi, None)
        window_ids = np.arange(lo, hi, dtype=np.int64)
        window_authors = posts.author[lo:hi]
        visible = ~hidden_author[window_authors]
        # group window posts by author, newest first within an author (a counting sort:
        # the same order as sorting by author then by id descending, in one pass);
        # head[a] = [where a's posts start, a's newest visible post or -1]
        head = np.empty((graph.n + 1, 2), np.int64)
        _clear_heads(head)
        author_posts = np.empty(hi - lo, np.int64)
        _group_by_author(
            window_authors, lo, hidden_author, head, author_posts, numba.get_num_threads()
        )
        # engagement and scores only for the window's posts, indexed by id - lo
        engagement = (
            1.0 + posts.likes[lo:hi] + 2.0 * posts.reposts[lo:hi] + posts.replies[lo:hi]
        ).astype(np.float64)
        heat = engagement * 0.5 ** ((step - posts.step[lo:hi]) / self.half_life)
        view = WindowView(
            lo, hi, step, posts, graph, opinion, visible, heat, self.half_life, self.seed,
            self.step_days,
        )  # fmt: skip
        scores = self.rule.scores(view)
        base_score = _checked(scores.base, (hi - lo,), f"{self.ranking}: base")
        trending = np.zeros(0, np.int64)
        if self.trending > 0:
            discovery = _checked(scores.discovery, (hi - lo,), f"{self.ranking}: discovery")
            candidates = window_ids[visible]
            if candidates.size:
                hot = discovery[visible]
                top = min(self.trending, candidates.size)
                pick = (
                    np.argpartition(-hot, top - 1)[:top]
                    if top < candidates.size
                    else np.arange(candidates.size)
                )
                # stable order for determinism: by discovery score, then by id
                pick = pick[np.lexsort((candidates[pick], -hot[pick]))]
                trending = candidates[pick]
        user_vectors = post_vectors = _NO_VECTORS
        if scores.reader == ReaderTerm.DOT:
            user_vectors = np.ascontiguousarray(scores.user_vectors, np.float64)
            post_vectors = np.ascontiguousarray(scores.post_vectors, np.float64)
            d = user_vectors.shape[1] if user_vectors.ndim == 2 else -1
            _checked(user_vectors, (graph.n, d), f"{self.ranking}: user vectors")
            _checked(post_vectors, (hi - lo, d), f"{self.ranking}: post vectors")
        trend_index = np.full(hi - lo, -1, np.int64)
        trend_index[trending - lo] = np.arange(trending.size)
        if hi > POST_MASK or opinion.shape[1] > TOPIC_LIMIT:
            raise ValueError(
                f"feeds hold post ids below 2^{POST_BITS} and at most {TOPIC_LIMIT} topics"
            )
        candidates = np.empty((hi - lo, 4), np.int64)
        _fill_candidates(
            author_posts,
            lo,
            trend_index,
            base_score,
            posts.author,
            posts.likes,
            posts.topic,
            posts.stance,
            candidates,
        )
        return FeedWindow(
            lo,
            hi,
            (
                graph.offset,
                graph.out_deg,
                graph.pool,
                _has_posts(head),
                head,
                candidates,
                trending,
                # the list's places, newest post first
                np.argsort(-trending, kind="stable"),
                trend_index,
                self.out_slots,
            ),
            (posts.author, base_score, posts.stance, posts.topic, posts.likes, opinion),
            (int(scores.reader), user_vectors, post_vectors, step_seed(self.seed, step)),
            trending_topics(posts.topic[lo:hi][visible], heat[visible], opinion.shape[1]),
        )

    def items_in(
        self,
        window: FeedWindow,
        users: np.ndarray,
        cursor: np.ndarray,
        extras: FeedExtras | None = None,
    ) -> FeedItems:
        """The feeds of ``users`` from a window of `window_of`: the same, row for row,
        whichever readers are asked for together. ``extras`` (`extras_of`): mutes, and
        posts pinned above the ranking (mentions, searches)."""
        users = np.ascontiguousarray(users, np.int64)
        shape = (users.shape[0], self.k)
        if users.size == 0 or window.hi == window.lo:
            return FeedItems(
                np.full(shape, -1, np.int64),
                np.full(shape, -1, np.int64),
                np.zeros(shape, np.float64),
                np.zeros(shape, np.int64),
                np.zeros(shape, np.int32),
                np.zeros(shape, np.bool_),
            )
        # the kernel writes every slot of every array, in parallel: no filling first
        items = FeedItems(
            np.empty(shape, np.int64),
            np.empty(shape, np.int64),
            np.empty(shape, np.float64),
            np.empty(shape, np.int64),
            np.empty(shape, np.int32),
            np.empty(shape, np.bool_),
        )
        mode, user_vectors, post_vectors, seed = window.reader
        mutes = _NO_MUTES if extras is None else extras.mutes
        _feed_kernel(
            mode,
            users,
            *window.index,
            cursor,
            *window.posts,
            user_vectors,
            post_vectors,
            seed,
            *mutes,
            window.lo,
            window.hi,
            *items,
        )
        if extras is not None:
            self._pin(window, users, cursor, extras, items)
        return items

    def _pin(self, window, users, cursor, extras: FeedExtras, items: FeedItems) -> None:
        targets, posts = extras.mentions
        lo_m = np.searchsorted(targets, users, "left")
        hi_m = np.searchsorted(targets, users, "right")
        search = np.full(users.shape[0], -1, np.int64)
        if extras.search is not None:
            search = extras.search[users].astype(np.int64)
        rows = np.flatnonzero((hi_m > lo_m) | (search >= 0))
        if rows.size == 0:
            return
        offset, out_deg, pool = window.index[:3]
        author, _, stance, topic, likes, _ = window.posts
        _pin_kernel(
            rows, users, cursor, offset, out_deg, pool, extras.hidden, *extras.mutes,
            lo_m, hi_m, posts, search, *extras.by_topic, extras.search_results,
            author, stance, topic, likes, *items,
        )  # fmt: skip

    def extras_of(
        self,
        window: FeedWindow,
        posts: PostStore,
        hidden: np.ndarray,
        mutes: FollowGraph | None = None,
        search: np.ndarray | None = None,
        search_results: int = 10,
    ) -> FeedExtras | None:
        """What a step's feeds show besides the ranking: None when nothing does (no
        mutes, no mention in the window, no search), so feeds cost what they did."""
        post_ids, targets = posts.mentions_since(window.lo)
        searching = search is not None and bool((search >= 0).any())
        if mutes is None and post_ids.size == 0 and not searching:
            return None
        # mentions grouped by the account addressed, newest first within one
        order = np.lexsort((-post_ids, targets))
        by_topic = (np.zeros(1, np.int64), np.zeros(0, np.int64))
        if searching:
            lo, hi = window.lo, window.hi
            t = posts.topic[lo:hi].astype(np.int64)
            topics = max(int(search.max()) + 1, int(t.max(initial=0)) + 1)
            start = np.zeros(topics + 1, np.int64)
            np.cumsum(np.bincount(t, minlength=topics), out=start[1:])
            # by topic, newest first within one
            newest = np.lexsort((-np.arange(lo, hi), t))
            by_topic = (start, np.arange(lo, hi, dtype=np.int64)[newest])
        return FeedExtras(
            hidden=np.ascontiguousarray(hidden, np.bool_),
            mutes=_NO_MUTES if mutes is None else (mutes.offset, mutes.out_deg, mutes.pool),
            mentions=(targets[order], post_ids[order]),
            search=search,
            by_topic=by_topic,
            search_results=int(search_results),
        )


def _checked(values: np.ndarray | None, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A recommender's array as the kernel reads it, or a ValueError naming it."""
    if values is None or np.shape(values) != shape:
        raise ValueError(f"{what}: expected shape {shape}, got {np.shape(values)}")
    out = np.ascontiguousarray(values, np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{what}: scores must be finite")
    return out


def trending_topics(topic: np.ndarray, heat: np.ndarray, topics: int) -> np.ndarray:
    """The topics by the engagement (heat) of their visible window posts, the most first;
    the lower topic first among equals (OASIS's TREND, the top posts by likes, by topic)."""
    total = np.bincount(topic.astype(np.int64), weights=heat, minlength=topics)
    return np.argsort(-total, kind="stable").astype(np.int64)
