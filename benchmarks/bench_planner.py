"""The piKL planner (policies/planner.py): what one planning decision costs against one
world step, and how long `townsquare reproduce cicero2022 --quick` takes.

In the built-in `election` scenario at 10^4 users (events not recorded), after 10
warm-up steps, in one process:

* one `World.step` of the scripted world (the reference, 1.00), averaged over 10 steps;
* one decision of one candidate: Q of its 18 intents from 8 rollouts of 10 steps each
  (1,440 world steps and 144 forks), as `PiKLPlanner.values` computes it; also scaled to
  10 intents, the size the issue names;
* the whole `reproduce cicero2022 --quick` (8 arms × 3 seeds, two workers), in a
  subprocess, wall clock.

Writes benchmarks/results/planner.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.policies.anchor import BUILTIN, read_anchor
from townsquare.policies.planner import PiKLPlanner
from townsquare.policies.scripted import ScriptedCandidate
from townsquare.roles.candidate import INTENTS, CandidateRole
from townsquare.world.population import Role

RESULTS = Path(__file__).resolve().parent / "results" / "planner.json"
WARMUP_STEPS, STEPS, ROLLOUTS, HORIZON = 10, 10, 8, 10


def measure(users: int) -> dict[str, float]:
    world, sc = build_world(load_scenario("election", [f"users={users}", "record.events=none"]))
    for _ in range(WARMUP_STEPS):
        world.step()
    start = time.perf_counter()
    for _ in range(STEPS):
        world.step()
    step_s = (time.perf_counter() - start) / STEPS
    role = CandidateRole()
    anchor = read_anchor(BUILTIN, role.feature_names, role.action_names)
    planner = PiKLPlanner(
        ScriptedCandidate(sc.roles.candidate), anchor, world.n, 0.01, HORIZON, ROLLOUTS
    )
    world.policies[Role.CANDIDATE] = planner
    candidates = world.population.ids_of(Role.CANDIDATE)
    start = time.perf_counter()
    q = planner.values(world.fork(), int(candidates[0]), candidates[:1], np.random.default_rng(0))
    decision_s = time.perf_counter() - start
    return {
        "step_ms": step_s * 1e3,
        "decision_s": decision_s,
        "decision_over_step": decision_s / step_s,
        "q_spread": float(q.max() - q.min()),
    }


def quick_experiment() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "townsquare",
                "reproduce",
                "cicero2022",
                "--quick",
                "--workers",
                "2",
                "--out",
                str(Path(tmp) / "c"),
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--no-quick", action="store_true", help="skip the experiment's timing")
    args = parser.parse_args()
    console = Console()
    measure(1000)  # compile every kernel once
    r = measure(args.users)
    quick_s = None if args.no_quick else quick_experiment()
    n = len(INTENTS)
    out = Table(title=f"one piKL decision in `election` at {args.users:,} users")
    for col in ("step ms", f"decision s ({n} intents)", "× step", "10 intents s", "× step "):
        out.add_column(col, justify="right")
    out.add_row(
        f"{r['step_ms']:.1f}",
        f"{r['decision_s']:.1f}",
        f"{r['decision_over_step']:,.0f}",
        f"{r['decision_s'] * 10 / n:.1f}",
        f"{r['decision_over_step'] * 10 / n:,.0f}",
    )
    console.print(out)
    console.print(
        f"{n} intents × {ROLLOUTS} rollouts × {HORIZON} steps = {n * ROLLOUTS * HORIZON:,} "
        "world steps and "
        f"{n * ROLLOUTS} forks per decision",
        highlight=False,
    )
    if quick_s is not None:
        console.print(f"reproduce cicero2022 --quick: {quick_s:.0f} s", highlight=False)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "users": args.users,
                "intents": n,
                "rollouts": ROLLOUTS,
                "horizon": HORIZON,
                **{k: round(v, 4) for k, v in r.items()},
                "ten_intents_over_step": round(r["decision_over_step"] * 10 / n, 1),
                "quick_experiment_s": None if quick_s is None else round(quick_s, 1),
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
