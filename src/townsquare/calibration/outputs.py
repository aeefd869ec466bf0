"""What a calibration writes: ``posterior.parquet`` (samples), ``calibrated.yaml`` (the
scenario at the posterior median, the intervals in comments), ``pairplot.png`` and
``predictive.html`` (the target's statistics against runs drawn from the posterior)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..outputs import replace_file, replace_text
from .params import Param


def write_posterior(path: Path, samples: np.ndarray, params: list[Param]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({p.key: samples[:, j] for j, p in enumerate(params)})
    return replace_file(path, lambda tmp: pq.write_table(table, tmp))


def calibrated_yaml(
    scenario: str, overrides: list[str], summary: list[dict], method: str, target: str
) -> str:
    """The scenario at the posterior median, resolved, with a comment per parameter."""
    from ..config import load_scenario

    values = {s["key"]: (int(round(s["median"])) if s["integer"] else s["median"]) for s in summary}
    sc = load_scenario(scenario, [*overrides, *(f"{k}={v!r}" for k, v in values.items())])
    lines = [
        f"# calibrated by `townsquare calibrate {scenario}` ({method}) against {target}",
        "# each parameter at its posterior median; the 90% credible interval and the prior:",
    ]
    for s in summary:
        lines.append(
            f"#   {s['key']}: {values[s['key']]!r}, 90% [{s['low']:.4g}, {s['high']:.4g}], "
            f"prior [{s['prior_low']:g}, {s['prior_high']:g}]"
            + (" (whole numbers: the median is rounded)" if s["integer"] else "")
        )
    return "\n".join(lines) + "\n" + sc.resolved_yaml()


def pair_plot(path: Path, samples: np.ndarray, params: list[Param], truth=None) -> Path:
    """Each parameter's posterior (diagonal) and each pair's (below), over the prior's
    box; ``truth`` (known parameters of a synthetic target) marked where given."""
    from matplotlib.figure import Figure

    d = len(params)
    fig = Figure(figsize=(2.4 * d + 0.6, 2.4 * d + 0.6), dpi=100)
    axes = fig.subplots(d, d, squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i][j]
            if j > i:
                ax.set_axis_off()
                continue
            pi, pj = params[i], params[j]
            if i == j:
                ax.hist(samples[:, i], bins=30, range=(pi.low, pi.high), color="#4c72b0")
                ax.set_yticks([])
                if truth is not None:
                    ax.axvline(truth[i], color="k", ls="--")
            else:
                ax.hist2d(
                    samples[:, j], samples[:, i], bins=30,
                    range=[[pj.low, pj.high], [pi.low, pi.high]], cmap="Blues",
                )  # fmt: skip
                if truth is not None:
                    ax.plot(truth[j], truth[i], "k+", ms=10)
            if i == d - 1:
                ax.set_xlabel(pj.key, fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(pi.key, fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("posterior (the prior's box; darker: more mass)", fontsize=9)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def predictive_rows(
    statistics: list[str], x_o: np.ndarray, x_pred: np.ndarray, fitted: list[str]
) -> list[dict]:
    """Per statistic: the target's value, the 90% predictive band of runs drawn from the
    posterior, whether the target lies inside it (None where no run measured it), and
    whether the inference used it (``fitted``)."""
    rows = []
    for k, name in enumerate(statistics):
        col = x_pred[:, k]
        col = col[np.isfinite(col)]
        low, high = np.quantile(col, [0.05, 0.95]) if col.size else (np.nan, np.nan)
        rows.append(
            {
                "statistic": name,
                "target": float(x_o[k]),
                "low": float(low),
                "median": float(np.median(col)) if col.size else float("nan"),
                "high": float(high),
                "runs": int(col.size),
                "inside": bool(low <= x_o[k] <= high) if col.size else None,
                "fitted": name in fitted,
            }
        )
    return rows


def predictive_html(
    path: Path, rows: list[dict], x_pred: np.ndarray, statistics: list[str], title: str
) -> Path:
    """One self-contained page: per statistic, the runs drawn from the posterior, their
    90% band and the target's value; then the table."""
    from matplotlib.figure import Figure

    n = len(statistics)
    fig = Figure(figsize=(3.0 * min(n, 4), 2.6 * ((n + 3) // 4)), dpi=100)
    axes = np.atleast_1d(fig.subplots((n + 3) // 4, min(n, 4), squeeze=False)).ravel()
    for k, row in enumerate(rows):
        ax = axes[k]
        col = x_pred[:, k][np.isfinite(x_pred[:, k])]
        ax.hist(col, bins=20, color="#9ecae1")
        ax.axvspan(row["low"], row["high"], color="#4c72b0", alpha=0.15)
        ax.axvline(row["target"], color="#c44e52", lw=2)
        ax.set_title(row["statistic"], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.suptitle("runs drawn from the posterior (blue: 90% band; red: the target)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    image = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    verdict = {True: "yes", False: "<b>no</b>", None: "not measured"}
    cells = "".join(
        f"<tr><td>{html.escape(r['statistic'])}</td><td>{'yes' if r['fitted'] else 'no'}</td>"
        f"<td>{r['target']:.4g}</td><td>{r['low']:.4g}</td><td>{r['median']:.4g}</td>"
        f"<td>{r['high']:.4g}</td><td>{r['runs']}</td><td>{verdict[r['inside']]}</td></tr>"
        for r in rows
    )
    inside = sum(bool(r["inside"]) for r in rows)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child{{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>The target's statistics against {len(x_pred)} runs drawn from the posterior:
<b>{inside} of {len(rows)}</b> lie inside their 90% predictive band.</p>
<img alt="posterior predictive check" src="{image}" style="max-width:100%">
<table><tr><th>statistic</th><th>fitted</th><th>target</th><th>5%</th><th>median</th><th>95%</th>
<th>runs</th><th>inside</th></tr>{cells}</table>
</body></html>
"""
    return replace_text(path, page)
