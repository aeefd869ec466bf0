"""Meylahn & Meylahn (PLOS ONE 2024): social RL gives metastable polarisation.

Figure 2: consensus times of ARLOD on random geometric graphs (N = 100 points in the unit
square, link below distance r_g, resampled until connected), alpha = 0.25, eps = 0.1,
many runs per r_g; heavy, roughly straight survival tails on log-log axes that get
heavier as r_g falls. Figure 3: one run at r_g = 0.25, the number of +1 agents over time:
long plateaus (spatial clusters of opposite opinion) before consensus.

Runs are independent, so they are spread over all cores; every run has its own seed
derived from (seed, r_g index, run), so results do not depend on the number of workers.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..metrics.metastability import plateaus, time_polarised
from ..outputs import replace_file, replace_text
from ..world.generators import random_geometric
from ..world.opinion import ArlodState, arlod_run, to_csr

RADII = (0.25, 0.30, 0.35, 0.40, 0.45, 0.50)
N = 100
ALPHA = 0.25
EPS = 0.1

#: the largest interaction cap: 100 times the 10^10 the paper used. A run still polarised
#: at 10^12 interactions takes hours (the kernel does some 10^7-10^8 interactions a
#: second), and the count must stay an int64
MAX_CAP = 10**12
#: the most runs per r_g: 200 times the paper's 500; the job list and the results table
#: hold one row per run and r_g
MAX_RUNS = 100_000
#: the largest link radius: every pair of points in the unit square lies within √2, so a
#: radius past it (1.5 leaves room for rounding) links the same complete graph
MAX_RADIUS = 1.5


@dataclass(frozen=True)
class Settings:
    runs: int = 500
    cap: int = 10**8
    radii: tuple[float, ...] = RADII
    seed: int = 0
    alpha: float = ALPHA
    eps: float = EPS
    n: int = N
    workers: int = 0  # 0: all cores

    def __post_init__(self):
        if not 1 <= self.runs <= MAX_RUNS:
            raise ValueError(f"runs must lie in [1, {MAX_RUNS}] (got {self.runs})")
        if not 1 <= self.cap <= MAX_CAP:
            raise ValueError(f"cap must lie in [1, {MAX_CAP:.0e}] (got {self.cap})")
        if not self.radii or not all(math.isfinite(r) and 0 < r <= MAX_RADIUS for r in self.radii):
            raise ValueError(f"every r_g must lie in (0, {MAX_RADIUS}] (got {self.radii})")

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"runs": 60, "cap": 10**6, **kw})


def connected_rgg(rng: np.random.Generator, n: int, radius: float):
    """A random geometric graph, resampled until connected (as in the paper)."""
    for _ in range(10_000):
        src, dst, _ = random_geometric(rng, n, radius=radius)
        adj = coo_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
        if connected_components(adj, directed=False)[0] == 1:
            return to_csr(src, dst, n)
    raise RuntimeError(f"no connected random geometric graph with r = {radius} after 10,000 draws")


def one_run(args) -> tuple[float, int, int, bool]:
    radius_index, run, s = args
    radius = s.radii[radius_index]
    rng = np.random.default_rng([s.seed, radius_index, run])
    indptr, indices = connected_rgg(rng, s.n, radius)
    state = ArlodState.random(s.n, rng)
    steps, plus = arlod_run(
        indptr, indices, state, s.cap, int(rng.integers(2**31)), alpha=s.alpha, eps=s.eps
    )
    censored = 0 < plus < s.n
    return radius, run, steps, censored


def consensus_times(s: Settings, progress: Callable[[int, int], None] | None = None) -> dict:
    """All runs of Figure 2: columns r_g, run, consensus_time, censored."""
    jobs = [(ri, run, s) for ri in range(len(s.radii)) for run in range(s.runs)]
    workers = s.workers or os.cpu_count() or 1
    out = {"r_g": [], "run": [], "consensus_time": [], "censored": []}
    if workers == 1:
        results = map(one_run, jobs)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(one_run, jobs, chunksize=max(1, len(jobs) // (workers * 20)))
    try:
        for k, (radius, run, steps, censored) in enumerate(results, start=1):
            out["r_g"].append(radius)
            out["run"].append(run)
            out["consensus_time"].append(steps)
            out["censored"].append(censored)
            if progress:
                progress(k, len(jobs))
    finally:
        if workers != 1:
            pool.shutdown(cancel_futures=True)
    return out


def quantile_table(table: dict, cap: int) -> list[dict]:
    """Per r_g: median, 90th percentile, P(T > 10^4), P(T > 10^6) and the share still
    polarised at the cap. Censored runs count as T = cap, so a quantile that reaches the
    cap is a lower bound and is reported as None (shown as '> cap')."""
    r = np.asarray(table["r_g"])
    t = np.asarray(table["consensus_time"], np.float64)
    c = np.asarray(table["censored"], bool)
    rows = []
    for radius in sorted(set(r.tolist())):
        sel = r == radius
        times = np.where(c[sel], np.inf, t[sel])
        median = float(np.quantile(times, 0.5, method="inverted_cdf"))
        p90 = float(np.quantile(times, 0.9, method="inverted_cdf"))
        rows.append(
            {
                "r_g": radius,
                "runs": int(sel.sum()),
                "median": median if np.isfinite(median) else None,
                "p90": p90 if np.isfinite(p90) else None,
                "p_gt_1e4": float((times > 1e4).mean()),
                "p_gt_1e6": float((times > 1e6).mean()) if cap > 1e6 else None,
                "polarised_at_cap": float(c[sel].mean()),
            }
        )
    return rows


def pick_trace_run(table: dict, s: Settings, radius: float = 0.25) -> int:
    """Figure 3 shows one run at r_g = 0.25: the Figure 2 run there with the longest
    consensus time that still ended before the cap (it shows the plateau best); the first
    run if every run was censored."""
    r = np.asarray(table["r_g"])
    sel = np.flatnonzero((r == radius) & ~np.asarray(table["censored"], bool))
    if sel.size == 0:
        return 0
    t = np.asarray(table["consensus_time"])[sel]
    return int(np.asarray(table["run"])[sel[np.argmax(t)]])


def single_trace(
    s: Settings, radius: float = 0.25, run: int = 0, points: int = 2000
) -> tuple[np.ndarray, np.ndarray, int]:
    """Figure 3: replay one Figure 2 run (same seeds) and sample its +1 count at
    ``points`` evenly spaced interactions up to consensus or the cap."""
    radii = s.radii if radius in s.radii else (*s.radii, radius)
    radius_index = radii.index(radius)
    rng = np.random.default_rng([s.seed, radius_index, run])
    indptr, indices = connected_rgg(rng, s.n, radius)
    state = ArlodState.random(s.n, rng)
    kernel_seed = int(rng.integers(2**31))
    # first pass: how long the run is; second pass (same seed): sample it evenly
    probe = ArlodState(state.q_plus.copy(), state.q_minus.copy())
    steps, _ = arlod_run(indptr, indices, probe, s.cap, kernel_seed, s.alpha, s.eps)
    every = max(1, steps // points)
    trace = np.full(steps // every + 1, -1, np.int64)
    arlod_run(
        indptr, indices, state, s.cap, kernel_seed, s.alpha, s.eps, trace=trace, trace_every=every
    )
    trace[trace < 0] = int((state.opinion > 0).sum())
    return np.arange(trace.size) * every, trace, steps


def write_outputs(out: Path, table: dict, s: Settings, trace=None) -> dict[str, Path]:
    """Every file is written beside its name and renamed onto it (`replace_file`): a
    symlink at an output name is replaced, never written through."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    arrow = pa.table(
        {
            "r_g": pa.array(table["r_g"], pa.float64()),
            "run": pa.array(table["run"], pa.int64()),
            "consensus_time": pa.array(table["consensus_time"], pa.int64()),
            "censored": pa.array(table["censored"], pa.bool_()),
        }
    )
    paths["consensus_times"] = replace_file(
        out / "consensus_times.parquet", lambda tmp: pq.write_table(arrow, tmp)
    )
    rows = quantile_table(table, s.cap)

    def write_quantiles(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})

    paths["quantiles"] = replace_file(out / "quantiles.csv", write_quantiles)
    paths["survival_plot"] = plot_survival(table, s, out / "survival.png")
    if trace is not None:
        summary = trace_summary(*trace, s)
        replace_text(out / "trace_rg025.json", json.dumps(summary, indent=2) + "\n")
        paths["trace_summary"] = out / "trace_rg025.json"
        paths["trace_plot"] = plot_trace(*trace, s, out / "trace_rg025.png", summary["plateaus"])
    return paths


