"""Reference values: the scorecard's metrics computed, by the same code, on real networks.

``data_dir`` is the folder described in ``shared/data/README.md`` (polblogs, retweet,
facebook). Networks whose files are missing are left out, so the scorecard still works
(with published bands only) where the data is not at hand.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..world.loaders import DataFileError, load_edge_list, load_polblogs
from .instrument import echo_chamber_facts, follower_facts, repost_facts, repost_network
from .networks import largest_component, random_walk_controversy, restrict, undirected_simple

SOURCES = {
    "polblogs": "Adamic & Glance, LinkKDD 2005",
    "gunsense": "Garimella et al., ACM TSC 2018 (retweets, controversial)",
    "ff": "Garimella et al., ACM TSC 2018 (retweets, #FollowFriday)",
    "facebook": "McAuley & Leskovec, NIPS 2012 (ego-Facebook)",
}


#: the largest reference file read. The networks of ``shared/data/README.md`` are each
#: under 1 MB, so a file 64 times that size is not one of them (a wrong folder, or a
#: link to a device such as /dev/zero): it is refused before it is read into memory.
MAX_REFERENCE_BYTES = 64 << 20


def reference_file(path: Path) -> Path:
    """``path`` if it is a regular file of at most `MAX_REFERENCE_BYTES` (links are
    followed), else `DataFileError`: nothing is read from a device, a pipe or a folder."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataFileError(path, "file not found") from None
    except OSError as exc:
        raise DataFileError(path, f"cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataFileError(path, "not a regular file")
    if info.st_size > MAX_REFERENCE_BYTES:
        raise DataFileError(
            path,
            f"{info.st_size:,} bytes: the reference networks are under 1 MB each, so files "
            f"over {MAX_REFERENCE_BYTES >> 20} MiB are not read",
        )
    return path


def data_error(exc: DataFileError) -> UserError:
    """A broken file in the reference data folder, as the user's error it is."""
    return UserError(f"--data: {exc} (a folder of real networks as in shared/data/README.md)")


#: the project folder of a source checkout (src/townsquare/metrics -> the checkout)
PROJECT_DIR = Path(__file__).resolve().parents[3]


def data_dir_candidates() -> list[Path]:
    """Where real networks are looked for, in order: $TOWNSQUARE_DATA; ../shared/data
    and shared/data from the working directory; ../shared/data and shared/data beside
    the project folder, so that a command run from anywhere finds them."""
    env = os.environ.get("TOWNSQUARE_DATA")
    out = [Path(env)] if env else []
    out += [Path("../shared/data"), Path("shared/data")]
    out += [PROJECT_DIR.parent / "shared" / "data", PROJECT_DIR / "shared" / "data"]
    return out


def default_data_dir() -> Path | None:
    """The first folder of `data_dir_candidates` that exists, or None.

    A $TOWNSQUARE_DATA that is not a folder is a `UserError`: it was asked for by name."""
    env = os.environ.get("TOWNSQUARE_DATA")
    if env and not Path(env).is_dir():
        raise UserError(f"TOWNSQUARE_DATA={env}: folder not found")
    for candidate in data_dir_candidates():
        if candidate.is_dir():
            return candidate
    return None


def no_data_note() -> str:
    """One line saying that no real networks were found, and how to give them."""
    return (
        "no real networks found (--data FOLDER, $TOWNSQUARE_DATA, or shared/data beside "
        "the working directory or the project), so the scorecard shows the published "
        "bands without real-network references"
    )


def polblogs_reference(folder: Path) -> dict[str, float]:
    """Echo chambers and the follower tail of the blogs' link graph (`metrics.instrument`:
    the same method as a run's follow graph)."""
    reference_file(folder / "nodes.csv")
    reference_file(folder / "edges.csv")
    g = load_polblogs(folder)
    u, v = undirected_simple(g.src, g.dst, g.n)
    keep = largest_component(u, v, g.n)
    s, d, ids = restrict(u, v, keep)
    camp = (g.leaning[ids] > 0).astype(np.int64)
    return {
        "nodes": float(ids.size),
        "edges": float(s.size),
        **echo_chamber_facts(g.src, g.dst, g.n, g.leaning),
        "random_walk_controversy": random_walk_controversy(s, d, camp),
        **follower_facts(np.bincount(g.dst, minlength=g.n)),
    }


def retweet_reference(folder: Path, name: str) -> dict[str, float]:
    """Influence and the two-way split of a retweet network (`metrics.instrument`: the
    same method as a run's repost network), with the authors' own split beside it."""
    g = load_edge_list(reference_file(folder / f"{name}.csv"))
    index = {label: i for i, label in enumerate(g.labels)}
    side = np.full(g.n, -1, np.int64)
    for c in (1, 2):
        path = reference_file(folder / f"{name}_community{c}.txt")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataFileError(path, f"not a UTF-8 text file ({exc.reason})") from None
        for label in text.split():
            if label in index:
                side[index[label]] = c - 1
    net = repost_network(g.src, g.dst, g.n, g.weight)
    facts = repost_facts(net, side[net.ids])
    whole = np.flatnonzero(side >= 0)
    return {
        "nodes": float(net.n),
        "edges": float(net.u.size),
        **{k: v for k, v in facts.items() if k != "repost_network_nodes"},
        "random_walk_controversy": random_walk_controversy(g.src, g.dst, side)
        if whole.size
        else float("nan"),
    }


def facebook_reference(path: Path) -> dict[str, float]:
    """The friendship network's degree tail (its degree stands for followers)."""
    g = load_edge_list(reference_file(path), directed=False)
    return {
        "nodes": float(g.n),
        "edges": float(g.src.size // 2),
        **follower_facts(np.bincount(g.src, minlength=g.n)),
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
    """{network: {metric: value}} for every real network found in ``data_dir``. A
    network whose files are broken is a `UserError` naming the file (and ``--data``)."""
    if data_dir is None or not Path(data_dir).is_dir():
        return {}
    try:
        cached = _cached(str(Path(data_dir).resolve()))
    except DataFileError as exc:
        raise data_error(exc) from None
    return {name: dict(values) for name, values in cached}
