"""ARLOD: social reinforcement learning of opinions (Meylahn & Meylahn, PLOS ONE 2024).

Agent i holds Q_i(+1), Q_i(-1); its opinion is +1 iff Q_i(+1) > Q_i(-1) (ties: -1).
One step is one interaction: a uniform random agent i expresses e = o_i, flipped with
probability eps; a uniform random neighbour j answers with its opinion o_j; i receives
r = e * o_j and updates Q_i(e) <- (1 - alpha) Q_i(e) + alpha r. Consensus (all opinions
equal) is absorbing: the consensus opinion's Q only ever receives +1.

Batched variant (``batch = b > 0``): i expresses b times, each time to a fresh random
neighbour and each expression explored independently, then credits the mean reward of
the batch to the opinion it holds, Q_i(o_i). Explorations now cost the held opinion, so
even at consensus an agent can be talked out of it by its own bad luck: the process no
longer absorbs (it is ergodic). MODELS.md does not restate the paper's exact batched rule;
this is the reading implemented here, and the tests check the property it must have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass
class ArlodState:
    q_plus: np.ndarray
    q_minus: np.ndarray

    @classmethod
    def random(cls, n: int, rng: np.random.Generator) -> ArlodState:
        """Q-values uniform in [-0.5, 0.5], as in the paper."""
        return cls(rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n))

    @property
    def opinion(self) -> np.ndarray:
        return np.where(self.q_plus > self.q_minus, 1, -1).astype(np.int8)


@numba.njit(cache=True)
def _arlod(
    indptr,
    indices,
    q_plus,
    q_minus,
    alpha,
    eps,
    batch,
    max_steps,
    seed,
    trace,
    trace_every,
    stop_at_consensus,
    counterfactual,
):
    np.random.seed(seed)
    n = q_plus.shape[0]
    opinion = np.empty(n, np.int8)
    plus = 0
    for i in range(n):
        opinion[i] = 1 if q_plus[i] > q_minus[i] else -1
        if opinion[i] > 0:
            plus += 1
    t = 0
    while t < max_steps:
        if stop_at_consensus and (plus == 0 or plus == n):
            break
        if trace.shape[0] and t % trace_every == 0 and t // trace_every < trace.shape[0]:
            trace[t // trace_every] = plus
        i = np.random.randint(n)
        deg = indptr[i + 1] - indptr[i]
        t += 1
        if deg == 0:
            continue
        o = opinion[i]
        if batch == 0:
            e = o
            if np.random.random() < eps:
                e = -e
            j = indices[indptr[i] + np.random.randint(deg)]
            r = e * opinion[j]
            if e > 0:
                q_plus[i] = (1.0 - alpha) * q_plus[i] + alpha * r
            else:
                q_minus[i] = (1.0 - alpha) * q_minus[i] + alpha * r
            if counterfactual:  # the unexpressed side would have earned -r
                if e > 0:
                    q_minus[i] = (1.0 - alpha) * q_minus[i] - alpha * r
                else:
                    q_plus[i] = (1.0 - alpha) * q_plus[i] - alpha * r
        else:
            total = 0.0
            for _ in range(batch):
                e = o
                if np.random.random() < eps:
                    e = -e
                j = indices[indptr[i] + np.random.randint(deg)]
                total += e * opinion[j]
            r = total / batch
            if o > 0:
                q_plus[i] = (1.0 - alpha) * q_plus[i] + alpha * r
            else:
                q_minus[i] = (1.0 - alpha) * q_minus[i] + alpha * r
        new = 1 if q_plus[i] > q_minus[i] else -1
        if new != o:
            opinion[i] = new
            plus += 1 if new > 0 else -1
    return t, plus


def arlod_run(
    indptr,
    indices,
    state: ArlodState,
    max_steps: int,
    seed: int,
    alpha: float = 0.25,
    eps: float = 0.1,
    batch: int = 0,
    trace: np.ndarray | None = None,
    trace_every: int = 1,
    stop_at_consensus: bool | None = None,
    counterfactual: bool = False,
) -> tuple[int, int]:
    """Run ARLOD for up to ``max_steps`` interactions (agent updates, for the batched
    variant), stopping at consensus unless ``stop_at_consensus`` is False (default: stop
    for the standard variant, whose consensus is absorbing; run on for the batched one).

    ``state`` is updated in place. Returns (interactions, number of +1 agents); the
    interaction count at consensus is the consensus time.

    ``counterfactual=True`` also updates the side not expressed, with the reward it would
    have earned (-r). This is not the paper's rule as MODELS.md states it, but with
    alpha = 1 it is exactly the voter model (see docs/opinion.md).
    """
    trace = np.zeros(0, np.int64) if trace is None else trace
    stop = batch == 0 if stop_at_consensus is None else stop_at_consensus
    t, plus = _arlod(
        indptr,
        indices,
        state.q_plus,
        state.q_minus,
        float(alpha),
        float(eps),
        np.int64(batch),
        np.int64(max_steps),
        np.int64(seed),
        trace,
        np.int64(trace_every),
        bool(stop),
        bool(counterfactual),
    )
    return int(t), int(plus)
