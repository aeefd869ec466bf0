"""How long the realism scorecard takes on a run (goal: under a minute at 10^5 users).

Runs the default scenario at each size into a temporary directory, then times
`measure_run` + `scorecard` (and the real-network references, cached after the first
call) and writes benchmarks/results/realism.json. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from townsquare.config import load_scenario
from townsquare.metrics.realism import measure_run, scorecard
from townsquare.metrics.reference import default_data_dir, real_network_references
from townsquare.runner import Run

RESULTS = Path(__file__).resolve().parent / "results" / "realism.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated user counts")
    parser.add_argument("--steps", type=int, default=100, help="steps of each run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args()
    console = Console()
    sizes = [int(s) for s in args.sizes.split(",")]

    started = time.perf_counter()
    references = real_network_references(default_data_dir())
    reference_s = time.perf_counter() - started

    rows = []
    for users in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            scenario = load_scenario(
                "default", [f"users={users}", f"steps={args.steps}", "record.events=none"]
            )
            console.print(f"running {users:,} users × {args.steps} steps ...")
            Run.start(scenario, Path(tmp) / "run").execute()
            t0 = time.perf_counter()
            measures = measure_run(Path(tmp) / "run")
            card = scorecard(measures, references=references)
            seconds = time.perf_counter() - t0
        rows.append(
            {
                "users": users,
                "steps": args.steps,
                "realism_s": round(seconds, 3),
                "reproduced": card.reproduced,
                "measured": card.measured,
            }
        )

    table = Table(title="realism scorecard time")
    for col in ("users", "steps", "seconds", "facts reproduced"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r['users']:,}",
            str(r["steps"]),
            f"{r['realism_s']:.2f}",
            f"{r['reproduced']} / {r['measured']}",
        )
    console.print(table)
    console.print(f"real-network references: {reference_s:.2f} s (once, then cached)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "bench_realism",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "reference_networks_s": round(reference_s, 3),
                "goal": "under 60 s at 10^5 users",
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
