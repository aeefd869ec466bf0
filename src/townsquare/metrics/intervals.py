"""A mean with its 95% t-interval over seeds: what the experiments' tables and the sweep
report's bands share."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_interval(values) -> tuple[float, float, float]:
    """(mean, low, high): the 95% t-interval of the mean; NaN bounds under two values."""
    values = np.asarray(values, np.float64)
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, values.size - 1)) * float(values.std(ddof=1))
    half /= math.sqrt(values.size)
    return mean, mean - half, mean + half
