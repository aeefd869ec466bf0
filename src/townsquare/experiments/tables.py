"""What the experiments' result tables share: a mean with its 95% t-interval over seeds,
and a CSV of rows written atomically (NaN as an empty cell)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

from ..metrics.intervals import mean_interval

__all__ = ["cell", "mean_interval", "write_rows"]


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
