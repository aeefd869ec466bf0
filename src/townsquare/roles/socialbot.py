"""The socialbot that learns to spread while evading a detector: ACORN's two cooperating
agents (Le, Tran-Thanh & Lee, WWW 2022; MODELS.md section 3), as one game on a
propagation graph (`world.influence`).

**The episode.** A bot starts with no connections. Each turn, level 1 (AgentI) picks the
next activity among T (post), R (repost), A (reply), M (mention). After an interactive
one (R, A, M), level 2 (AgentII) picks whom to engage, among the users not yet chosen
who can spread (out-degree > 0); that user joins the bot's chosen set S.

* **The cost of courting large accounts:** with rho = min(1, (1 + |S|) / (1 + d_u)),
  d_u the target's out-degree, the activity is repeated ``REPEATS`` = 3 more times with
  probability 1 - rho (ACORN's Q = 3): more activity for the detector to see.
* **The detector** (`roles.detector`) classifies the bot's activity counts whenever
  their total crosses a multiple of ``check_every`` (K = 20); a flag suspends the bot
  and ends the episode.
* **Rewards**, in units of the reference spread sigma_ref (the spread of the ``T`` =
  120 users of largest out-degree, ACORN's yardstick): each pick earns both levels its
  marginal spread, (sigma(S + u) - sigma(S)) / sigma_ref; each passed check earns level
  1 ``SURVIVAL_BONUS``; at the episode's end both earn sigma(S) / sigma_ref, the
  influence ratio. Spreads are Independent Cascades, p = 0.8, ``runs`` Monte Carlo
  cascades, under common random numbers within a pick.
* **Horizon:** 60 activities in training, 120 in testing (ACORN's).

**Observations.** Level 1 sees its activity mix (each activity's count over the horizon,
the detector's 8 features of its counts), how far the next check is, its degree |S|
over the horizon and the episode's progress (`LEVEL1_FEATURES`). Level 2 sees
``SLOTS`` = 32 candidates, the unchosen users who can spread with the largest
out-degree, each by 5 features (`SLOT_FEATURES`): its out-degree (log, over the graph's
largest), the courting cost 1 - rho, the share of its audience already reached by S or
S's audience (overlap), its new audience over the graph's size, and its in-degree (log,
over the graph's largest); with a mask of the slots that hold a candidate. (ACORN gives
AgentII node embeddings of the whole graph; these per-candidate features of degree,
cost and overlap are what a pick's value depends on, and they carry over from one
graph to another, which ids and whole-graph embeddings do not.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..world.influence import EDGE_PROBABILITY, PropagationGraph, spread, top_out_degree
from .detector import CHECK_EVERY, activity_features

ACTIVITIES = ("post", "repost", "reply", "mention")
INTERACTIVE = (1, 2, 3)
#: ACORN's Q: how many more times a costly activity is repeated
REPEATS = 3
#: candidates level 2 chooses among
SLOTS = 32
SLOT_FEATURES = ("out_degree", "cost", "overlap", "new_audience", "in_degree")
LEVEL1_FEATURES = (
    *(f"count_{a}" for a in ACTIVITIES),
    "share_post", "share_repost", "share_reply", "share_mention",
    "repost_per_post", "reply_per_post", "mention_per_post", "interactive_share",
    "to_next_check", "degree", "progress",
)  # fmt: skip
TRAIN_HORIZON = 60
TEST_HORIZON = 120
#: ACORN's T: the reference seed set's size
REFERENCE_USERS = 120
#: level 1's bonus per passed check (stated reason: small beside an influence ratio of
#: order 1, so surviving is worth a share of what spreading is: six passed checks in a
#: 120-activity episode earn 0.3)
SURVIVAL_BONUS = 0.05


@dataclass
class Turn:
    """What one activity did."""

    activity: int
    target: int  # user id, -1 for none
    repeated: int  # extra copies of the activity (the courting cost)
    pick_reward: float  # marginal spread over sigma_ref
    checks_passed: int
    detected: bool
    done: bool
    final_reward: float  # sigma(S) / sigma_ref at the end, 0 before


@dataclass
class SocialbotGame:
    """One bot on one propagation graph (see the module docstring)."""

    graph: PropagationGraph
    detector: object  # anything with ``flags(counts)`` and ``check_every``
    horizon: int = TRAIN_HORIZON
    p: float = EDGE_PROBABILITY
    runs: int = 100
    seed: int = 0
    counts: np.ndarray = field(init=False)
    chosen: list[int] = field(init=False)

    def __post_init__(self):
        g = self.graph
        self.rng = np.random.default_rng(self.seed)
        self.out_degree = g.out_degree.astype(np.int64)
        self.in_degree = g.in_degree.astype(np.int64)
        self.log_max_out = np.log1p(max(int(self.out_degree.max()), 1))
        self.log_max_in = np.log1p(max(int(self.in_degree.max()), 1))
        # candidates by out-degree, largest first (ties by id); only those who can spread
        order = np.lexsort((np.arange(g.n), -self.out_degree))
        self.by_degree = order[self.out_degree[order] > 0]
        self.reference = max(
            spread(g, top_out_degree(g, REFERENCE_USERS), self.p, 4 * self.runs, self.seed), 1.0
        )
        self.check_every = int(getattr(self.detector, "check_every", CHECK_EVERY))
        self.counts = np.zeros(4, np.int64)
        self.chosen = []
        self.is_chosen = np.zeros(g.n, bool)
        self.reached = np.zeros(g.n, bool)  # S and S's audience
        self.sigma = 0.0
        self.checks = 0
        self.detected = False
        self.done = False

    # -- what the levels see ----------------------------------------------------------
    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def level1_observation(self) -> np.ndarray:
        until = self.check_every - self.total % self.check_every
        return np.concatenate(
            [
                np.minimum(self.counts / self.horizon, 2.0),
                activity_features(self.counts)[0],
                [
                    until / self.check_every,
                    len(self.chosen) / self.horizon,
                    min(self.total / self.horizon, 1.0),
                ],
            ]  # fmt: skip
        ).astype(np.float32)

    def slots(self) -> np.ndarray:
        """The user ids in level 2's slots (-1 where empty)."""
        free = self.by_degree[~self.is_chosen[self.by_degree]][:SLOTS]
        out = np.full(SLOTS, -1, np.int64)
        out[: free.size] = free
        return out

    def level2_observation(self) -> tuple[np.ndarray, np.ndarray]:
        """((SLOTS, 5) features, (SLOTS,) mask of slots holding a candidate)."""
        users = self.slots()
        mask = users >= 0
        feats = np.zeros((SLOTS, len(SLOT_FEATURES)), np.float32)
        g = self.graph
        for i in np.flatnonzero(mask):
            u = int(users[i])
            audience = g.targets[g.offsets[u] : g.offsets[u + 1]]
            d = audience.size
            overlap = float(self.reached[audience].mean()) if d else 0.0
            feats[i] = (
                np.log1p(d) / self.log_max_out,
                1.0 - self.rho(u),
                overlap,
                d * (1.0 - overlap) / g.n,
                np.log1p(self.in_degree[u]) / self.log_max_in,
            )
        return feats, mask

    def rho(self, user: int) -> float:
        return min(1.0, (1.0 + len(self.chosen)) / (1.0 + float(self.out_degree[user])))

    # -- acting ---------------------------------------------------------------------
    def act(self, activity: int, target: int = -1) -> Turn:
        """Play one activity; ``target`` (a user id) is used after an interactive one: -1
        or an ineligible user takes no one."""
        if self.done:
            raise RuntimeError("the episode is over: reset the game")
        if activity not in range(4):
            raise ValueError(f"activity {activity!r}: 0 post, 1 repost, 2 reply, 3 mention")
        before = self.total
        repeated, pick = 0, 0.0
        taken = -1
        if activity in INTERACTIVE and self.eligible(target):
            taken = int(target)
            if self.rng.random() >= self.rho(taken):
                repeated = REPEATS
            pick = self._choose(taken)
        self.counts[activity] += 1 + repeated
        passed = 0
        for k in range(before // self.check_every + 1, self.total // self.check_every + 1):
            del k  # each multiple of K crossed is one check, on the counts after the turn
            if bool(np.asarray(self.detector.flags(self.counts[None, :]))[0]):
                self.detected = True
                break
            passed += 1
            self.checks += 1
        self.done = self.detected or self.total >= self.horizon
        final = self.sigma / self.reference if self.done else 0.0
        return Turn(activity, taken, repeated, pick, passed, self.detected, self.done, final)

    def eligible(self, user: int) -> bool:
        return 0 <= user < self.graph.n and not self.is_chosen[user] and self.out_degree[user] > 0

    def _choose(self, user: int) -> float:
        g = self.graph
        self.chosen.append(user)
        self.is_chosen[user] = True
        self.reached[user] = True
        self.reached[g.targets[g.offsets[user] : g.offsets[user + 1]]] = True
        seed = int(self.rng.integers(2**63))
        before = (
            spread(g, self.chosen[:-1], self.p, self.runs, seed) if len(self.chosen) > 1 else 0.0
        )
        self.sigma = spread(g, self.chosen, self.p, self.runs, seed)
        return (self.sigma - before) / self.reference

    def influence_ratio(self, runs: int = 1000) -> float:
        """sigma(S) / sigma(top-T by out-degree), both with ``runs`` cascades: the
        experiment's measure."""
        top = spread(self.graph, top_out_degree(self.graph, REFERENCE_USERS), self.p, runs, 1)
        return spread(self.graph, self.chosen, self.p, runs, 2) / max(top, 1.0)


# -- policies without learning: the baselines ------------------------------------------
#: the scripted platform bot's activity mix (`default`: a session posts, reposts about
#: two items and follows one account; replies never), as shares of T, R, A, M, from the
#: scripted bots' mean counts over 100 days of `default` (docs/socialbots.md)
SCRIPTED_MIX = np.array([10.9, 19.0, 0.0, 10.8]) / 40.7


def scripted_turn(game: SocialbotGame, rng: np.random.Generator) -> tuple[int, int]:
    """The platform's scripted bot in the game: its activity mix, a random target."""
    activity = int(rng.choice(4, p=SCRIPTED_MIX))
    return activity, random_target(game, rng)


def random_turn(game: SocialbotGame, rng: np.random.Generator) -> tuple[int, int]:
    """Uniform activities, a uniformly random eligible target."""
    return int(rng.integers(4)), random_target(game, rng)


def random_target(game: SocialbotGame, rng: np.random.Generator) -> int:
    eligible = np.flatnonzero(~game.is_chosen & (game.out_degree > 0))
    return int(rng.choice(eligible)) if eligible.size else -1


def greedy_target(game: SocialbotGame) -> int:
    """ACORN's AgentII baseline: the unchosen user of largest out-degree (slot 0)."""
    return int(game.slots()[0])
