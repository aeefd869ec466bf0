"""Two runs side by side: the scripted-versus-learned comparison.

Each side is one run directory, optionally with its re-runs at more seeds
(`runner.seed_runs`: the same resolved scenario, another seed) so that a difference can
be told apart from seed noise: a difference counts as beyond noise when
|mean_B - mean_A| exceeds twice its standard error (Welch), which needs at least two
seeds per side. For a banded metric, each seed's distance to the band (0 inside) is
compared the same way, so a row says which side is closer to the real band beyond noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .realism import BANDS, INFORMATIONAL, measure_run, measure_start, scorecard


@dataclass
class Side:
    runs: list[str]
    mean: dict[str, float]
    std: dict[str, float]
    reproduced: int  # facts that emerged (seed means)
    measured: int
    start: dict[str, float] | None = None  # seed means at step 0 (None: not kept)
    status: dict[str, str | None] = field(default_factory=dict)  # per fact
    inside: int = 0  # facts inside their bands, emerged or configured


@dataclass
class CompareRow:
    fact: str
    metric: str
    low: float | None
    high: float | None
    a_mean: float
    a_std: float
    a_inside: bool | None
    b_mean: float
    b_std: float
    b_inside: bool | None
    difference: float
    beyond_noise: bool | None  # None: one seed per side, noise unknown
    # how far each side's seeds are from the band (0 inside), and which side is closer
    # beyond noise: "A", "B", "neither" (within noise) or None (no band or one seed)
    a_distance: float | None = None
    b_distance: float | None = None
    closer: str | None = None


def _means(measures: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    keys = measures[0].keys()
    mean = {
        k: float(np.nanmean([m[k] for m in measures]))
        if any(np.isfinite(m[k]) for m in measures)
        else float("nan")
        for k in keys
    }
    std = {
        k: float(np.nanstd([m[k] for m in measures], ddof=1))
        if len(measures) > 1 and sum(np.isfinite(m[k]) for m in measures) > 1
        else float("nan")
        for k in keys
    }
    return mean, std


def _side(paths: list[Path], references) -> tuple[Side, list[dict]]:
    measures = [measure_run(p) for p in paths]
    mean, std = _means(measures)
    starts = [measure_start(p) for p in paths]
    start = _means(starts)[0] if all(s is not None for s in starts) else None
    card = scorecard(mean, references=references, start=start)
    side = Side(
        [str(p) for p in paths],
        mean,
        std,
        card.reproduced,
        card.measured,
        start,
        card.status,
        card.inside,
    )
    return side, measures


def band_distance(value: float, low: float, high: float) -> float:
    """How far ``value`` lies outside [low, high] (0 inside, NaN when unmeasured)."""
    if value is None or not np.isfinite(value):
        return float("nan")
    return float(max(low - value, 0.0, value - high))


def _finite_mean(x: np.ndarray) -> float:
    """The mean of the finite values (NaN when there are none)."""
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _welch_beyond(x: np.ndarray, y: np.ndarray) -> bool | None:
    """Whether mean(y) - mean(x) exceeds twice its standard error; None under 2 each."""
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return None
    diff = y.mean() - x.mean()
    se = np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
    return bool(abs(diff) > 2 * se) if se > 0 else bool(diff != 0)


def compare_runs(paths_a: list[Path], paths_b: list[Path], references=None) -> dict:
    a, measures_a = _side(paths_a, references)
    b, measures_b = _side(paths_b, references)
    rows = []
    bands = {band.metric: band for band in BANDS}
    for metric in [band.metric for band in BANDS] + list(INFORMATIONAL):
        if metric not in a.mean:
            continue
        band = bands.get(metric)
        diff = b.mean[metric] - a.mean[metric]
        beyond = None
        if len(paths_a) > 1 and len(paths_b) > 1:
            se = np.sqrt(a.std[metric] ** 2 / len(paths_a) + b.std[metric] ** 2 / len(paths_b))
            if np.isfinite(diff) and np.isfinite(se):
                beyond = bool(abs(diff) > 2 * se) if se > 0 else bool(diff != 0)
        distance = {}
        closer = None
        if band is not None:
            for side, measures in (("a", measures_a), ("b", measures_b)):
                distance[side] = np.array(
                    [band_distance(m[metric], band.low, band.high) for m in measures]
                )
            beyond_d = _welch_beyond(distance["a"], distance["b"])
            if beyond_d is not None:
                gap = _finite_mean(distance["b"]) - _finite_mean(distance["a"])
                closer = ("B" if gap < 0 else "A") if beyond_d else "neither"
        rows.append(
            CompareRow(
                fact=band.fact if band else "",
                metric=metric,
                low=band.low if band else None,
                high=band.high if band else None,
                a_mean=a.mean[metric],
                a_std=a.std[metric],
                a_inside=band.contains(a.mean[metric]) if band else None,
                b_mean=b.mean[metric],
                b_std=b.std[metric],
                b_inside=band.contains(b.mean[metric]) if band else None,
                difference=diff,
                beyond_noise=beyond,
                a_distance=_finite_mean(distance["a"]) if distance else None,
                b_distance=_finite_mean(distance["b"]) if distance else None,
                closer=closer,
            )
        )
    return {"a": asdict(a), "b": asdict(b), "rows": [asdict(r) for r in rows]}
