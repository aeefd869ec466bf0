"""Figures of a run, drawn from its ``metrics.parquet``."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq

#: topics the opinion panel names one by one (two entries each); beyond, the lines speak
LEGEND_TOPICS = 6


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw a run's per-step metrics into one PNG (default: RUN/metrics.png).

    Four panels: activity (active users, posts, replies, reposts, likes), the follow graph
    (follows, unfollows, edges), opinions (mean ± std per topic, bimodality with the 5/9
    two-camp line) and moderation (suspensions).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    table = pq.read_table(run_dir / "metrics.parquet").to_pydict()
    step = table["step"]
    out = Path(out) if out is not None else run_dir / "metrics.png"

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    ax = axes[0, 0]
    for name in ("active_users", "posts", "replies", "reposts", "likes"):
        ax.plot(step, table[name], label=name.replace("_", " "))
    ax.set_title("activity per step")
    ax.set_yscale("symlog")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    ax.plot(step, table["follows"], label="follows")
    ax.plot(step, table["unfollows"], label="unfollows")
    ax.set_title("follow graph")
    ax.set_ylabel("events per step")
    twin = ax.twinx()
    twin.plot(step, table["follow_edges"], color="grey", linestyle="--", label="edges")
    twin.set_ylabel("edges")
    ax.legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)

    ax = axes[1, 0]
    topics = sorted(k for k in table if k.startswith("opinion_mean"))
    for key in topics:
        suffix = key.removeprefix("opinion_mean")
        mean = table[key]
        std = table["opinion_std" + suffix]
        label = "topic " + (suffix.removeprefix("_t") or "0")
        line = ax.plot(step, mean, label=f"{label} mean")[0]
        ax.fill_between(
            step,
            [m - s for m, s in zip(mean, std, strict=True)],
            [m + s for m, s in zip(mean, std, strict=True)],
            color=line.get_color(),
            alpha=0.15,
        )
        ax.plot(
            step,
            table["bimodality" + suffix],
            color=line.get_color(),
            linestyle=":",
            label=f"{label} bimodality",
        )
    ax.axhline(5 / 9, color="black", linewidth=0.8, linestyle="--", label="5/9 (two camps)")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title("citizens' opinions (mean ± std) and bimodality")
    if len(topics) <= LEGEND_TOPICS:
        ax.legend(fontsize=8)
    else:  # a legend of every topic would squeeze the panels to nothing
        ax.text(0.01, 0.02, f"{len(topics)} topics", transform=ax.transAxes, fontsize=8)

    ax = axes[1, 1]
    ax.bar(step, table["suspended"], label="suspended this step")
    ax.set_ylabel("suspensions")
    twin = ax.twinx()
    twin.plot(step, table["suspended_total"], color="black", label="suspended in all")
    ax.set_title("moderation")
    ax.legend(loc="upper left", fontsize=8)
    twin.legend(loc="lower right", fontsize=8)

    for a in axes.flat:
        a.set_xlabel("step")
    fig.suptitle(f"{run_dir.name}")
    # written beside and renamed: a reader never sees half an image, and a symlink at
    # ``out`` is replaced rather than written through
    tmp = out.with_name(out.name + ".tmp" + out.suffix)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    plt.close(fig)
    return out
