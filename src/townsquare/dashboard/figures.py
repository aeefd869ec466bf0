"""The dashboard's figures (Plotly), one function each, from a `views.RunState` or a
sweep's rows; no Dash here, so each can be checked on its own."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .views import RunState, histogram

ACTIVITY = ("posts", "replies", "reposts", "likes", "follows")
COLOURS = ("#1f5fa8", "#d9822b", "#3a9d5d", "#8e5ea2", "#b8404b", "#6b7280")
LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=50, r=20, t=40, b=40),
    height=300,
    legend=dict(orientation="h", y=-0.2),
)


def empty_figure(title: str, note: str) -> go.Figure:
    fig = go.Figure(layout=dict(LAYOUT, title=title))
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def activity_figure(run: RunState) -> go.Figure:
    if not run.rows:
        return empty_figure("Activity per step", "no step yet")
    steps = [r["step"] for r in run.rows]
    fig = go.Figure(layout=dict(LAYOUT, title="Activity per step"))
    for i, col in enumerate(ACTIVITY):
        fig.add_scatter(x=steps, y=[r[col] for r in run.rows], name=col, mode="lines",
                        line=dict(color=COLOURS[i]))  # fmt: skip
    fig.update_xaxes(title="step", range=[0, max(run.steps_planned, steps[-1])])
    return fig


def opinion_figure(run: RunState) -> go.Figure:
    """Mean and spread of the citizens' leaning, and the bimodality coefficient (F9's
    measure, polarised above 0.6), per step."""
    if not run.rows:
        return empty_figure("Opinions over time", "no step yet")
    steps = [r["step"] for r in run.rows]
    mean = np.array([r["opinion_mean"] for r in run.rows])
    std = np.array([r["opinion_std"] for r in run.rows])
    fig = go.Figure(layout=dict(LAYOUT, title="Opinions over time"))
    fig.add_scatter(x=steps + steps[::-1], y=list(mean + std) + list((mean - std)[::-1]),
                    fill="toself", line=dict(width=0), fillcolor="rgba(31,95,168,0.15)",
                    name="mean ± sd", hoverinfo="skip")  # fmt: skip
    fig.add_scatter(x=steps, y=mean, name="mean leaning", line=dict(color=COLOURS[0]))
    fig.add_scatter(x=steps, y=[r["bimodality"] for r in run.rows], name="bimodality",
                    line=dict(color=COLOURS[4], dash="dot"), yaxis="y2")  # fmt: skip
    fig.update_layout(yaxis=dict(title="leaning", range=[-1, 1]),
                      yaxis2=dict(title="bimodality", overlaying="y", side="right",
                                  range=[0, 1], showgrid=False))  # fmt: skip
    fig.update_xaxes(title="step", range=[0, max(run.steps_planned, steps[-1])])
    return fig


def histogram_figure(run: RunState) -> go.Figure:
    if run.opinion is None:
        return empty_figure("Leanings", "no checkpoint yet")
    counts, edges = histogram(run.opinion)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(layout=dict(LAYOUT, title=f"Leanings at step {run.checkpoint_step}"))
    fig.add_bar(x=centres, y=counts, marker_color=_leaning_colours(centres), name="users")
    fig.update_xaxes(title="leaning", range=[-1, 1])
    fig.update_yaxes(title="users")
    return fig


def graph_figure(run: RunState) -> go.Figure:
    """A sample of the follow graph (the most followed accounts and others at random),
    each user coloured by leaning, laid out by force (networkx, fixed seed)."""
    import networkx as nx

    if run.graph_nodes is None:
        return empty_figure("Follow graph", "no checkpoint yet")
    nodes = run.graph_nodes
    src, dst = run.graph_edges
    g = nx.Graph()
    g.add_nodes_from(range(nodes.size))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    pos = nx.spring_layout(g, seed=0, iterations=40)
    xy = np.array([pos[i] for i in range(nodes.size)])
    ex = np.full(src.size * 3, np.nan)
    ey = np.full(src.size * 3, np.nan)
    ex[0::3], ex[1::3] = xy[src, 0], xy[dst, 0]
    ey[0::3], ey[1::3] = xy[src, 1], xy[dst, 1]
    fig = go.Figure(layout=dict(LAYOUT, height=420, showlegend=False,
                                title=f"Follow graph: {nodes.size} users, {src.size} follows"))  # fmt: skip
    fig.add_scatter(x=ex, y=ey, mode="lines", line=dict(width=0.4, color="#b9c0c8"),
                    hoverinfo="skip")  # fmt: skip
    leaning = run.opinion[nodes]
    degree = np.bincount(np.concatenate([src, dst]), minlength=nodes.size)
    fig.add_scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers",
        marker=dict(size=5 + 2 * np.sqrt(degree), color=leaning, colorscale="RdBu_r",
                    cmin=-1, cmax=1, line=dict(width=0.3, color="#333"),
                    colorbar=dict(title="leaning", thickness=10)),
        text=[f"user {u}: leaning {x:+.2f}" for u, x in zip(nodes, leaning, strict=True)],
        hoverinfo="text",
    )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def election_figure(run: RunState) -> go.Figure | None:
    """Poll shares per step and the vote shares of election days; None without an
    election."""
    polls = run.columns("poll_share_c")
    if not polls:
        return None
    steps = [r["step"] for r in run.rows]
    fig = go.Figure(layout=dict(LAYOUT, title="Polls and votes"))
    for i, col in enumerate(polls):
        c = col.removeprefix("poll_share_c")
        fig.add_scatter(x=steps, y=[_nan(r[col]) for r in run.rows], name=f"poll, candidate {c}",
                        line=dict(color=COLOURS[i % len(COLOURS)]))  # fmt: skip
        votes = [(r["step"], r[f"vote_share_c{c}"]) for r in run.rows
                 if _finite(r.get(f"vote_share_c{c}"))]  # fmt: skip
        if votes:
            fig.add_scatter(x=[v[0] for v in votes], y=[v[1] for v in votes], mode="markers",
                            marker=dict(symbol="star", size=12, color=COLOURS[i % len(COLOURS)]),
                            name=f"vote, candidate {c}")  # fmt: skip
    fig.update_yaxes(title="share", range=[0, 1])
    fig.update_xaxes(title="step", range=[0, max(run.steps_planned, steps[-1] if steps else 0)])
    return fig


def sweep_figure(rows: Sequence[dict], keys: Sequence[str], key: str, column: str) -> go.Figure:
    """``column`` against the values of ``key``: the mean over seeds and its 95% band,
    one line per combination of the other keys (the report's figure, in Plotly)."""
    from ..metrics.realism import BANDS
    from ..report.sweep import all_numeric, levels_of, series

    levels = levels_of(rows, key)
    xs = list(levels) if all_numeric(levels) else [str(v) for v in levels]
    metric = column.removeprefix("metric_")
    fig = go.Figure(layout=dict(LAYOUT, title=f"{metric} against {key}"))
    for i, (label, points) in enumerate(series(rows, keys, key, column)):
        colour = COLOURS[i % len(COLOURS)]
        mean = [p[0] for p in points]
        low = [p[1] for p in points]
        high = [p[2] for p in points]
        if any(_finite(v) for v in low):
            fig.add_scatter(x=xs + xs[::-1], y=high + low[::-1], fill="toself",
                            line=dict(width=0), fillcolor=_alpha(colour, 0.18),
                            hoverinfo="skip", showlegend=False)  # fmt: skip
        fig.add_scatter(x=xs, y=mean, mode="lines+markers", name=label or "mean over seeds",
                        line=dict(color=colour))  # fmt: skip
    band = next((b for b in BANDS if b.metric == metric), None)
    if band is not None:
        fig.add_hrect(y0=band.low, y1=band.high, fillcolor="#9aa3ad", opacity=0.18,
                      line_width=0, annotation_text=f"real band ({band.fact})")  # fmt: skip
    fig.update_xaxes(title=key)
    fig.update_yaxes(title=metric)
    return fig


def _leaning_colours(x: np.ndarray) -> list[str]:
    out = []
    for v in x:
        t = (float(v) + 1) / 2  # 0 blue (left) .. 1 red (right)
        r, b = int(60 + 180 * t), int(60 + 180 * (1 - t))
        out.append(f"rgb({r},90,{b})")
    return out


def _alpha(hex_colour: str, a: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{a})"


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _nan(value):
    return None if value is None or not _finite(value) else value
