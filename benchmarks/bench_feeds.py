"""What each content recommender costs: the feeds of one step's readers at 10^6 users,
as a ratio to the engagement feed built from the same world state in the same process.

The world is `default` at --users after --warmup steps (so the window holds three steps
of posts, likes and replies); its readers are drawn as a step draws them. Each
recommender indexes the window (`Recommender.window_of`: its scores, the out-of-network
list, its reader vectors) and builds every reader's feed in parts of the world's
`chunk_rows` (`items_in`), --repeat times; the best time counts. Engagement is timed
first and last, and the reference is the mean of the two, so drift of the machine over
the run shows in the table. Writes benchmarks/results/feeds.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.world.feed import Recommender
from townsquare.world.recommenders import NAMES
from townsquare.world.who_to_follow import NAMES as FOLLOW_NAMES
from townsquare.world.who_to_follow import WhoToFollow
from townsquare.world.who_to_follow import by_name as follow_recommender
from townsquare.world.world import CHUNK_ROWS

RESULTS = Path(__file__).resolve().parent / "results" / "feeds.json"


def timed_feeds(world, recommender: Recommender, readers: np.ndarray) -> tuple[float, float]:
    """Seconds to index the window and to build every reader's feed from it."""
    pop = world.population
    cursor = np.full(pop.n, -1, np.int64)
    start = time.perf_counter()
    window = recommender.window_of(world.graph, world.posts, pop.opinion, pop.suspended, world.t)
    indexed = time.perf_counter()
    for lo in range(0, readers.size, CHUNK_ROWS):
        recommender.items_in(window, readers[lo : lo + CHUNK_ROWS], cursor)
    return indexed - start, time.perf_counter() - indexed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    console = Console()

    sc = load_scenario("default", [f"users={args.users}"])
    clock = time.perf_counter()
    world, sc = build_world(sc)
    for _ in range(args.warmup):
        world.step()
    console.print(
        f"default at {args.users:,} users, {args.warmup} steps: "
        f"{time.perf_counter() - clock:.1f} s, {len(world.posts):,} posts"
    )
    pop = world.population
    draw = np.random.default_rng(0).random(pop.n)
    readers = np.flatnonzero((draw < pop.visits) & ~pop.suspended)
    f = sc.feed

    def make(name: str) -> Recommender:
        return Recommender(
            name, f.k, f.window, f.trending, f.half_life, f.out_of_network, seed=1,
            step_days=sc.moderation.step_days,
        )  # fmt: skip

    order = ["engagement", *(n for n in NAMES if n != "engagement"), "engagement"]
    timings: dict[str, list[tuple[float, float]]] = {}
    for name in order:
        recommender = make(name)
        timed_feeds(world, recommender, readers[:1000])  # compile
        best = min(
            (timed_feeds(world, recommender, readers) for _ in range(args.repeat)),
            key=sum,
        )
        timings.setdefault(name, []).append(best)
        console.print(f"  {name}: {sum(best):.3f} s")
    reference = float(np.mean([sum(t) for t in timings["engagement"]]))
    rows = []
    for name in NAMES:
        window_s, feeds_s = timings[name][0]
        rows.append(
            {
                "recommender": name,
                "window_s": round(window_s, 4),
                "feeds_s": round(feeds_s, 4),
                "total_s": round(window_s + feeds_s, 4),
                "x_engagement": round((window_s + feeds_s) / reference, 2),
            }
        )
    # who to follow: the readers whose follow draw fires ask for suggestions
    w = sc.who_to_follow
    asking = readers[np.random.default_rng(1).random(readers.size) < sc.roles.citizen.follow_rate]
    follow_rows = []
    for name in FOLLOW_NAMES:
        service = WhoToFollow(
            follow_recommender(name, walks=w.walks, restart=w.restart), w.count, seed=1
        )
        service.suggest(world.graph, pop.opinion, pop.suspended, world.t, asking[:100])
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for lo in range(0, asking.size, CHUNK_ROWS):
                part = asking[lo : lo + CHUNK_ROWS]
                service.suggest(world.graph, pop.opinion, pop.suspended, world.t, part)
            best = min(best, time.perf_counter() - start)
        follow_rows.append(
            {
                "recommender": name,
                "seconds": round(best, 4),
                "x_engagement": round(best / reference, 2),
            }
        )
        console.print(f"  who to follow, {name}: {best:.3f} s")

    table = Table(title=f"feeds of {readers.size:,} readers at {args.users:,} users")
    for column in ("recommender", "window s", "feeds s", "total s", "x engagement"):
        table.add_column(column, justify="left" if column == "recommender" else "right")
    for r in rows:
        table.add_row(
            r["recommender"], f"{r['window_s']:.3f}", f"{r['feeds_s']:.3f}",
            f"{r['total_s']:.3f}", f"{r['x_engagement']:.2f}",
        )  # fmt: skip
    console.print(table)
    follows = Table(title=f"who to follow for {asking.size:,} readers about to follow")
    for column in ("recommender", "seconds", "x engagement feed"):
        follows.add_column(column, justify="left" if column == "recommender" else "right")
    for r in follow_rows:
        follows.add_row(r["recommender"], f"{r['seconds']:.3f}", f"{r['x_engagement']:.2f}")
    console.print(follows)
    first, last = (sum(t) for t in timings["engagement"])
    console.print(f"engagement first {first:.3f} s, last {last:.3f} s (the reference: their mean)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "users": args.users,
                "readers": int(readers.size),
                "window_posts": int(len(world.posts) - world.posts.window_start(world.t, f.window)),
                "engagement_first_s": round(first, 4),
                "engagement_last_s": round(last, 4),
                "rows": rows,
                "asking_to_follow": int(asking.size),
                "who_to_follow": follow_rows,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
