"""The report of a sweep (``townsquare report SWEEP_DIR``): each metric against each swept
value, the mean over seeds with its 95% band, beside the real band where the metric has
one; a self-contained HTML page like a run's report.

A sweep with several keys draws, for each key, one line per combination of the other
keys' values, so no value is averaged away.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import __version__
from ..errors import UserError
from ..metrics.intervals import mean_interval
from ..metrics.realism import BANDS
from .figures import _figure, _style, figure_png
from .html import STYLE, _data_uri, _esc, _fmt

SWEEP_FILE = "sweep.json"
TABLE = "sweep.parquet"
#: the columns of sweep.parquet drawn besides the realism metrics, in this order
TOTALS = ("posts", "replies", "reposts", "likes", "follows", "unfollows", "suspensions", "wall_s")
LINE_COLOURS = ("#1f5fa8", "#d9822b", "#3a9d5d", "#8e5ea2", "#b8404b", "#6b7280")


def is_sweep(folder: str | Path) -> bool:
    return (Path(folder) / SWEEP_FILE).is_file()


def read_sweep(folder: str | Path) -> tuple[dict, list[dict]]:
    """(the sweep's settings, the rows of sweep.parquet); a `UserError` naming a missing or
    damaged file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    plan = read_plan_file(folder)
    if not (folder / TABLE).is_file():
        raise UserError(
            f"{folder / TABLE}: missing; the sweep has not finished (run the same "
            "`townsquare sweep` command again to complete it)"
        )
    try:
        rows = pq.read_table(folder / TABLE).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{folder / TABLE}: damaged ({' '.join(str(exc).split())[:120]})") from None
    missing = [k for k in plan["grid"] if rows and k not in rows[0]]
    if missing:
        raise UserError(f"{folder / TABLE}: has no column {missing[0]!r} of the sweep's grid")
    return plan, rows


def read_plan_file(folder: str | Path) -> dict:
    """A sweep folder's ``sweep.json``, checked: a `UserError` naming it if it is damaged."""
    path = Path(folder) / SWEEP_FILE
    try:
        plan = json.loads(path.read_text())
        if not isinstance(plan, dict) or not isinstance(plan.get("grid"), dict):
            raise ValueError("no grid")
        if not all(isinstance(r, dict) and isinstance(r.get("name"), str)
                   for r in plan.get("runs", [])):  # fmt: skip
            raise ValueError("runs: not a list of named runs")
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a sweep's settings ({exc})") from None
    return plan


def metric_columns(rows: Sequence[dict]) -> list[str]:
    """The columns worth a panel: the realism metrics (``metric_*``) then the totals, each
    with at least one finite value."""
    if not rows:
        return []
    names = [k for k in rows[0] if k.startswith("metric_")] + [k for k in TOTALS if k in rows[0]]
    return [k for k in names if any(_finite(r.get(k)) for r in rows)]


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def levels_of(rows: Sequence[dict], key: str) -> list:
    """The values ``key`` takes, in the sweep's order (the rows are in the plan's order)."""
    seen: list = []
    for r in rows:
        if r[key] not in seen:
            seen.append(r[key])
    return seen


def series(
    rows: Sequence[dict], keys: Sequence[str], key: str, column: str
) -> list[tuple[str, list[tuple[float, float, float, int]]]]:
    """For each combination of the other keys' values (its label), one point per value of
    ``key``: (mean, low, high, seeds) of ``column`` over the seeds (NaN where none)."""
    others = [k for k in keys if k != key]
    out = []
    for combo in itertools.product(*(levels_of(rows, k) for k in others)):
        label = ", ".join(f"{k}={v}" for k, v in zip(others, combo, strict=True))
        points = []
        for level in levels_of(rows, key):
            values = [
                r[column]
                for r in rows
                if r[key] == level
                and all(r[k] == v for k, v in zip(others, combo, strict=True))
                and _finite(r.get(column))
            ]
            if values:
                points.append((*mean_interval(values), len(values)))
            else:
                points.append((math.nan, math.nan, math.nan, 0))
        out.append((label, points))
    return out


def _cell(value) -> str:
    return value if isinstance(value, str) else _fmt(value)


def all_numeric(levels: Sequence) -> bool:
    return all(_finite(v) for v in levels)


def metric_figure(rows: Sequence[dict], keys: Sequence[str], column: str) -> Figure:
    """One panel per swept key: ``column``'s mean over seeds against the key's values, a
    shaded 95% band, and the real band of a realism metric as a grey strip."""
    fig, axes = _figure(4.2 * len(keys), 3.0, ncols=len(keys))
    axes = np.atleast_1d(axes)
    metric = column.removeprefix("metric_")
    band = next((b for b in BANDS if b.metric == metric), None)
    for ax, key in zip(axes, keys, strict=True):
        levels = levels_of(rows, key)
        xs = np.asarray(levels, np.float64) if all_numeric(levels) else np.arange(len(levels))
        lines = series(rows, keys, key, column)
        for i, (label, points) in enumerate(lines):
            colour = LINE_COLOURS[i % len(LINE_COLOURS)]
            mean, low, high = (np.array([p[j] for p in points]) for j in range(3))
            ax.plot(xs, mean, "o-", color=colour, lw=1.6, ms=4, label=label or None)
            if np.isfinite(low).any():
                ax.fill_between(xs, low, high, color=colour, alpha=0.18, lw=0)
        if band is not None:
            ax.axhspan(band.low, band.high, color="#9aa3ad", alpha=0.18, lw=0,
                       label=f"real band ({band.fact})")  # fmt: skip
        if not all_numeric(levels):
            ax.set_xticks(xs, [str(v) for v in levels])
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        _style(ax)
        if len(lines) > 1 or band is not None:
            ax.legend(fontsize=7, frameon=False)
    return fig


def write_sweep_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """``report.html`` of a sweep folder (or ``out``): the settings, one figure per metric
    and the table of runs."""
    from ..outputs import replace_text

    folder = Path(folder)
    plan, rows = read_sweep(folder)
    keys = list(plan["grid"])
    target = Path(out) if out is not None else folder / "report.html"
    columns = metric_columns(rows)
    figures = "".join(
        f"<figure><h3>{_esc(c.removeprefix('metric_'))}</h3>"
        f"<img alt='{_esc(c)}' src='{_data_uri(figure_png(metric_figure(rows, keys, c)))}'>"
        "</figure>"
        for c in columns
    )
    seeds = plan.get("seeds") or []
    grid = "".join(
        f"<li><code>{_esc(k)}</code>: {_esc(', '.join(map(str, v)))}</li>"
        for k, v in plan["grid"].items()
    )
    head = ["run", *keys, "seed", *columns]
    table = "<table><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>"
    for r in rows:
        table += (
            "<tr>"
            + "".join(f"<td class='num'>{_esc(_cell(r.get(h)))}</td>" for h in head)
            + "</tr>"
        )
    table += "</table>"
    overrides = ", ".join(plan.get("overrides") or []) or "none"
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>townsquare sweep · {_esc(plan.get('scenario'))}</title>"
        f"<style>{STYLE}</style></head><body><main>"
        f"<h1>Sweep of {_esc(plan.get('scenario'))}</h1>"
        f"<p class='sub'><code>{_esc(folder)}</code> · {len(rows):,} runs · "
        f"{len(seeds)} seeds each · overrides: {_esc(overrides)}</p>"
        f"<ul>{grid}</ul>"
        "<h2>Each metric against each swept value</h2>"
        "<p class='note'>The line is the mean over seeds, the shaded band its 95% "
        "t-interval; the grey strip is the metric's real band (docs/realism.md).</p>"
        f"{figures}<h2>Runs</h2><div style='overflow-x:auto'>{table}</div>"
        f"<footer>Generated by townsquare {_esc(__version__)}.</footer>"
        "</main></body></html>\n"
    )
    return replace_text(target, page)
