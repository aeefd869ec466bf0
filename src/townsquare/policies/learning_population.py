"""A learning population: citizens and influencers who learn from the platform's social
reward how often to post, whom to follow and unfollow and (citizens, with
``expression: social_rl``) which side to express. Every rule is vectorised over the
role's users: numpy for whole-batch steps, numba for the sequential hash-table kernels.
Parameters and sources: docs/population.md.

**How often to post** (``posting: learned``): reward learning of response vigour
(Niv, Daw, Joel & Dayan 2007), the model Lindström et al. (2021) fitted to the posting of
more than 4,000 social-media users, with the habit Turner et al. (2025) found beside it
in 1,558 Twitter users (their hybrid ``mod_RLH``), all learned once per post. Each user
holds ``R``, the reward it expects a post to earn, moved by what each post earned,
``R <- R + posting_alpha (r - R)``; ``r`` is the likes and replies the post got while
feeds could show it, so it is learned when the post leaves the feed window. It also
holds ``H``, its habitual latency, moved by each latency it took,
``H <- H + posting_habit_alpha (τ - H)``. Latencies run in the sessions a user may post
in (``Observations.can_post``). The mean latency is
``w H + (1 - w) C / R`` with ``w = posting_habit``. With ``posting_rates: fitted`` each
user's three rates are drawn from their distribution over Twitter users instead
(`FITTED_RATES`). ``C / R`` is Niv's optimum
``sqrt(C_v / R̄)`` at its fixed point (``R̄ = R / τ``, the reward per session). A
constant chance per session gives geometric latencies, so a user posts in a session
with ``p = min(1, 1 / (w H + (1 - w) C / R))``. Every user starts at
``R = posting_prior`` and ``H = C / R = 1 / post_prob``, with
``C = posting_prior / post_prob``, so that at step 0 every user posts with the scripted
``post_prob``.

**Whom to follow** (``following: learned``): each user keeps a value ``V`` of every
author it remembers, the exponential moving average of the reward reading that author's
posts brought it: the social reward of an encounter as the population's expression
learns it (ARLOD, Meylahn & Meylahn 2024), ``+1`` for a post on the reader's side (the
sign of its opinion on the post's topic), ``-1`` for the other side, ``0`` for a neutral
one. It also keeps ``b``, the average reward per item of all it reads (updated once per
session with the session's mean), and an unseen author is worth ``b``. Each session,
after reading, it follows the not-yet-followed feed author with the highest ``V - b``
if that is positive (with chance ``follow_rate``: the scripted key, one follow decision
per session), and unfollows the followed feed author with the lowest ``V`` if that is
negative, i.e. reading them has on balance been disagreement (chance
``unfollow_rate``).

The values live in an open-addressing hash table (`ValueTable`: linear probing,
Fibonacci hashing) keyed by ``reader * n + author`` with a capacity of about one slot per
follow edge of the role's users: an author enters it the first time reading them brings
a reward that could change a decision (a value above the reader's average for an
author it does not follow, below 0 for one it follows). When a batch of reads would take more
than half the slots, the table first forgets what can be forgotten (`ValueTable.forget`): pairs whose reader follows
the author are always kept; of the others, those no better than the reader's average
are dropped (they read as ``b`` again), then the lowest-valued until at most a quarter
of the slots are taken. So storage stays O(follow edges), and forgetting never depends
on the table's layout, which keeps ``--resume`` exact.
"""

from __future__ import annotations

import numba
import numpy as np

from ..config import CitizenConfig
from ..world import checks
from ..world.actions import Actions, Observations, StepContext
from ..world.posts import PostKind

