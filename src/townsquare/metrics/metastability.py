"""Metastability: how long a population stays polarised, and where it sits still.

Both measures read a camp-size series (for example the number of +1 agents over time,
or the share of citizens on one side per step).
"""

from __future__ import annotations

import numpy as np


def time_polarised(plus_share, threshold: float = 0.2) -> float:
    """Share of the series during which both camps hold at least ``threshold`` of the
    population (``plus_share`` in [0, 1])."""
    x = np.asarray(plus_share, np.float64)
    if x.size == 0:
        return float("nan")
    return float(((x >= threshold) & (x <= 1.0 - threshold)).mean())


def plateaus(series, tolerance: float, min_length: int) -> list[tuple[int, int, float]]:
    """Stretches of at least ``min_length`` samples where the series stays within
    ``tolerance`` of the stretch's first value: (start, end exclusive, mean level).

    One left-to-right pass: a stretch ends at the first sample that strays too far."""
    x = np.asarray(series, np.float64)
    out: list[tuple[int, int, float]] = []
    start = 0
    n = x.size
    while start < n:
        anchor = x[start]
        away = np.flatnonzero(np.abs(x[start:] - anchor) > tolerance)
        end = start + (int(away[0]) if away.size else n - start)
        if end - start >= min_length:
            out.append((start, end, float(x[start:end].mean())))
        start = max(end, start + 1)
    return out
