"""piKL planning candidates (CICERO, Meta FAIR, Science 2022; MODELS.md section 4).

At each decision a planning candidate scores every intent a of its role
(`roles.candidate`) by rolling out copies of the world:

* Q(a) is the candidate's expected vote share (`Election.expected_shares`: the election
  held on the opinions as they stand) after ``horizon`` steps, or at the end of an
  election day that comes sooner, averaged over ``rollouts`` rollouts. Each rollout
  starts from the world as it was before this step (`World.fork`) and plays a in this
  step, its tone and segment for the steps until the next decision, then the anchor's
  likeliest intent; every other planning candidate plays its anchor's likeliest intent,
  every other user its own policy.
* Common random numbers: rollout j sets every random stream of its copy to the same
  seeds for every intent, so intents are compared on the same futures.
* The anchor tau(a | s) (`policies.anchor`) is what the scripted candidate does.
* The candidate plays pi(a) proportional to tau(a | s) exp(Q(a) / lambda), the solution
  of max_pi E_pi[Q] - lambda KL(pi || tau): a small lambda plays the best intent found,
  a large one the anchor.

A decision is taken every ``plan_every`` steps and held until the next: the platform
moves once, at the decision, and the segment and tone are kept. Every decision is logged
(`plans` rows: the step, the candidate, and for each intent Q, tau, pi and whether it
was chosen). Candidates beyond the first ``planners`` (by user id) act by the scripted
policy.
"""

from __future__ import annotations

import copy

import numpy as np

from ..roles.base import merge_rows
from ..roles.candidate import INTENTS, CandidateRole, intent_id, intent_parts
from ..world.actions import Actions, Observations
from ..world.population import Role
from .anchor import Anchor


def pikl(tau: np.ndarray, q: np.ndarray, lam: float) -> np.ndarray:
    """pi proportional to tau exp(Q / lambda) (rows of ``tau`` and ``q``), computed in
    log space so that a tiny lambda gives the argmax, never NaN."""
    logits = np.log(tau) + (q - q.max(axis=-1, keepdims=True)) / lam
    logits -= logits.max(axis=-1, keepdims=True)
    pi = np.exp(logits)
    return pi / pi.sum(axis=-1, keepdims=True)