#: learned posting's rates over Twitter users: the hybrid RL-habit model (``mod_RLH``)
#: fitted to each of 1,558 users of the confirmatory sample of Turner et al. (2025, Nature
#: Communications; source data of their Fig. 4, repository georgiaturner/rl_twitter).
#: Quantiles 0, 0.05, ..., 1 of each fitted parameter, the ends at the model's bounds 0
#: and 1 (the fits reach 2e-14 and 1 - 1e-12). `fitted_rates` draws each user's three
#: rates independently, piecewise linearly between these points.
FITTED_QUANTILES = tuple(np.linspace(0.0, 1.0, 21).tolist())
FITTED_RATES = {
    # reward learning rate (their c_alpha_R): 43% of users below 0.01, 21% above 0.5
    "posting_alpha": (
        0.0, 5.0238e-11, 2.68606e-09, 3.53989e-08, 4.00436e-07, 5.21704e-06, 2.82901e-05,
        0.0017946, 0.00654156, 0.014343, 0.0317658, 0.0584826, 0.0987786, 0.15334,
        0.245347, 0.375275, 0.512697, 0.718841, 0.86048, 0.977192, 1.0,
    ),
    # habit weight (a_habit_weight): 80% of users above 0.5, 53% above 0.9
    "posting_habit": (
        0.0, 0.148107, 0.265952, 0.385949, 0.499323, 0.569098, 0.651505, 0.713726,
        0.796035, 0.87871, 0.943834, 0.984345, 0.997086, 0.999443, 0.999828, 0.999931,
        0.99996, 0.999978, 0.999991, 0.999999, 1.0,
    ),
    # habit learning rate (b_alpha_action): 15% of users below 0.01
    "posting_habit_alpha": (
        0.0, 4.73127e-08, 6.43564e-05, 0.0106454, 0.028179, 0.0436556, 0.060452,
        0.0758033, 0.0909193, 0.113553, 0.136136, 0.163668, 0.196361, 0.236551, 0.293238,
        0.352409, 0.415865, 0.520277, 0.645005, 0.9406, 1.0,
    ),
}  # fmt: skip


def fitted_rates(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Each of ``size`` users' three learned-posting rates, drawn from `FITTED_RATES`."""
    return {
        key: np.interp(rng.random(size), FITTED_QUANTILES, knots)
        for key, knots in FITTED_RATES.items()
    }


#: learned posting's per-user arrays in checkpoints: state key, attribute, dtype and the
#: bounds `load_state` checks (a latency is at least one session, and the habit an
#: average of latencies; the rates are in [0, 1])
POSTING_STATE = (
    ("post_expected_reward", "expected_reward", np.float64, 0.0, None),
    ("post_habit_latency", "habit_latency", np.float64, 1.0, None),
    ("post_sessions_since", "sessions_since_post", np.int64, 0, None),
    ("post_reward_alpha", "reward_alpha", np.float64, 0.0, 1.0),
    ("post_habit_weight", "habit_weight", np.float64, 0.0, 1.0),
    ("post_habit_alpha", "habit_alpha", np.float64, 0.0, 1.0),
)

#: slots per follow edge of the role's users when the world is built (a power of two)
SLOTS_PER_EDGE = 1
MIN_CAPACITY = 1024
#: a batch of reads that would fill more than half the slots first makes the table
#: forget, down to a quarter (or grow, when the followed pairs alone need more)
MAX_LOAD = 0.5
KEEP_LOAD = 0.25
EMPTY = -1
MAX_FLOAT = float(np.finfo(np.float64).max)
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)


def _pow2(x: int) -> int:
    """The smallest power of two >= x (1 for x <= 1)."""
    return 1 << max(0, int(x) - 1).bit_length()


# ------------------------------------------------------------------ hash table kernels
@numba.njit(cache=True, inline="always")
def _slot(keys, key, shift):
    """The slot holding ``key``, or the empty slot where it would go."""
    mask = keys.shape[0] - 1
    i = np.int64((np.uint64(key) * _FIBONACCI) >> np.uint64(shift))
    while True:
        k = keys[i]
        if k == key or k == EMPTY:
            return i
        i = (i + 1) & mask


@numba.njit(cache=True, inline="always")
def _bit(author):
    """The bit of ``author`` in its readers' 64-bit summaries (`ValueTable.summary`)."""
    return np.uint64(1) << ((np.uint64(author) * _FIBONACCI) >> np.uint64(58))


@numba.njit(cache=True, inline="always")
def _find(keys, summary, shift, n, u, a):
    """The slot of pair (u, a), or -1 when the table does not hold it. The reader's
    summary rules most unknown authors out without touching the table."""
    if (summary[u] & _bit(a)) == 0:
        return -1
    key = u * n + a
    s = _slot(keys, key, shift)
    return s if keys[s] == key else -1


@numba.njit(cache=True, inline="always")
def _worth_holding(reward, followed, average, alpha):
    """Whether a read of an author the reader does not remember enters its memory: only
    when the value it would enter with, ``average + alpha (reward - average)``, can
    change a decision about that author: above the reader's average for one it does not
    follow (a follow), below 0 for one it follows (an unfollow). Any other value reads
    the same as the average it is worth unremembered."""
    if followed:
        return average + alpha * (reward - average) < 0.0
    return reward > average


