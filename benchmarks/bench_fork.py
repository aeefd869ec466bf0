"""World.fork: what one rollout's copy of the world costs, against one step.

A planner or a verifiable reward forks the running world and steps the fork, many times
per decision, so the fork must cost a small fraction of a step. In the built-in `default`
scenario at 10^4 and 10^5 users, after 10 warm-up steps (so posts, follows and policy
state exist), measured in one process:

* one `World.step` (the reference, 1.00), averaged over 10 steps of the original;
* one `World.fork()`, averaged over 20 forks of the same world;
* a rollout: fork, then 5 steps of the fork.

Reported in milliseconds and as a ratio to one step. Writes benchmarks/results/fork.json.
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

RESULTS = Path(__file__).resolve().parent / "results" / "fork.json"
WARMUP_STEPS = 10
STEPS = 10
FORKS = 20
ROLLOUT = 5


def measure(users: int) -> dict[str, float]:
    world, _ = build_world(load_scenario("default", [f"users={users}", "record.events=none"]))
    for _ in range(WARMUP_STEPS):
        world.step()
    start = time.perf_counter()
    for _ in range(FORKS):
        world.fork()
    fork_s = (time.perf_counter() - start) / FORKS
    start = time.perf_counter()
    for _ in range(3):
        rollout = world.fork()
        for _ in range(ROLLOUT):
            rollout.step()
    rollout_s = (time.perf_counter() - start) / 3
    start = time.perf_counter()
    for _ in range(STEPS):
        world.step()
    step_s = (time.perf_counter() - start) / STEPS
    return {"step_ms": step_s * 1e3, "fork_ms": fork_s * 1e3, "rollout_ms": rollout_s * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console()
    measure(1000)  # compile every kernel once
    results = {users: measure(users) for users in sizes}

    out = Table(title=f"World.fork in `default` after {WARMUP_STEPS} steps")
    for col in ("users", "step ms", "fork ms", "fork × step", f"fork + {ROLLOUT} steps ms"):
        out.add_column(col, justify="right")
    for users, r in results.items():
        out.add_row(
            f"{users:,}",
            f"{r['step_ms']:.2f}",
            f"{r['fork_ms']:.2f}",
            f"{r['fork_ms'] / r['step_ms']:.3f}",
            f"{r['rollout_ms']:.1f}",
        )
    console.print(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "warmup_steps": WARMUP_STEPS,
                "rollout_steps": ROLLOUT,
                "sizes": {
                    str(users): {
                        **{k: round(v, 3) for k, v in r.items()},
                        "fork_over_step": round(r["fork_ms"] / r["step_ms"], 4),
                    }
                    for users, r in results.items()
                },
                "numpy": np.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