def kl(pi: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """KL(pi || tau) of each row, in nats (0 log 0 = 0)."""
    pi, tau = np.broadcast_arrays(np.asarray(pi, float), np.asarray(tau, float))
    ratio = np.divide(pi, tau, out=np.ones_like(pi), where=pi > 0)
    terms = np.where(pi > 0, pi * np.log(ratio, out=np.zeros_like(pi), where=pi > 0), 0.0)
    # KL is never negative; rounding can make pi = tau read -1e-17
    return np.maximum(np.sum(terms, axis=-1), 0.0)


class PiKLPlanner:
    """The candidates' policy line ``planner`` (see the module docstring)."""

    def __init__(
        self,
        background,
        anchor: Anchor,
        n_users: int,
        lam: float,
        horizon: int,
        rollouts: int,
        plan_every: int = 1,
        planners: int | None = None,
        messages: int = 4,
    ):
        self.background = background
        self.anchor = anchor
        self.role = CandidateRole()
        self.memory = self.role.new_memory(n_users)
        self.lam, self.horizon, self.rollouts = float(lam), int(horizon), int(rollouts)
        self.plan_every = int(plan_every)
        self.planners_wanted = planners
        #: each user's held intent (-1: none yet)
        self.held = np.full(n_users, -1, np.int64)
        self.decisions = 0
        self.kl_total = 0.0
        self._snapshot = None  # the world before this step, while a decision is due
        self._due = False
        self._plans: list[dict[str, np.ndarray]] = []
        #: with a text backend (`use_text`): posts written as filtered messages
        self.k_messages = int(messages)
        self.messages = None
        self.message_counts = dict.fromkeys(MESSAGE_COUNTS, 0)
        self._recent: dict[int, list[str]] = {}

    def __deepcopy__(self, memo):
        # a fork shares the message writer (it holds the run's text layer and its cache
        # connection); rollouts never write messages
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key != "messages":
                setattr(new, key, copy.deepcopy(value, memo))
        if self.messages is not None:
            # the same layer, counting into the copy's own counts
            new.messages = copy.copy(self.messages)
            new.messages.counts = new.message_counts
        else:
            new.messages = None
        return new

    def use_text(self, layer) -> None:
        """Write the planners' posts as filtered messages with the run's text layer
        (`text.messages`)."""
        from ..text.messages import MessageWriter, reader_for

        self.messages = MessageWriter(layer, reader_for(layer), self.k_messages)
        self.messages.counts = self.message_counts

    # -- the world's hooks ----------------------------------------------------------
    def prepare(self, world) -> None:
        """Before step ``world.t``: keep a copy of the world to roll out from when a
        decision is due, and each planner's recent posts for the duplicate filter."""
        self._snapshot = None
        self._due = world.t % self.plan_every == 0
        if self._due and self.rollouts > 0:
            self._snapshot = world.fork()
        if self.messages is not None:
            self._recent = _recent_texts(world, self.planning(world.election.candidates))

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        acts = self.background.act(obs, rng)
        snapshot, self._snapshot = self._snapshot, None
        due, self._due = self._due, False
        campaign = obs.campaign
        planners = self.planning(campaign.candidates) if campaign is not None else obs.users[:0]
        rows = np.flatnonzero(np.isin(obs.users, planners))
        if rows.size == 0:
            return acts
        users = obs.users[rows]
        vectors = self.role.observe(obs, rows, self.memory)
        if due:
            tau = self.anchor.probabilities(vectors)
            for i, user in enumerate(users.tolist()):
                q = self.values(snapshot, int(user), planners, rng)
                pi = pikl(tau[i], q, self.lam)  # Q is finite: values() makes it so
                choice = int(rng.choice(len(INTENTS), p=pi))
                self.held[user] = choice
                self._log(obs.step, user, q, tau[i], pi, choice)
        intents = self.held[users]
        unset = intents < 0  # a planner that joined between decisions: its anchor's best
        intents[unset] = self.anchor.probabilities(vectors[unset]).argmax(axis=1)
        if not due:  # between decisions the platform stays
            segment, _, tone = intent_parts(intents)
            intents = intent_id(segment, np.zeros_like(segment), tone)
        sub = self.role.to_actions(obs, rows, intents, self.memory)
        if self.messages is not None:
            texts = np.full(rows.size, None, object)
            may_post = obs.may_post[rows]
            for i, user in enumerate(users.tolist()):
                if sub.post[i] and may_post[i]:
                    recent = self._recent.get(user, [])
                    texts[i] = self.messages.write(
                        float(sub.post_stance[i]), 0, user, recent, obs.step
                    )
            sub.post_text = texts
        return merge_rows(acts, rows, sub)

    def planning(self, candidates: np.ndarray) -> np.ndarray:
        """Of the candidates (user ids, sorted), those that plan: the first
        ``planners``, or all."""
        return candidates if self.planners_wanted is None else candidates[: self.planners_wanted]

    # -- rollouts -------------------------------------------------------------------
    def values(self, snapshot, user: int, planners: np.ndarray, rng) -> np.ndarray:
        """Q of every intent for ``user``: its mean expected vote share at the end of
        the rollouts, with common random numbers across intents. No rollouts (the anchor
        alone, `anchor_only`): Q is 0 for every intent, so pi is tau."""
        if self.rollouts == 0:
            return np.zeros(len(INTENTS))
        election = snapshot.election
        index = int(election.index_of([user])[0])
        left = election.next_day(snapshot.t)
        length = self.horizon if left is None else min(self.horizon, left - snapshot.t + 1)
        base = int(rng.integers(2**63 - 1))
        q = np.zeros(len(INTENTS))
        for j in range(self.rollouts):
            streams = np.random.SeedSequence([base, j]).spawn(len(snapshot.rngs))
            for a in range(len(INTENTS)):
                fork = snapshot.fork()
                for rng_j, seq in zip(fork.rngs.values(), streams, strict=True):
                    rng_j.bit_generator.state = np.random.PCG64(seq).state
                own = fork.policies[Role.CANDIDATE]
                fork.policies[Role.CANDIDATE] = _RolloutCandidates(
                    own, planners, user, a, self.plan_every
                )
                for _ in range(length):
                    fork.step()
                share = fork.election.expected_shares(fork.population)[index]
                # nobody left to vote (every citizen suspended): no intent is better
                q[a] += share if np.isfinite(share) else 0.0
        return q / self.rollouts

    # -- records --------------------------------------------------------------------
    def _log(self, step, user, q, tau, pi, choice) -> None:
        n = len(INTENTS)
        self.decisions += 1
        self.kl_total += float(kl(pi, tau))
        chosen = np.zeros(n, bool)
        chosen[choice] = True
        self._plans.append(
            {
                "step": np.full(n, step, np.int32),
                "candidate": np.full(n, user, np.int64),
                "intent": np.array(INTENTS),
                "q": q.astype(np.float64),
                "tau": tau.astype(np.float64),
                "pi": pi.astype(np.float64),
                "chosen": chosen,
            }
        )

    def take_plans(self) -> list[dict[str, np.ndarray]]:
        """The decisions logged since the last call (the World puts them in the step's
        events, the recorder in the ``plans`` table)."""
        plans, self._plans = self._plans, []
        return plans

    def metrics(self) -> dict[str, float]:
        out = self.background.metrics() if hasattr(self.background, "metrics") else {}
        out["planner_decisions"] = self.decisions
        out["planner_kl"] = self.kl_total / self.decisions if self.decisions else float("nan")
        if self.messages is not None:
            for name, count in self.message_counts.items():
                out[f"messages_{name}"] = count
        return out

    def state(self) -> dict[str, np.ndarray]:
        out = {f"memory.{k}": v for k, v in self.memory.state().items()}
        out["held"] = self.held
        out["decisions"] = np.array(self.decisions, np.int64)
        out["kl_total"] = np.array(self.kl_total)
        out["message_counts"] = np.array(list(self.message_counts.values()), np.int64)
        return out

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        from ..world import checks

        n = self.held.shape[0]
        memory = self.memory.checked(arrays, "memory.")
        held = checks.array(arrays, "held", np.int64, (n,))
        checks.within("held", held, -1, len(INTENTS) - 1)
        decisions = checks.scalar_int(arrays, "decisions", 0)
        kl_total = checks.scalar_float(arrays, "kl_total")
        if kl_total < 0:
            raise ValueError(f"kl_total: {kl_total} is negative")
        counts = checks.array(arrays, "message_counts", np.int64, (len(MESSAGE_COUNTS),))
        checks.within("message_counts", counts, 0)
        self.memory.load_state(memory)
        self.held, self.decisions, self.kl_total = held, decisions, kl_total
        # the writer (bound by use_text, before or after) counts into this same dict
        self.message_counts.update(zip(MESSAGE_COUNTS, map(int, counts), strict=True))


def anchor_only(planner: PiKLPlanner) -> PiKLPlanner:
    """The planner made to play its anchor alone: no rollouts, pi = tau (the anchor arm
    of `experiments.cicero2022`)."""
    planner.rollouts = 0
    planner.lam = 1.0
    return planner


#: what the message writer counts (text.messages), in the order checkpoints keep them
MESSAGE_COUNTS = ("written", "garbled", "stance", "duplicate", "without_survivor")
#: how many of an author's latest posts the duplicate filter compares with, and how far
#: back (steps) it looks for them
RECENT_POSTS, RECENT_STEPS = 5, 30


def _recent_texts(world, users: np.ndarray) -> dict[int, list[str]]:
    """Each user's latest posts with words (at most `RECENT_POSTS`, from the last
    `RECENT_STEPS` steps), read from the post store."""
    posts = world.posts
    lo = posts.window_start(world.t, RECENT_STEPS) if len(posts) else 0
    hi = len(posts)
    authors = posts.author[lo:hi]
    out = {}
    for user in users.tolist():
        ids = lo + np.flatnonzero(authors == user)
        texts = [posts.text[i] for i in ids[::-1].tolist() if i in posts.text]
        out[user] = texts[:RECENT_POSTS]
    return out


class _RolloutCandidates:
    """The candidates' policy inside a rollout: ``user`` plays ``intent`` (moving its
    platform only in the first step) for ``first_steps`` steps, then its anchor's
    likeliest intent; the other planners their anchor's likeliest intent; every other
    candidate the scripted policy."""

    def __init__(self, planner: PiKLPlanner, planners, user: int, intent: int, first_steps: int):
        self.planner = planner
        self.planners = planners
        self.user, self.intent, self.left = user, intent, first_steps
        self.first = True

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        p = self.planner
        acts = p.background.act(obs, rng)
        rows = np.flatnonzero(np.isin(obs.users, self.planners))
        if rows.size == 0:
            return acts
        vectors = p.role.observe(obs, rows, p.memory)
        intents = p.anchor.probabilities(vectors).argmax(axis=1)
        mine = obs.users[rows] == self.user
        # the intent's steps count only when its candidate acts (the rollout draws its
        # own activations)
        if self.left > 0 and mine.any():
            segment, move, tone = intent_parts(self.intent)
            intents[mine] = intent_id(segment, move if self.first else 0, tone)
            self.left -= 1
            self.first = False
        sub = p.role.to_actions(obs, rows, intents, p.memory)
        return merge_rows(acts, rows, sub)
