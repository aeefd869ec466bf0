"""A sweep on a local Ray against the same runs made one by one, in one process.

The issue's case: `default` with opinion.epsilon = 0.2, 0.3, 0.4 and seeds 1-5 (15 runs),
at the scenario's own 10^4 users and at 10^5. For each size, measured in this process:

* one by one (the reference, 1.00): each run made in this process after the last, the
  same work a sweep task does (`experiments.sweep.run_one`: the run, then its realism
  metrics), with the kernels already compiled, so it pays no start-up at all;
* the sweep: `run_sweep` on a local Ray of 2 CPUs, everything included (starting Ray,
  its workers compiling the kernels, writing sweep.parquet).

Every sweep run's metrics.parquet is checked byte for byte against its one-by-one twin.
Writes benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from townsquare.experiments.sweep import check_plan, run_one, run_sweep

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"
GRID = "opinion.epsilon=0.2,0.3,0.4"
SEEDS = [1, 2, 3, 4, 5]


def measure(users: int, workers: int, root: Path) -> dict:
    plan = check_plan("default", [f"users={users}"], [GRID], SEEDS)
    alone = root / f"alone-{users}"
    start = time.perf_counter()
    for run in plan.runs():
        run_one((plan, run, str(alone)))
    one_by_one = time.perf_counter() - start
    swept = root / f"sweep-{users}"
    start = time.perf_counter()
    run_sweep(plan, swept, workers=workers)
    sweep_s = time.perf_counter() - start
    same = all(
        (alone / r["name"] / "metrics.parquet").read_bytes()
        == (swept / "runs" / r["name"] / "metrics.parquet").read_bytes()
        for r in plan.runs()
    )
    return {
        "runs": len(plan.runs()),
        "one_by_one_s": round(one_by_one, 2),
        "sweep_s": round(sweep_s, 2),
        "speedup": round(one_by_one / sweep_s, 3),
        "byte_identical": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    console = Console()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        plan = check_plan("default", ["users=1000", "steps=3"], ["opinion.epsilon=0.4"], [0])
        run_one((plan, plan.runs()[0], str(Path(tmp) / "warm")))  # compile every kernel once
        for users in (int(s) for s in args.sizes.split(",")):
            results[users] = measure(users, args.workers, Path(tmp))
    out = Table(title=f"default, {GRID}, seeds 1-5, a local Ray of {args.workers} CPUs")
    for col in ("users", "runs", "one by one s", "sweep s", "speed-up", "byte-identical"):
        out.add_column(col, justify="right")
    for users, r in results.items():
        out.add_row(f"{users:,}", str(r["runs"]), f"{r['one_by_one_s']:.1f}",
                    f"{r['sweep_s']:.1f}", f"{r['speedup']:.2f}", str(r["byte_identical"]))  # fmt: skip
    console.print(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "grid": GRID,
                "seeds": SEEDS,
                "workers": args.workers,
                "sizes": {str(k): v for k, v in results.items()},
            },
            indent=2,
        )
        + "\n"  # fmt: skip
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
