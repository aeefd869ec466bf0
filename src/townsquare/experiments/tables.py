"""What the experiments' result tables share: a mean with its 95% t-interval over seeds,
and a CSV of rows written atomically (NaN as an empty cell)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

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


def cell(value):
    """A CSV cell: NaN and None as empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def write_rows(path: Path, fields: Iterable[str], records: list[dict]) -> Path:
    """``records`` as a CSV at ``path`` (replaced whole), columns ``fields`` (others are
    left out)."""
    from ..outputs import replace_file

    fields = list(fields)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for r in records:
                writer.writerow({k: cell(v) for k, v in r.items()})

    return replace_file(path, write)
