"""Reference values: the scorecard's metrics computed, by the same code, on real networks.

``data_dir`` is the folder described in ``shared/data/README.md`` (polblogs, retweet,
facebook). Networks whose files are missing are left out, so the scorecard still works
(with published bands only) where the data is not at hand.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..world.loaders import load_edge_list, load_polblogs
from .inequality import gini, top_share
from .networks import (
    largest_component,
    leaning_assortativity,
    modularity,
    neighbour_leaning_correlation,
    random_walk_controversy,
    restrict,
    undirected_simple,
)
from .tails import fit_power_law

SOURCES = {
    "polblogs": "Adamic & Glance, LinkKDD 2005",
    "gunsense": "Garimella et al., ACM TSC 2018 (retweets, controversial)",
    "ff": "Garimella et al., ACM TSC 2018 (retweets, #FollowFriday)",
    "facebook": "McAuley & Leskovec, NIPS 2012 (ego-Facebook)",
}


def default_data_dir() -> Path | None:
    """$TOWNSQUARE_DATA, else ../shared/data or shared/data from the working directory."""
    candidates = [os.environ.get("TOWNSQUARE_DATA"), "../shared/data", "shared/data"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def polblogs_reference(folder: Path) -> dict[str, float]:
    g = load_polblogs(folder)
    u, v = undirected_simple(g.src, g.dst, g.n)
    keep = largest_component(u, v, g.n)
    s, d, ids = restrict(u, v, keep)
    lean = g.leaning[ids]
    camp = (lean > 0).astype(np.int64)
    followers = np.bincount(g.dst, minlength=g.n)
    fit = fit_power_law(followers)
    return {
        "nodes": float(ids.size),
        "edges": float(s.size),
        "leaning_assortativity": leaning_assortativity(s, d, lean),
        "neighbour_leaning_correlation": neighbour_leaning_correlation(s, d, lean, directed=False),
        "camp_modularity": modularity(s, d, camp),
        "random_walk_controversy": random_walk_controversy(s, d, camp),
        "follower_tail_alpha": fit.alpha,
        "follower_tail_xmin": fit.xmin,
        "follower_gini": gini(followers),
        "follower_top1_share": top_share(followers, 0.01),
    }


def retweet_reference(folder: Path, name: str) -> dict[str, float]:
    g = load_edge_list(folder / f"{name}.csv")
    index = {label: i for i, label in enumerate(g.labels)}
    side = np.full(g.n, -1, np.int64)
    for c in (1, 2):
        path = folder / f"{name}_community{c}.txt"
        for label in path.read_text().split():
            if label in index:
                side[index[label]] = c - 1
    w = g.weight if g.weight is not None else np.ones(g.src.size)
    degree = np.bincount(g.src, weights=w, minlength=g.n) + np.bincount(
        g.dst, weights=w, minlength=g.n
    )
    return {
        "nodes": float(g.n),
        "edges": float(g.src.size),
        "repost_degree_gini": gini(degree),
        "repost_degree_top1_share": top_share(degree, 0.01),
        "camp_modularity": modularity(g.src, g.dst, side, weight=w),
        "random_walk_controversy": random_walk_controversy(g.src, g.dst, side),
    }


def facebook_reference(path: Path) -> dict[str, float]:
    g = load_edge_list(path, directed=False)
    degree = np.bincount(g.src, minlength=g.n)
    fit = fit_power_law(degree)
    return {
        "nodes": float(g.n),
        "edges": float(g.src.size // 2),
        "follower_tail_alpha": fit.alpha,
        "follower_tail_xmin": fit.xmin,
        "follower_gini": gini(degree),
        "follower_top1_share": top_share(degree, 0.01),
    }


@lru_cache(maxsize=4)
def _cached(data_dir: str) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    root = Path(data_dir)
    out = []
    if (root / "polblogs" / "nodes.csv").exists():
        out.append(("polblogs", polblogs_reference(root / "polblogs")))
    for name in ("gunsense", "ff"):
        if (root / "retweet" / f"{name}.csv").exists():
            out.append((name, retweet_reference(root / "retweet", name)))
    if (root / "facebook" / "facebook_combined.txt").exists():
        out.append(("facebook", facebook_reference(root / "facebook" / "facebook_combined.txt")))
    return tuple((name, tuple(values.items())) for name, values in out)


def real_network_references(data_dir: str | Path | None) -> dict[str, dict[str, float]]:
    """{network: {metric: value}} for every real network found in ``data_dir``."""
    if data_dir is None or not Path(data_dir).is_dir():
        return {}
    return {name: dict(values) for name, values in _cached(str(Path(data_dir).resolve()))}