@numba.njit(cache=True)
def _count_new(
    keys, summary, shift, n, readers, authors, shown, feed_followed, rewards, baseline, alpha
):
    """How many distinct pairs a batch of reads would add (`_read_and_value`)."""
    new = 0
    m, k = authors.shape
    for i in range(m):
        u = readers[i]
        b = baseline[u]
        for j in range(k):
            a = authors[i, j]
            if not shown[i, j] or a < 0 or a == u:
                continue
            if not _worth_holding(rewards[i, j], feed_followed[i, j], b, alpha):
                continue
            again = False
            for jj in range(j):
                if (
                    authors[i, jj] == a
                    and shown[i, jj]
                    and _worth_holding(rewards[i, jj], feed_followed[i, jj], b, alpha)
                ):
                    again = True
                    break
            if not again and _find(keys, summary, shift, n, u, a) < 0:
                new += 1
    return new


@numba.njit(cache=True)
def _read_and_value(
    keys, vals, followed, summary, shift, n, readers, authors, shown, feed_followed,
    rewards, baseline, alpha, out, best, worst,
):  # fmt: skip
    """Learn from one batch of reads, then value every feed slot and pick the slots a
    reader would follow and unfollow.

    Row i: reader ``readers[i]`` read ``authors[i, j]`` (where ``shown``) and got
    ``rewards[i, j]``. Each read moves the pair's value toward the reward; a pair not in
    the table enters it (from the reader's average) when the reward is not 0, and notes
    whether the reader follows the author. The reader's average moves toward the mean
    reward of the row. ``out[i, j]`` is then the value of each slot's author for the
    reader (its average for an author it does not remember); ``best[i]`` the first slot
    of a not-followed author with the largest value above the average, ``worst[i]`` the
    first slot of a followed author with the lowest value below 0 (-1: none). Returns
    the pairs added."""
    added = 0
    m, k = authors.shape
    slots = np.empty(k, np.int64)  # the slot of each column's pair (-1: not held)
    for i in range(m):
        u = readers[i]
        b = baseline[u]
        total = 0.0
        seen = 0
        for j in range(k):
            slots[j] = -1
            a = authors[i, j]
            if not shown[i, j] or a < 0 or a == u:
                continue
            r = float(rewards[i, j])
            total += r
            seen += 1
            s = _find(keys, summary, shift, n, u, a)
            if s >= 0:
                vals[s] += alpha * (r - vals[s])
                followed[s] = feed_followed[i, j]
            elif _worth_holding(r, feed_followed[i, j], b, alpha):
                s = _slot(keys, u * n + a, shift)
                keys[s] = u * n + a
                vals[s] = b + alpha * (r - b)
                followed[s] = feed_followed[i, j]
                summary[u] |= _bit(a)
                added += 1
            slots[j] = s
        if seen:
            baseline[u] = b + alpha * (total / seen - b)
        b = baseline[u]
        best[i] = -1
        worst[i] = -1
        best_gain = 0.0
        worst_value = 0.0
        for j in range(k):
            a = authors[i, j]
            out[i, j] = b
            if not shown[i, j] or a < 0 or a == u:
                continue
            s = slots[j]
            if s < 0:  # not held when read, but a later column may have added it
                s = _find(keys, summary, shift, n, u, a)
            if s >= 0:
                out[i, j] = vals[s]
            v = out[i, j]
            if feed_followed[i, j]:
                # only an author it remembers: one it holds no value of has brought
                # it no disagreement to unfollow for
                if s >= 0 and v < worst_value:
                    worst_value = v
                    worst[i] = j
            elif v - b > best_gain:
                best_gain = v - b
                best[i] = j
    return added


@numba.njit(cache=True)
def _mark(keys, followed, summary, shift, n, readers, authors, flag):
    """Note that each reader now follows (``flag``) or no longer follows its author, for
    the pairs the table holds (-1: no author)."""
    for i in range(readers.shape[0]):
        if authors[i] < 0:
            continue
        s = _find(keys, summary, shift, n, readers[i], authors[i])
        if s >= 0:
            followed[s] = flag


