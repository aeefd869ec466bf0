"""The course of the window facts over a run: posting concentration, reposts, the repost
network's inequality and split, and the bots' share of posts, each measured on the posts
written up to ten points of the run (`metrics.realism.course`), against its band.

A window fact that only the first steps made (say, reposts that stopped when the bots
were suspended) shows here as a line that settles early; the scorecard reads the last
point, the whole run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..metrics.realism import BANDS, WINDOW_METRICS
from .figures import DPI, REFERENCE_COLOURS, RUN_COLOUR, _style

BAND_COLOUR = REFERENCE_COLOURS[1]


def window_course_figure(series: Mapping[str, Sequence[float]]) -> Figure:
    """One panel per window metric: its value on the posts up to each step, with its
    real band shaded. ``series`` is `course`'s output."""
    steps = np.asarray(series.get("step", []), np.float64)
    bands = {band.metric: band for band in BANDS}
    cols = 3
    rows = int(np.ceil(len(WINDOW_METRICS) / cols))
    fig = Figure(figsize=(10.5, 3.0 * rows), dpi=DPI, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, WINDOW_METRICS, strict=False):
        values = np.asarray(series.get(name, []), np.float64)
        band = bands.get(name)
        if band is not None:
            ax.axhspan(band.low, band.high, color=BAND_COLOUR, alpha=0.15, label="real band")
        if steps.size and np.isfinite(values).any():
            ax.plot(steps, values, "o-", color=RUN_COLOUR, ms=3, lw=1.5, label="run")
        else:
            ax.text(0.5, 0.5, "not measurable", ha="center", va="center", transform=ax.transAxes)
        title = f"{band.fact} {name}" if band is not None else name
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("posts up to step", fontsize=8)
        _style(ax)
    for ax in axes[len(WINDOW_METRICS) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("window facts over the run (each point: every post up to that step)", fontsize=10)
    return fig
