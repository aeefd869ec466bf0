"""The voter model: a random node copies the opinion of a random neighbour."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _voter(indptr, indices, opinion, max_steps, seed, trace, trace_every):
    np.random.seed(seed)
    n = opinion.shape[0]
    plus = 0
    for i in range(n):
        if opinion[i] > 0:
            plus += 1
    t = 0
    while t < max_steps:
        if plus == 0 or plus == n:
            break
        if trace.shape[0] and t % trace_every == 0 and t // trace_every < trace.shape[0]:
            trace[t // trace_every] = plus
        i = np.random.randint(n)
        deg = indptr[i + 1] - indptr[i]
        t += 1
        if deg == 0:
            continue
        j = indices[indptr[i] + np.random.randint(deg)]
        if opinion[i] != opinion[j]:
            plus += 1 if opinion[j] > 0 else -1
            opinion[i] = opinion[j]
    return t, plus


def voter_run(
    indptr,
    indices,
    opinion,
    max_steps: int,
    seed: int,
    trace: np.ndarray | None = None,
    trace_every: int = 1,
) -> tuple[int, int]:
    """Run until consensus or ``max_steps`` interactions; ``opinion`` (int8, ±1) is updated
    in place. Returns (interactions, number of +1 nodes). ``trace[k]`` receives the +1
    count at interaction k * trace_every."""
    trace = np.zeros(0, np.int64) if trace is None else trace
    t, plus = _voter(
        indptr, indices, opinion, np.int64(max_steps), np.int64(seed), trace, np.int64(trace_every)
    )
    return int(t), int(plus)