def trace_summary(steps: np.ndarray, plus: np.ndarray, total: int, s: Settings) -> dict:
    """Metastability of the Figure 3 run: share of time both camps hold at least 10%,
    and plateaus where the +1 count stays within 10% of N for at least 5% of the run."""
    share = plus / s.n
    found = plateaus(plus, tolerance=0.1 * s.n, min_length=max(2, plus.size // 20))
    return {
        "interactions": int(total),
        "consensus": bool(total < s.cap),
        "time_polarised": time_polarised(share, 0.1),
        "plateaus": [
            {
                "start": int(steps[a]),
                "end": int(steps[min(b, steps.size - 1)]),
                "plus_agents": round(level, 1),
            }
            for a, b, level in found
            if 0 < level < s.n
        ],
    }


def plot_survival(table: dict, s: Settings, path: Path) -> Path:
    from matplotlib.figure import Figure

    r = np.asarray(table["r_g"])
    t = np.asarray(table["consensus_time"], np.float64)
    c = np.asarray(table["censored"], bool)
    fig = Figure(figsize=(7, 5), dpi=110)
    ax = fig.add_subplot()
    for radius in sorted(set(r.tolist())):
        sel = r == radius
        times = np.sort(t[sel])
        survival = 1.0 - np.arange(times.size) / times.size
        ax.step(
            times,
            survival,
            where="post",
            label=f"r_g = {radius:.2f} ({c[sel].mean():.0%} polarised at cap)",
        )
    ax.axvline(s.cap, color="grey", linestyle=":", label=f"cap {s.cap:.0e}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("consensus time T (interactions)")
    ax.set_ylabel("P(T ≥ t)")
    ax.set_title(
        f"ARLOD consensus times, N = {s.n}, {s.runs} runs per r_g (Meylahn & Meylahn 2024, Fig. 2)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def plot_trace(
    steps: np.ndarray,
    plus: np.ndarray,
    total: int,
    s: Settings,
    path: Path,
    marked: list[dict] = (),
) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=110)
    ax = fig.add_subplot()
    for k, p in enumerate(marked):
        ax.axvspan(
            p["start"],
            p["end"],
            color="orange",
            alpha=0.2,
            label="plateau (metastable)" if k == 0 else None,
        )
    ax.plot(steps, plus, linewidth=0.8)
    ax.axhline(s.n / 2, color="grey", linestyle=":", linewidth=0.8)
    ax.set_ylim(0, s.n)
    if marked:
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel("interaction")
    ax.set_ylabel("agents with opinion +1")
    ended = "consensus" if total < s.cap else "cap reached"
    ax.set_title(
        f"one ARLOD run at r_g = 0.25, N = {s.n}: {ended} after {total:,} interactions (Fig. 3)",
        fontsize=9,
    )
    fig.tight_layout()
    return replace_file(path, fig.savefig)


# -- the result tables as the command line shows them ----------------------------------
def display_table(rows: list[dict]):
    """The quantile table (`quantile_table`) as a rich table."""
    from rich.table import Table

    result = Table(title="consensus times per r_g (interactions)")
    for col in ("r_g", "runs", "median", "p90", "P(T>1e4)", "P(T>1e6)", "polarised at cap"):
        result.add_column(col, justify="right")

    def cell(v):
        return "> cap" if v is None else f"{v:,.0f}"

    for r in rows:
        result.add_row(
            f"{r['r_g']:.2f}",
            str(r["runs"]),
            cell(r["median"]),
            cell(r["p90"]),
            f"{r['p_gt_1e4']:.3f}",
            "n/a" if r["p_gt_1e6"] is None else f"{r['p_gt_1e6']:.3f}",
            f"{r['polarised_at_cap']:.3f}",
        )
    return result


def trace_line(trace, settings) -> str:
    """One line on the Figure 3 run (`single_trace`)."""
    meta = trace_summary(*trace, settings)
    return (
        f"Figure 3 run at r_g = 0.25: {trace[2]:,} interactions "
        f"({'consensus' if meta['consensus'] else 'cap reached'}); polarised "
        f"{meta['time_polarised']:.0%} of the time; {len(meta['plateaus'])} plateaus"
    )
