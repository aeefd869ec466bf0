"""How unequally something (posts, followers, reposts) is spread over users."""

from __future__ import annotations

import numpy as np


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 equal, -> 1 one user holds all)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float((2.0 * (ranks * x).sum()) / (n * total) - (n + 1.0) / n)


def top_share(values: np.ndarray, fraction: float) -> float:
    """Share of the total held by the top ``fraction`` of users (at least one user)."""
    x = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    total = x.sum()
    if x.size == 0 or total <= 0:
        return float("nan")
    k = max(1, int(round(fraction * x.size)))
    return float(x[:k].sum() / total)


def lorenz_curve(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of users, share of the total they hold), poorest first, from (0, 0)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(x)])
    total = cum[-1] if cum[-1] > 0 else 1.0
    return np.linspace(0.0, 1.0, x.size + 1), cum / total
