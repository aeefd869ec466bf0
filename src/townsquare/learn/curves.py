"""Learning curves of `townsquare train`: a CSV and a plot of followers per episode."""

from __future__ import annotations

import csv
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from ..outputs import replace_file
from .q_learning import EpisodeRecord


def write_curve(records: list[EpisodeRecord], path: Path) -> Path:
    """Written beside ``path`` and renamed onto it (a symlink there is replaced)."""
    names = [f.name for f in fields(EpisodeRecord)]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            for rec in records:
                writer.writerow(asdict(rec))

    return replace_file(path, write)


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start), along the last
    axis."""
    y = np.asarray(y, np.float64)
    window = max(1, int(window))
    c = np.cumsum(y, axis=-1)
    n = y.shape[-1]
    sums = c.copy()
    sums[..., window:] = c[..., window:] - c[..., : n - window]
    return sums / np.minimum(np.arange(1, n + 1), window)


def plot_curve(records: list[EpisodeRecord], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = np.array([r.episode for r in records])
    followers = np.array([r.followers for r in records], float)
    gained = np.array([r.followers - r.start_followers for r in records], float)
    window = max(1, len(records) // 20)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, y, label in (
        (axes[0], followers, "followers at the end"),
        (axes[1], gained, "followers gained"),
    ):
        ax.plot(ep, y, ".", ms=3, alpha=0.35, color="tab:blue", label="episode")
        ax.plot(
            ep, moving_average(y, window), color="tab:blue", lw=2, label=f"mean of last {window}"
        )
        ax.set_xlabel("episode")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    eps = np.array([r.epsilon for r in records])
    if eps.any():
        twin = axes[1].twinx()
        twin.plot(ep, eps, color="tab:gray", lw=1, ls=":")
        twin.set_ylabel("exploration ε", color="tab:gray")
        twin.set_ylim(0, 1.05)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    try:
        replace_file(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)
    return path
