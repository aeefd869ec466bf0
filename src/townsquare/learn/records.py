"""Episode records and learning curves, for any role: the return, the steps, the
exploration rate, and the role's own per-agent columns (`LearnerRole.info_columns`: the
influencer's followers and leadership, the citizen's opinion and side) at the start and
at the end of each episode. `townsquare train` writes them as ``curve.csv`` and plots
them as ``learning_curve.png``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..outputs import replace_file


@dataclass
class EpisodeRecord:
    """One episode of one role's learners (for a group: means over its agents)."""

    episode: int
    ret: float  # the summed reward (a group's: the mean over its agents)
    steps: int
    epsilon: float  # exploration rate (0 for policies that do not explore this way)
    start: dict[str, float] = field(default_factory=dict)  # the role's columns at reset
    end: dict[str, float] = field(default_factory=dict)  # and at the episode's end

    def change(self, column: str) -> float:
        """How much ``column`` moved over the episode (e.g. followers gained)."""
        return float(self.end[column]) - float(self.start[column])

    def row(self) -> dict:
        out = {"episode": self.episode, "return": self.ret, "steps": self.steps}
        out["epsilon"] = self.epsilon
        for name, value in self.end.items():
            out[name] = value
            out[f"start_{name}"] = self.start.get(name)
        return out


def columns_of(info: dict, names: tuple[str, ...] | list[str]) -> dict[str, float]:
    """The role's columns out of an environment's info dict."""
    return {name: info[name] for name in names}


def group_means(infos: list[dict], names) -> dict[str, float]:
    """Each column's mean over a group's agents (booleans: the share that is true)."""
    return {name: round(float(np.mean([i[name] for i in infos])), 4) for name in names}


def write_curve(records: list[EpisodeRecord], path: Path) -> Path:
    """``curve.csv``, one row per episode; written beside ``path`` and renamed onto it
    (a symlink there is replaced)."""
    rows = [r.row() for r in records]
    names = list(rows[0]) if rows else ["episode", "return", "steps", "epsilon"]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)

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
    """The return per episode, then each of the role's columns at the episode's end
    (with its start for reference), each with its trailing mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = np.array([r.episode for r in records])
    columns = list(records[0].end) if records else []
    panels = [("return", np.array([r.ret for r in records], float), None)]
    for name in columns:
        end = np.array([r.end[name] for r in records], float)
        start = np.array([r.start.get(name, np.nan) for r in records], float)
        panels.append((f"{name} at the end", end, start))
    window = max(1, len(records) // 20)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels) + 1, 3.6), constrained_layout=True
    )
    axes = np.atleast_1d(axes)
    for ax, (label, y, start) in zip(axes, panels, strict=True):
        ax.plot(ep, y, ".", ms=3, alpha=0.35, color="tab:blue", label="episode")
        ax.plot(
            ep, moving_average(y, window), color="tab:blue", lw=2, label=f"mean of last {window}"
        )
        if start is not None and np.isfinite(start).any():
            ax.plot(
                ep,
                moving_average(start, window),
                color="tab:gray",
                lw=1,
                ls="--",
                label="at the start",
            )
        ax.set_xlabel("episode")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    eps = np.array([r.epsilon for r in records])
    if eps.any():
        twin = axes[0].twinx()
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


def write_rows_plot(rows: list[dict], folder: Path, x: str, ys: list[str], title: str) -> dict:
    """``curve.csv`` (every column of ``rows``) and ``learning_curve.png`` (the ``ys``
    against ``x``) in ``folder``, for trainers that log per iteration; returns their paths."""
    from matplotlib.figure import Figure

    folder = Path(folder)
    names = list(rows[0]) if rows else [x, *ys]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)

    curve = replace_file(folder / "curve.csv", write)
    fig = Figure(figsize=(7, 4), dpi=110)
    ax = fig.add_subplot()
    for name in ys:
        ax.plot([r[x] for r in rows], [r[name] for r in rows], marker=".", label=name)
    ax.set_xlabel(x)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plot = replace_file(folder / "learning_curve.png", fig.savefig)
    return {"curve.csv": curve, "learning_curve.png": plot}
