"""The figures of a run report, one function per figure.

Every figure function takes plain arrays and returns a `matplotlib.figure.Figure` built
without pyplot (no global state, Agg rendering), so tests can check what a figure holds
and `report.html` can embed it. `run_figures` draws them all for a run directory.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..metrics.inequality import gini, lorenz_curve, top_share
from ..metrics.snapshot import RunSnapshot
from ..metrics.tails import ccdf, fit_power_law

DPI = 100
TWO_CAMPS_BC = 5 / 9  # bimodality coefficient of a uniform distribution
POLARISED_BC = 0.6  # the scorecard's F9 threshold
RUN_COLOUR = "#1f5fa8"
REFERENCE_COLOURS = ("#d9822b", "#3a9d5d", "#8e5ea2", "#b8404b")
ROLE_STYLE = {  # role id: (label, colour, marker size)
    0: ("citizens", "#4a6fa5", 4),
    1: ("influencers", "#2a9d8f", 18),
    2: ("candidates", "#e9c46a", 24),
    3: ("socialbots", "#d62828", 6),
}
RARE_ROLES = (1, 2)  # influencers and candidates: always drawn in the echo-chamber scatter
# F4 reference points: ~95% of posts get no repost (Goel, Watts & Goldstein 2012) and
# ~0.025% reach 100 or more (Goel et al. 2016), as P(size >= x)
GOEL_POINTS = ((2.0, 0.05), (100.0, 0.00025))
PEW_TOP10_SHARE = 0.80  # F1: top 10% write ~80% of posts (Pew Research 2019)


def _figure(width: float, height: float, ncols: int = 1):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def _style(ax) -> None:
    ax.grid(True, which="major", alpha=0.3, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


#: topics a figure names one by one in its legend; beyond, the lines speak for themselves
LEGEND_TOPICS = 6


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (no timestamp in the metadata, so reports are reproducible)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


# ----------------------------------------------------------------------- opinions
def opinion_figure(
    metrics: Mapping[str, Sequence[float]],
    opinion: np.ndarray | None = None,
    role: np.ndarray | None = None,
) -> Figure:
    """Citizens' opinions: mean ± std per step, bimodality per step, final histogram.

    ``metrics`` holds the columns of ``metrics.parquet`` (``step``, ``opinion_mean``,
    ``opinion_std``, ``bimodality``, and ``_t1``... suffixed columns for more topics).
    ``opinion`` (users x topics) and ``role`` give the histogram at the last checkpoint;
    only citizens (role 0) are counted, as in the per-step metrics.
    """
    fig, (ax_mean, ax_bc, ax_hist) = _figure(10.8, 3.6, ncols=3)
    step = np.asarray(metrics.get("step", []), np.float64)
    topics = sorted(
        (k.removeprefix("opinion_mean") for k in metrics if k.startswith("opinion_mean")),
        key=lambda s: (len(s), s),
    )
    colours = {}
    for suffix in topics:
        label = "topic " + (suffix.removeprefix("_t") or "0")
        mean = np.asarray(metrics["opinion_mean" + suffix], np.float64)
        std = np.asarray(metrics.get("opinion_std" + suffix, np.zeros_like(mean)), np.float64)
        (line,) = ax_mean.plot(step, mean, label=f"{label} mean", linewidth=1.6)
        colours[suffix] = line.get_color()
        ax_mean.fill_between(
            step, mean - std, mean + std, color=line.get_color(), alpha=0.18, label=f"{label} ± std"
        )
        if "bimodality" + suffix in metrics:
            ax_bc.plot(
                step,
                np.asarray(metrics["bimodality" + suffix], np.float64),
                color=line.get_color(),
                linewidth=1.6,
                label=label,
            )
    ax_mean.set_ylim(-1.05, 1.05)
    ax_mean.axhline(0, color="black", linewidth=0.6)
    ax_mean.set_xlabel("step")
    ax_mean.set_ylabel("opinion")
    ax_mean.set_title("citizens' opinion: mean ± std per step")
    many = len(topics) > LEGEND_TOPICS  # a legend of every topic would fill the panel
    if topics and not many:
        ax_mean.legend(fontsize=8, loc="lower left")
    elif many:
        ax_mean.text(0.01, 0.02, f"{len(topics)} topics", transform=ax_mean.transAxes, fontsize=8)
    else:
        ax_mean.text(0.5, 0.5, "no per-step metrics", ha="center", transform=ax_mean.transAxes)

    ax_bc.axhline(TWO_CAMPS_BC, color="grey", linestyle="--", linewidth=1, label="5/9 (uniform)")
    ax_bc.axhline(
        POLARISED_BC, color="#b8404b", linestyle=":", linewidth=1.2, label="0.6 (F9: polarised)"
    )
    ax_bc.set_ylim(0, 1)
    ax_bc.set_xlabel("step")
    ax_bc.set_ylabel("bimodality coefficient")
    ax_bc.set_title("bimodality per step")
    if not many:
        ax_bc.legend(fontsize=8, loc="lower right")

    if opinion is not None:
        op = np.asarray(opinion, np.float64)
        op = op[:, None] if op.ndim == 1 else op
        if role is not None and (np.asarray(role) == 0).any():
            op = op[np.asarray(role) == 0]
        bins = np.linspace(-1, 1, 41)
        for t in range(op.shape[1]):
            suffix = "" if t == 0 else f"_t{t}"
            ax_hist.hist(
                op[:, t],
                bins=bins,
                histtype="stepfilled" if op.shape[1] == 1 else "step",
                alpha=0.75 if op.shape[1] == 1 else 1.0,
                linewidth=1.4,
                color=colours.get(suffix, RUN_COLOUR if t == 0 else None),
                label=f"topic {t}",
            )
        ax_hist.set_title(f"final opinions of {op.shape[0]:,} citizens")
        if 1 < op.shape[1] <= LEGEND_TOPICS:
            ax_hist.legend(fontsize=8)
    else:
        ax_hist.set_title("final opinions (no checkpoint)")
    ax_hist.set_xlim(-1, 1)
    ax_hist.set_xticks([-1, -0.5, 0, 0.5, 1])
    ax_hist.set_xlabel("opinion")
    ax_hist.set_ylabel("users")
    for ax in (ax_mean, ax_bc, ax_hist):
        _style(ax)
    return fig


# ---------------------------------------------------------------------- followers
def follower_ccdf_figure(
    followers: np.ndarray,
    references: Mapping[str, np.ndarray] | None = None,
    fit: tuple[float, float] | None = None,
) -> Figure:
    """Log-log CCDF of the run's follower counts against real networks' degrees.

    ``references`` maps a legend label to a degree array. ``fit`` is the run's power-law
    tail ``(alpha, xmin)``; it is fitted here when not given. The tail line has the
    fitted slope 1 - alpha and passes through the run's CCDF at xmin.
    """
    fig, ax = _figure(5.2, 4.4)
    x, p = ccdf(followers)
    ax.loglog(x, p, marker="o", markersize=3, linestyle="none", color=RUN_COLOUR, label="run")
    for (label, degree), colour in zip((references or {}).items(), REFERENCE_COLOURS, strict=False):
        rx, rp = ccdf(degree)
        ax.loglog(
            rx,
            rp,
            marker="s",
            markersize=2.5,
            linestyle="none",
            color=colour,
            alpha=0.7,
            label=label,
        )
    if fit is None:
        with warnings.catch_warnings():  # powerlaw's optimiser is chatty on small samples
            warnings.simplefilter("ignore")
            f = fit_power_law(followers)
        fit = (f.alpha, f.xmin)
    alpha, xmin = fit
    if x.size and np.isfinite(alpha) and np.isfinite(xmin) and x.max() > xmin:
        anchor = p[np.searchsorted(x, xmin)] if xmin <= x.max() else p[-1]
        line_x = np.geomspace(xmin, x.max(), 50)
        ax.loglog(
            line_x,
            anchor * (line_x / xmin) ** (1.0 - alpha),
            color="black",
            linestyle="--",
            linewidth=1.4,
            label=f"run power-law tail: α = {alpha:.2f}, xmin = {xmin:g}",
        )
    ax.set_xlabel("followers k (users with at least one)")
    ax.set_ylabel("P(K ≥ k)")
    ax.set_title("followers (CCDF); F2 band: α 2.0–2.6")
    ax.legend(fontsize=8, loc="lower left")
    _style(ax)
    return fig


# ----------------------------------------------------------------------- cascades
def cascade_figure(sizes: np.ndarray) -> Figure:
    """Log-log CCDF of cascade sizes (a root post plus all reposts of its chain), with
    the F4 reference points of Goel et al."""
    fig, ax = _figure(5.2, 4.4)
    sizes = np.asarray(sizes)
    x, p = ccdf(sizes)
    ax.loglog(x, p, marker="o", markersize=3, linestyle="-", linewidth=0.8, color=RUN_COLOUR)
    ax.lines[-1].set_label(f"run ({sizes.size:,} cascades)")
    gx, gy = zip(*GOEL_POINTS, strict=True)
    ax.loglog(
        gx,
        gy,
        marker="*",
        markersize=12,
        linestyle="none",
        color="#d9822b",
        label="real: 5% reposted, 0.025% reach 100 (Goel et al.)",
    )
    if sizes.size:
        never = float((sizes == 1).mean())
        ax.annotate(
            f"{never:.1%} never reposted\nlargest cascade {int(sizes.max()):,}",
            xy=(0.97, 0.97),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"},
        )
    ax.set_xlabel("cascade size s (root post + reposts)")
    ax.set_ylabel("P(S ≥ s)")
    ax.set_title("cascade sizes (CCDF)")
    ax.legend(fontsize=8, loc="lower left")
    _style(ax)
    return fig


# ---------------------------------------------------------------------- posting
def lorenz_figure(posts_per_user: np.ndarray) -> Figure:
    """Lorenz curve of original posts per user, with the equality line and the share of
    the top 10% (and Pew's ~80%) marked."""
    fig, ax = _figure(5.2, 5.0)
    values = np.asarray(posts_per_user, np.float64)
    users, share = lorenz_curve(values)
    if users.size > 4001:  # a few thousand points draw the same curve
        keep = np.unique(np.linspace(0, users.size - 1, 4001).astype(np.int64))
        users, share = users[keep], share[keep]
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="equality")
    ax.plot(users, share, color=RUN_COLOUR, linewidth=2, label=f"run (Gini {gini(values):.2f})")
    ax.fill_between(users, share, users, color=RUN_COLOUR, alpha=0.08)
    top = top_share(values, 0.10)
    if np.isfinite(top):
        ax.axvline(0.9, color="black", linewidth=0.6, linestyle=":")
        ax.plot([0.9], [1 - top], marker="o", color=RUN_COLOUR, markersize=7)
        ax.annotate(
            f"top 10% write {top:.0%}\nof original posts",
            xy=(0.9, 1 - top),
            xytext=(0.25, 0.1),
            fontsize=10,
            arrowprops={"arrowstyle": "->", "color": "black"},
        )
    ax.plot(
        [0.9],
        [1 - PEW_TOP10_SHARE],
        marker="*",
        markersize=13,
        linestyle="none",
        color="#d9822b",
        label="real: top 10% write ~80% (Pew 2019)",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("share of users (fewest posts first)")
    ax.set_ylabel("share of original posts")
    ax.set_title("posting concentration (Lorenz curve)")
    ax.legend(fontsize=8, loc="upper left")
    _style(ax)
    return fig


# ------------------------------------------------------------------ echo chambers
def echo_chamber_figure(
    leaning: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    role: np.ndarray | None = None,
    max_points: int = 20_000,
    seed: int = 0,
) -> Figure:
    """Each user's leaning against the mean leaning of those it follows (``src`` follows
    ``dst``). Users who follow nobody are left out; at most ``max_points`` users, drawn
    with a fixed seed, are plotted, but the correlation is over all of them."""
    fig, ax = _figure(5.2, 5.0)
    leaning = np.asarray(leaning, np.float64)
    n = leaning.size
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    count = np.bincount(src, minlength=n)
    total = np.bincount(src, weights=leaning[dst], minlength=n)
    users = np.flatnonzero(count > 0)
    mean_followed = total[users] / np.maximum(count[users], 1)
    own = leaning[users]
    r = float("nan")
    if users.size >= 2 and own.std() > 0 and mean_followed.std() > 0:
        r = float(np.corrcoef(own, mean_followed)[0, 1])
    shown = np.arange(users.size)
    if users.size > max_points:
        # influencers and candidates are few and worth seeing: always keep them
        rare = np.zeros(users.size, bool)
        if role is not None:
            rare = np.isin(np.asarray(role)[users], list(RARE_ROLES))
        keep = np.flatnonzero(rare)[:max_points]
        rest = np.flatnonzero(~rare)
        pick = np.random.default_rng(seed).choice(rest, max_points - keep.size, replace=False)
        shown = np.sort(np.concatenate([keep, pick]))
    alpha = 0.25 if shown.size > 2000 else 0.5
    groups = {0: shown} if role is None else {}
    if role is not None:
        roles = np.asarray(role)[users[shown]]
        groups = {int(k): shown[roles == k] for k in np.unique(roles)}
    for k, idx in groups.items():
        label, colour, size = ROLE_STYLE.get(k, (f"role {k}", "grey", 4))
        if role is None:
            label = "users"
        ax.scatter(
            own[idx],
            mean_followed[idx],
            s=size,
            alpha=alpha if k == 0 else 0.7,
            color=colour,
            edgecolors="none",
            label=f"{label} ({idx.size:,})",
            rasterized=True,
        )
    ax.plot([-1, 1], [-1, 1], color="grey", linestyle="--", linewidth=1, label="perfect echo")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.axvline(0, color="black", linewidth=0.5)
    note = f"r = {r:.2f}" if np.isfinite(r) else "r = n/a"
    note += f" over {users.size:,} users (F5 band 0.80–0.95)"
    if shown.size < users.size:
        note += f"\n{shown.size:,} random users shown"
    ax.annotate(
        note,
        xy=(0.03, 0.97),
        xycoords="axes fraction",
        ha="left",
        va="top",
        fontsize=9,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"},
    )
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("user's leaning (opinion on topic 0)")
    ax.set_ylabel("mean leaning of those it follows")
    ax.set_title("echo chambers")
    ax.legend(fontsize=8, loc="lower right", markerscale=2)
    _style(ax)
    return fig


# -------------------------------------------------------------------- for a run
@lru_cache(maxsize=4)
def _reference_degrees(data_dir: str) -> tuple[tuple[str, np.ndarray], ...]:
    from ..metrics.reference import reference_file
    from ..world.loaders import load_edge_list, load_polblogs

    root = Path(data_dir)
    out = []
    if (root / "polblogs" / "nodes.csv").exists():
        reference_file(root / "polblogs" / "nodes.csv")
        reference_file(root / "polblogs" / "edges.csv")
        g = load_polblogs(root / "polblogs")
        out.append(("polblogs in-degree", np.bincount(g.dst, minlength=g.n)))
    path = root / "facebook" / "facebook_combined.txt"
    if path.exists():
        g = load_edge_list(reference_file(path), directed=False)
        out.append(("facebook degree", np.bincount(g.src, minlength=g.n)))
    return tuple(out)


def reference_degrees(data_dir: str | Path | None) -> dict[str, np.ndarray]:
    """{label: degrees} of the real networks in ``data_dir`` that have a degree tail
    (polblogs in-degree, facebook degree); empty when the folder is absent. A broken
    file is a `UserError` naming it (and ``--data``)."""
    from ..metrics.reference import data_error
    from ..world.loaders import DataFileError

    if data_dir is None or not Path(data_dir).is_dir():
        return {}
    try:
        return dict(_reference_degrees(str(Path(data_dir).resolve())))
    except DataFileError as exc:
        raise data_error(exc) from None


def run_figures(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    measures: Mapping[str, float] | None = None,
    references: Mapping[str, Mapping[str, float]] | None = None,
    snapshot: RunSnapshot | None = None,
) -> dict[str, Figure]:
    """All report figures of a run directory, by name: opinions, followers, cascades,
    posting, echo.

    ``measures`` (from `measure_run`) supplies the fitted follower tail, so the figure
    shows the same fit as the scorecard; ``references`` (from
    `real_network_references`) adds the real networks' fitted exponents to the legend;
    ``snapshot`` saves loading the run again when the caller already has it.
    """
    snap = snapshot if snapshot is not None else RunSnapshot.load(run_dir)
    figs: dict[str, Figure] = {}
    figs["opinions"] = opinion_figure(snap.metrics, snap.opinion, snap.role)

    followers = np.bincount(snap.follow_dst, minlength=snap.n)
    fit = None
    if measures is not None and "follower_tail_alpha" in measures:
        fit = (measures["follower_tail_alpha"], measures.get("follower_tail_xmin", np.nan))
    refs = {}
    alphas = {"polblogs in-degree": "polblogs", "facebook degree": "facebook"}
    for label, degree in reference_degrees(data_dir).items():
        alpha = (references or {}).get(alphas.get(label, ""), {}).get("follower_tail_alpha")
        refs[f"{label} (α = {alpha:.2f})" if alpha is not None else label] = degree
    figs["followers"] = follower_ccdf_figure(followers, refs, fit)

    figs["cascades"] = cascade_figure(snap.cascades().post_sizes())

    originals = np.asarray(snap.kind) == 0
    posts_per_user = np.bincount(np.asarray(snap.author)[originals], minlength=snap.n)
    figs["posting"] = lorenz_figure(posts_per_user)

    figs["echo"] = echo_chamber_figure(
        snap.leaning, snap.follow_src, snap.follow_dst, role=snap.role
    )
    return figs


# ------------------------------------------------------------------- bot survival
def bot_survival_figure(
    metrics: Mapping[str, Sequence[float]], published: tuple[float, float] | None = None
) -> Figure:
    """The bot survival curve: the share of socialbots not yet suspended, per step
    (``bots_active_share`` of metrics.parquet).

    ``published`` = (share, steps) draws the detector's published rate for reference: a
    share ``share`` of flagged accounts still active after ``steps`` steps, i.e. the curve
    of bots flagged from the first step on (``moderation.survival`` over
    ``survival_days / step_days``). Runs recorded before the column existed, and runs
    without bots, get a panel that says the curve is not available.
    """
    fig, ax = _figure(6.4, 3.6)
    step = np.asarray(metrics.get("step", []), np.float64)
    share = np.asarray(metrics.get("bots_active_share", []), np.float64)
    if share.size and share.size == step.size and np.isfinite(share).any():
        ax.step(step, share, where="post", color=RUN_COLOUR, linewidth=1.8, label="this run")
        if published is not None and published[1] > 0:
            survival, steps = published
            rate = survival ** (step / steps) if survival > 0 else (step < 0).astype(float)
            ax.plot(
                step,
                rate,
                color=REFERENCE_COLOURS[0],
                linestyle="--",
                linewidth=1.2,
                label=f"published rate: {survival:.0%} left after {steps:,.0f} steps",
            )
        last = share[np.isfinite(share)][-1]
        ax.set_title(f"socialbots still active: {last:.1%} after {step.size:,} steps")
        ax.legend(fontsize=8, loc="lower left")
    else:
        ax.text(
            0.5,
            0.5,
            "bot survival not available\n(no bots_active_share in metrics.parquet:\n"
            "a run without bots, or recorded before the column existed)",
            ha="center",
            va="center",
            fontsize=9,
            transform=ax.transAxes,
        )
        ax.set_title("socialbots still active")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("share of socialbots not suspended")
    _style(ax)
    return fig
