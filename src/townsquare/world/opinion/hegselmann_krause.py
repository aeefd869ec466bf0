"""Hegselmann–Krause bounded confidence (JASSS 2002): every agent moves, synchronously, to
the mean opinion of its neighbours (itself included) within ``epsilon`` of its own."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _hk_round(indptr, indices, opinion, epsilon, out):
    n = opinion.shape[0]
    moved = 0.0
    for i in range(n):
        total = opinion[i]
        count = 1
        for k in range(indptr[i], indptr[i + 1]):
            x = opinion[indices[k]]
            if abs(x - opinion[i]) < epsilon:
                total += x
                count += 1
        out[i] = total / count
        moved = max(moved, abs(out[i] - opinion[i]))
    return moved


def hk_run(
    indptr, indices, opinion, epsilon: float, max_rounds: int = 1000, tol: float = 1e-9
) -> tuple[np.ndarray, int]:
    """Synchronous rounds until no opinion moves more than ``tol``; returns the final
    opinions (a new array) and the number of rounds."""
    x = np.asarray(opinion, np.float64).copy()
    buf = np.empty_like(x)
    for rounds in range(1, max_rounds + 1):
        moved = _hk_round(indptr, indices, x, float(epsilon), buf)
        x, buf = buf, x
        if moved < tol:
            return x, rounds
    return x, max_rounds
