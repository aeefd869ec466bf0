"""What a calibration fits: the summary statistics of a target, measured by the same code
as a run's realism metrics (`metrics.instrument`, `metrics.reference`).

A target is one of:

* a run directory: every statistic its run holds;
* a real network of the data folder by name: ``gunsense`` or ``ff`` (retweet networks:
  influence and the two-way split, F3 and F6), ``polblogs`` (echo chambers and the
  follower tail, F5 and F2), ``facebook`` (the follower tail);
* a folder in polblogs' form (``nodes.csv``, ``edges.csv``);
* a retweet CSV (``user_a,user_b,weight``, as in the data folder's ``retweet/``): F3
  and F6 of its repost network;
* any other edge list (``u v`` lines: who follows whom): the follower tail.

Only the statistics in `STATISTICS` are fitted: those measured the same way on a run
and on a real network. Sizes (nodes, edges, the largest cascade) are left out, since
they follow the number of users and not how the platform behaves; so is the random-walk
controversy, read on the follow graph in a run and on the retweet graph in the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..world.loaders import DataFileError, load_edge_list

#: the statistics a calibration can fit, in a fixed order
STATISTICS = (
    "posting_top10_share",
    "repost_degree_gini",
    "repost_degree_top1_share",
    "camp_modularity",
    "never_reposted_share",
    "cascade_100_plus_share",
    "follower_gini",
    "follower_top1_share",
    "follower_tail_alpha",
    "neighbour_leaning_correlation",
    "leaning_assortativity",
    "bot_post_share",
    "final_bimodality",
)
NAMED = ("gunsense", "ff", "polblogs", "facebook")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # run, retweet, polblogs, edges
    values: dict[str, float]  # the fitted statistics, in `STATISTICS` order

    @property
    def statistics(self) -> list[str]:
        return list(self.values)


def _fitted(name: str, kind: str, measured: dict[str, float]) -> Target:
    values = {
        k: float(measured[k])
        for k in STATISTICS
        if measured.get(k) is not None and math.isfinite(measured[k])
    }
    if not values:
        raise UserError(
            f"--target {name}: no statistic a run can be compared on was measurable there "
            f"(fitted statistics: {', '.join(STATISTICS)})"
        )
    return Target(name, kind, values)


def retweet_statistics(path: Path) -> dict[str, float]:
    """F3 and F6 of a retweet CSV's repost network (`metrics.instrument`). The two-way
    split is the instrument's own, found from the network, as on a run; an authors'
    split (community files) is not needed."""
    from ..metrics.instrument import repost_facts, repost_network
    from ..metrics.reference import reference_file

    g = load_edge_list(reference_file(path))
    net = repost_network(g.src, g.dst, g.n, g.weight)
    return repost_facts(net)


def follower_statistics(path: Path) -> dict[str, float]:
    import numpy as np

    from ..metrics.instrument import follower_facts
    from ..metrics.reference import reference_file

    g = load_edge_list(reference_file(path))
    return follower_facts(np.bincount(g.dst, minlength=g.n))


def read_target(text: str, data_dir: str | Path | None = None) -> Target:
    """The target ``text`` names (module docstring); a `UserError` naming it otherwise."""
    from ..metrics import reference as ref

    path = Path(text)
    try:
        if path.is_dir() and (path / "metrics.parquet").exists():
            from ..metrics.realism import measure_run

            try:
                measured = measure_run(path)
            except (OSError, ValueError) as exc:
                raise UserError(f"--target {text}: not a readable run directory ({exc})") from None
            return _fitted(text, "run", measured)
        if path.is_dir() and (path / "nodes.csv").exists():
            return _fitted(text, "polblogs", ref.polblogs_reference(path))
        if path.is_file() and path.suffix == ".csv":
            return _fitted(text, "retweet", retweet_statistics(path))
        if path.is_file():
            return _fitted(text, "edges", follower_statistics(path))
        if text in NAMED:
            root = Path(data_dir) if data_dir is not None else ref.default_data_dir()
            if root is None or not root.is_dir():
                raise UserError(
                    f"--target {text}: no data folder (give --data DIR, the folder of "
                    "shared/data/README.md)"
                )
            if text == "polblogs":
                return _fitted(text, "polblogs", ref.polblogs_reference(root / "polblogs"))
            if text == "facebook":
                network = root / "facebook" / "facebook_combined.txt"
                return _fitted(text, "edges", ref.facebook_reference(network))
            return _fitted(text, "retweet", ref.retweet_reference(root / "retweet", text))
    except DataFileError as exc:
        raise UserError(f"--target {text}: {exc}") from None
    raise UserError(
        f"--target {text}: not a run directory, a network file or folder, or one of "
        f"{', '.join(NAMED)}"
    )
