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
    ratio = np.where(pi > 0, pi / tau, 1.0)
    return np.sum(np.where(pi > 0, pi * np.log(ratio), 0.0), axis=-1)


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
        self._plans: list[dict[str, np.ndarray]] = []

    # -- the world's hooks ----------------------------------------------------------
    def prepare(self, world) -> None:
        """Before step ``world.t``: keep a copy of the world to roll out from when a
        decision is due."""
        self._snapshot = None
        if world.t % self.plan_every == 0:
            self._snapshot = world.fork()

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        acts = self.background.act(obs, rng)
        snapshot, self._snapshot = self._snapshot, None
        planners = self.planners_of(obs)
        rows = np.flatnonzero(np.isin(obs.users, planners))
        if rows.size == 0:
            return acts
        users = obs.users[rows]
        vectors = self.role.observe(obs, rows, self.memory)
        if snapshot is not None:
            tau = self.anchor.probabilities(vectors)
            for i, user in enumerate(users.tolist()):
                q = self.values(snapshot, int(user), planners, rng)
                pi = pikl(tau[i], q, self.lam)
                choice = int(rng.choice(len(INTENTS), p=pi))
                self.held[user] = choice
                self._log(obs.step, user, q, tau[i], pi, choice)
        intents = self.held[users]
        unset = intents < 0  # a planner that joined between decisions: its anchor's best
        intents[unset] = self.anchor.probabilities(vectors[unset]).argmax(axis=1)
        if snapshot is None:  # between decisions the platform stays
            segment, _, tone = intent_parts(intents)
            intents = intent_id(segment, np.zeros_like(segment), tone)
        sub = self.role.to_actions(obs, rows, intents, self.memory)
        return merge_rows(acts, rows, sub)

    def planners_of(self, obs: Observations) -> np.ndarray:
        """The candidates that plan: the first ``planners`` by user id, or all."""
        if obs.campaign is None:
            return np.zeros(0, np.int64)
        candidates = obs.campaign.candidates
        return candidates if self.planners_wanted is None else candidates[: self.planners_wanted]

    # -- rollouts -------------------------------------------------------------------
    def values(self, snapshot, user: int, planners: np.ndarray, rng) -> np.ndarray:
        """Q of every intent for ``user``: its mean expected vote share at the end of
        the rollouts, with common random numbers across intents."""
        election = snapshot.election
        index = int(np.searchsorted(election.candidates, user))
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
                q[a] += fork.election.expected_shares(fork.population)[index]
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
        return out

    def state(self) -> dict[str, np.ndarray]:
        out = {f"memory.{k}": v for k, v in self.memory.state().items()}
        out["held"] = self.held
        out["decisions"] = np.array(self.decisions, np.int64)
        out["kl_total"] = np.array(self.kl_total)
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
        self.memory.load_state(memory)
        self.held, self.decisions, self.kl_total = held, decisions, kl_total


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
        if self.left > 0:
            segment, move, tone = intent_parts(self.intent)
            intents[mine] = intent_id(segment, move if self.first else 0, tone)
            self.left -= 1
        self.first = False
        sub = p.role.to_actions(obs, rows, intents, p.memory)
        return merge_rows(acts, rows, sub)