@numba.njit(cache=True)
def _insert(keys, vals, followed, summary, shift, n, new_keys, new_vals, new_followed):
    for i in range(new_keys.shape[0]):
        s = _slot(keys, new_keys[i], shift)
        keys[s] = new_keys[i]
        vals[s] = new_vals[i]
        followed[s] = new_followed[i]
        summary[new_keys[i] // n] |= _bit(new_keys[i] % n)


class ValueTable:
    """Values of (reader, author) pairs in an open-addressing hash table (see the module
    docstring). ``keys`` holds ``reader * n + author`` or -1 (empty); ``followed`` whether
    the reader follows the author: set from the feed each time the pair is read and by
    the policy's own follows and unfollows, the only way its users' follows change.
    ``summary`` holds, per reader, one bit (of 64) for each author it remembers, so that
    reading an author it does not (most reads) rarely touches the table: with the 8 or
    so authors a reader remembers on average, 1 in 8 unknown authors need a look.

    The capacity starts at ``initial`` and changes only when a batch would fill more
    than half of it: the table forgets, to the smallest ``initial * 2^j`` that keeps the
    followed pairs under a quarter of the slots, then doubles while the batch would
    still fill more than half. So it never exceeds ``max(initial, 8 * pairs held)``."""

    def __init__(self, n: int, capacity: int):
        self.n = int(n)
        self.initial = _pow2(max(capacity, MIN_CAPACITY))
        self._allocate(self.initial)

    def _allocate(self, capacity: int) -> None:
        self.keys = np.full(capacity, EMPTY, np.int64)
        self.vals = np.zeros(capacity, np.float64)
        self.followed = np.zeros(capacity, np.bool_)
        self.summary = np.zeros(self.n, np.uint64)
        self.shift = 64 - (capacity.bit_length() - 1)
        self.count = 0

    @property
    def capacity(self) -> int:
        return int(self.keys.shape[0])

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys, values, followed) of the pairs held, in slot order."""
        held = np.flatnonzero(self.keys != EMPTY)
        return self.keys[held], self.vals[held], self.followed[held]

    def rebuild(self, capacity: int, keys, vals, followed) -> None:
        """Hold exactly ``keys`` (distinct), in a table of ``capacity`` slots."""
        self._allocate(capacity)
        _insert(
            self.keys, self.vals, self.followed, self.summary, self.shift, self.n, keys, vals,
            followed,
        )  # fmt: skip
        self.count = int(keys.shape[0])

    def _count_new(self, readers, authors, shown, feed_followed, rewards, baseline, alpha):
        return _count_new(
            self.keys, self.summary, self.shift, self.n, readers, authors, shown,
            feed_followed, rewards, baseline, alpha,
        )  # fmt: skip

    def read(self, readers, authors, shown, feed_followed, rewards, baseline, alpha):
        """Learn from a batch of reads (`_read_and_value`), forgetting first if the new
        pairs would fill more than half the table. Returns the value of each feed slot's
        author and, per row, the slot to follow and the slot to unfollow (-1: none)."""
        # every read worth holding adding a pair is the most a batch can add; only when
        # that does not fit is it worth counting the pairs it would really add. Both
        # counts read each reader's average before the batch, which is the one its reads
        # are judged by only if no reader has two rows (a World's active users never do)
        if np.unique(readers).size != readers.size:
            raise ValueError("ValueTable.read: a reader appears in two rows of one batch")
        average = baseline[readers][:, None]
        entering = average + alpha * (rewards - average)
        worth = np.where(feed_followed, entering < 0.0, rewards > average) & shown
        most = int(np.count_nonzero(worth))
        new = most if self.count + most <= self.capacity * MAX_LOAD else -1
        if new < 0:
            new = self._count_new(readers, authors, shown, feed_followed, rewards, baseline, alpha)
        if self.count + new > self.capacity * MAX_LOAD:
            self.forget(baseline)
            # pairs just forgotten may come back in this batch
            new = self._count_new(readers, authors, shown, feed_followed, rewards, baseline, alpha)
            capacity = self.capacity
            while self.count + new > capacity * MAX_LOAD:
                capacity *= 2
            if capacity != self.capacity:
                self.rebuild(capacity, *self.entries())
        out = np.empty(authors.shape)
        best = np.empty(authors.shape[0], np.int64)
        worst = np.empty(authors.shape[0], np.int64)
        self.count += _read_and_value(
            self.keys,
            self.vals,
            self.followed,
            self.summary,
            self.shift,
            self.n,
            readers,
            authors,
            shown,
            feed_followed,
            rewards,
            baseline,
            alpha,
            out,
            best,
            worst,
        )
        return out, best, worst

    def mark(self, readers, authors, flag: bool) -> None:
        _mark(self.keys, self.followed, self.summary, self.shift, self.n, readers, authors, flag)

    def forget(self, baseline: np.ndarray) -> None:
        """Keep the followed pairs and, of the rest, those worth more to their reader
        than its average, the best first, until a quarter of the slots are taken (the
        table doubles from ``initial`` while the followed pairs alone need more)."""
        keys, vals, followed = self.entries()
        gain = vals - baseline[keys // self.n]
        n_followed = int(followed.sum())
        capacity = self.initial
        while n_followed > capacity * KEEP_LOAD:
            capacity *= 2
        room = int(capacity * KEEP_LOAD) - n_followed
        keep = followed | (gain > 0.0)
        rest = np.flatnonzero(keep & ~followed)
        if rest.size > room:
            # keep the gains above the (room + 1)-th largest: ties at the cut go together,
            # so what is kept depends on the values alone, never on the table's layout
            cut = np.inf
            if room:
                kth = rest.size - room - 1
                cut = np.partition(gain[rest], kth)[kth]
            keep = followed | (gain > cut)
        self.rebuild(capacity, keys[keep], vals[keep], followed[keep])


# ------------------------------------------------------------------ the policy
class LearningPopulation:
    """The policy of one role (citizens or influencers) whose users learn how often to
    post and/or whom to follow; everything else (what they like, repost and reply to,
    and what they express) is the wrapped policy's: the role's scripted policy, or the
    social-RL citizen (`policies.social_rl`), whose own learning goes on unchanged.

    ``members``: the role's users; ``edges``: their follow edges when the world is
    built (the value table's capacity)."""

    def __init__(
        self,
        role: str,
        params: CitizenConfig,
        expresser,
        members: np.ndarray,
        n_users: int,
        edges: int,
        rates_rng: np.random.Generator | None = None,
    ):
        """``rates_rng`` draws the users' posting rates with ``posting_rates: fitted``
        (a fixed stream when not given)."""
        self.role = role
        self.params = params
        self.expresser = expresser
        self.members = np.asarray(members, np.int64)
        self.n = int(n_users)
        self.member = np.zeros(self.n, bool)
        self.member[self.members] = True
        self.posting = params.posting == "learned"
        self.following = params.following == "learned"
        # posting: every user expects the prior per post and keeps the latency C / prior
        # as its habit; C makes both post_prob
        size = self.n if self.posting else 0
        self.expected_reward = np.full(size, params.posting_prior)
        # 1.0 when nobody posts (never read); the largest float for a post_prob too small
        # for its inverse to be one
        first = min(1.0 / params.post_prob, MAX_FLOAT) if params.post_prob > 0 else 1.0
        self.habit_latency = np.full(size, first)
        self.sessions_since_post = np.zeros(size, np.int64)
        if params.posting_rates == "fitted":
            drawn = fitted_rates(rates_rng or np.random.default_rng(0), size)
        else:
            drawn = {key: np.full(size, float(getattr(params, key))) for key in FITTED_RATES}
        self.reward_alpha = drawn["posting_alpha"]
        self.habit_weight = drawn["posting_habit"]
        self.habit_alpha = drawn["posting_habit_alpha"]
        # following: the reader's average reward per item and the pair values
        self.baseline = np.zeros(self.n) if self.following else np.zeros(0)
        capacity = SLOTS_PER_EDGE * (int(edges) + self.members.size) if self.following else 0
        self.values = ValueTable(self.n, capacity) if self.following else None
        self._sessions = np.zeros(0, np.int64)  # the step's sessions that may post

    @property
    def reads_text(self) -> bool:
        return bool(getattr(self.expresser, "reads_text", False))

    # -------------------------------------------------------------- posting
    @property
    def latency_cost(self) -> float:
        """C = posting_prior / post_prob: the mean latency, in sessions, is C / R
        (infinite when post_prob is 0: such users never post)."""
        p = self.params.post_prob
        return self.params.posting_prior / p if p > 0 else float("inf")

    def post_probability(self, users: np.ndarray) -> np.ndarray:
        """p = min(1, 1 / (w H + (1 - w) C / R)) for each user (w: its habit weight)."""
        p = self.params
        if not self.posting or p.post_prob == 0.0:
            return np.full(users.shape[0], p.post_prob)
        w = self.habit_weight[users]
        # C / R is infinite for a user that expects nothing: only its habit can post, and
        # a user of weight 1 is all habit
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            reward = np.where(
                w < 1.0, (1.0 - w) * (self.latency_cost / self.expected_reward[users]), 0.0
            )
            habit = np.where(w > 0.0, w * self.habit_latency[users], 0.0)
            return np.minimum(1.0, 1.0 / (habit + reward))

    def _originals(self, posts, lo: int, hi: int) -> np.ndarray:
        """Ids of the role's original posts among ids ``lo:hi``, in the order written."""
        keep = (posts.kind[lo:hi] == PostKind.POST) & self.member[posts.author[lo:hi]]
        return np.arange(lo, hi, dtype=np.int64)[keep]

    def closed_posts(self, context: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """The role's original posts that feeds showed for the last time in the step just
        applied (those written ``window`` steps before it), in the order written: their
        authors and what each earned, the likes and replies it got from anyone."""
        world = context.world
        written = context.step - world.recommender.window
        if written < 0:
            return np.zeros(0, np.int64), np.zeros(0)
        posts = world.posts
        ids = self._originals(posts, posts.step_start[written], posts.step_start[written + 1])
        earned = posts.likes[ids].astype(np.float64) + posts.replies[ids]
        return posts.author[ids].astype(np.int64), earned

    def _learn_posting(self, context: StepContext) -> None:
        authors, earned = self.closed_posts(context)
        # one update per post in the order written: R <- R + α (r - R); the world lets a
        # user write one post a step, but a role may hand in more, so go in rounds
        while authors.size:
            first = np.unique(authors, return_index=True)[1]
            users = authors[first]
            a = self.reward_alpha[users]
            self.expected_reward[users] += a * (earned[first] - self.expected_reward[users])
            rest = np.ones(authors.size, bool)
            rest[first] = False
            authors, earned = authors[rest], earned[rest]

    def written(self, context: StepContext) -> np.ndarray:
        """The role's users whose original post the world wrote in the step just applied
        (a post drawn in a visit that only reads is dropped; a wrapper, such as an
        environment's learner slot, may have replaced the draw)."""
        posts = context.world.posts  # the step is not closed yet: its posts end the store
        ids = self._originals(posts, posts.step_start[context.step], len(posts))
        return posts.author[ids].astype(np.int64)

    def _learn_habit(self, sessions: np.ndarray, posted: np.ndarray) -> None:
        """A session passed for each of ``sessions``, the users that could post in the
        step (`Observations.can_post`); one that posted (``posted``) took the latency since
        its last post: H <- H + posting_habit_alpha (τ - H)."""
        self.sessions_since_post[sessions] += 1
        authors = sessions[posted]
        took = self.sessions_since_post[authors]
        a = self.habit_alpha[authors]
        self.habit_latency[authors] += a * (took - self.habit_latency[authors])
        self.sessions_since_post[authors] = 0

    # -------------------------------------------------------------- following
    @staticmethod
    def reading_reward(obs: Observations, acts: Actions) -> np.ndarray:
        """int8 (n, k) what each feed item brought its reader: the social reward of an
        encounter as the population's expression learns it (ARLOD, Meylahn & Meylahn
        2024): +1 for an item on the reader's side (the sign of the reader's opinion on
        the item's topic), -1 for the other side, 0 for a neutral item or an empty slot.
        ``acts`` is not used: what a reader does with an item does not change which side
        it stated."""
        own = np.take_along_axis(obs.opinion, np.where(obs.shown, obs.feed_topic, 0), axis=1)
        reward = (np.sign(obs.feed_stance) * np.sign(own)).astype(np.int8)
        reward[~obs.shown] = 0
        return reward

    def _choose_follows(self, obs: Observations, acts: Actions, rng) -> None:
        p = self.params
        n = len(obs)
        users = obs.users
        _, best, worst = self.values.read(
            users,
            obs.feed_author,
            obs.shown,
            obs.feed_followed,
            self.reading_reward(obs, acts),
            self.baseline,
            p.following_alpha,
        )
        rows = np.arange(n)
        follow = (best >= 0) & (rng.random(n) < p.follow_rate)
        unfollow = (worst >= 0) & (rng.random(n) < p.unfollow_rate)
        follow_to = np.where(follow, obs.feed_author[rows, best], -1)
        unfollow_from = np.where(unfollow, obs.feed_author[rows, worst], -1)
        # the world applies both: neither self, nor followed twice, nor missing
        self.values.mark(users, follow_to, True)
        self.values.mark(users, unfollow_from, False)
        acts.follow = follow_to[:, None]
        acts.unfollow = unfollow_from[:, None]

    # -------------------------------------------------------------- the policy hooks
    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        acts = self.expresser.act(obs, rng)
        if self.posting:
            acts.post = rng.random(len(obs)) < self.post_probability(obs.users)
            # the step's sessions; what was written in them is the world's to say (`learn`)
            self._sessions = obs.users[obs.may_post]
        if self.following:
            self._choose_follows(obs, acts, rng)
        return acts

    def learn(self, context: StepContext) -> None:
        if hasattr(self.expresser, "learn"):
            self.expresser.learn(context)
        if self.posting:
            self._learn_posting(context)
            self._learn_habit(self._sessions, np.isin(self._sessions, self.written(context)))
            self._sessions = np.zeros(0, np.int64)

    def metrics(self) -> dict[str, float]:
        out = dict(self.expresser.metrics()) if hasattr(self.expresser, "metrics") else {}
        if self.posting:
            p = self.post_probability(self.members)
            out[f"{self.role}_post_prob"] = float(p.mean()) if p.size else float("nan")
        if self.following:
            out[f"{self.role}_valued_pairs"] = self.values.count
        return out

    # -------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, np.ndarray]:
        out = dict(self.expresser.state()) if hasattr(self.expresser, "state") else {}
        if self.posting:
            out.update({key: getattr(self, attr) for key, attr, *_ in POSTING_STATE})
        if self.following:
            keys, vals, followed = self.values.entries()
            out["follow_baseline"] = self.baseline
            out["follow_keys"] = keys
            out["follow_values"] = vals
            out["follow_followed"] = followed
            out["follow_capacity"] = np.array(self.values.capacity, np.int64)
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore `state` after checking every array (a ``ValueError`` naming it)."""
        n = self.n
        if hasattr(self.expresser, "load_state"):
            own = {key for key, *_ in POSTING_STATE}
            own |= {"post_rbar", "post_pending", "follow_baseline", "follow_keys"}
            own |= {"follow_values", "follow_followed", "follow_capacity"}
            self.expresser.load_state({k: v for k, v in state.items() if k not in own})
        if self.posting:
            if "post_rbar" in state:
                raise ValueError(
                    "post_rbar: saved by an older townsquare, whose learned posting averaged "
                    "the reward per session; this one learns it per post: run the scenario again"
                )
            loaded = {}
            for key, attr, dtype, lo, hi in POSTING_STATE:
                loaded[attr] = checks.array(state, key, dtype, (n,))
                checks.within(key, loaded[attr], lo, hi)
            for attr, array in loaded.items():  # all checked before any is kept
                setattr(self, attr, array)
        if self.following:
            baseline = checks.array(state, "follow_baseline", np.float64, (n,))
            checks.within("follow_baseline", baseline, -1.0, 1.0)
            keys = checks.array(state, "follow_keys", np.int64)
            vals = checks.array(state, "follow_values", np.float64, keys.shape)
            followed = checks.array(state, "follow_followed", np.bool_, keys.shape)
            checks.within("follow_values", vals, -1.0, 1.0)
            checks.within("follow_keys", keys, 0, n * n - 1)
            readers = keys // n if n else keys
            checks.refuse("follow_keys", ~self.member[readers], "not a pair of this role", keys)
            checks.refuse("follow_keys", keys % n == readers, "a user valuing itself", keys)
            if np.unique(keys).size != keys.size:
                raise ValueError("follow_keys: holds a pair twice")
            # the capacity never exceeds max(initial, 8 * pairs held) (`ValueTable`)
            initial = self.values.initial
            most = max(initial, _pow2(8 * keys.size))
            capacity = checks.scalar_int(state, "follow_capacity", initial, most)
            if capacity & (capacity - 1) or capacity < 2 * keys.size:
                raise ValueError(
                    f"follow_capacity: {capacity} is not a power of two with room for "
                    f"{keys.size} pairs"
                )
            self.baseline = baseline
            self.values.rebuild(capacity, keys, vals, followed)
        self._sessions = np.zeros(0, np.int64)
