"""What the learning population costs: the built-in ``learned`` scenario (every citizen and
influencer learning how often to post, whom to follow and, citizens, what to express)
against the scripted ``default`` world, step for step, at 10^4, 10^5 and 10^6 users.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_population.py``). Each size
runs in its own spawned process. The process warms the numba kernels up on a tiny world of
each scenario, then builds ``default`` and ``learned`` with ``users=N`` and times
``World.step`` of each, the two stepping in turns of a few steps (``--chunk``) so that
other load on the machine slows both alike. They share the platform, the seed and the
process, so their ratio is the cost of learning (the policies' own work and what the
learned behaviour changes in the rest of the step). The goal (docs/population.md):
at 10^6 users, at most 1.5x the scripted world per step.

Speed is never asserted. Results go to ``benchmarks/results/population.json``; a table is
printed to the terminal.

Options::

    --sizes 10000,100000      users per run (default 10000,100000,1000000)
    --steps N                 steps per world (default 100)
    --chunk N                 steps per turn (default 5)
    --out PATH                JSON output (default benchmarks/results/population.json)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import multiprocessing as mp
import os
import platform
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "population.json"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SCENARIOS = ("default", "learned")
WARMUP_USERS, WARMUP_STEPS = 300, 4
GOAL = {"users": 1_000_000, "max_ratio": 1.5}


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _build(name: str, users: int, steps: int):
    from townsquare.build import build_world
    from townsquare.config import load_scenario

    t0 = time.perf_counter()
    world, _ = build_world(load_scenario(name, [f"users={users}", f"steps={steps}"]))
    return world, time.perf_counter() - t0


def _summary(world, build_s: float, step_s: float, steps: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    arrays, _ = world.state()
    policy_bytes = sum(v.nbytes for k, v in arrays.items() if k.startswith("policy."))
    return {
        "build_s": round(build_s, 3),
        "step_s": round(step_s, 3),
        "ms_per_step": round(1000 * step_s / steps, 2),
        "phase_seconds": {k: round(v, 3) for k, v in world.phase_seconds.items()},
        "policy_state_mb": round(policy_bytes / 2**20, 1),
        "world_state_s": round(time.perf_counter() - t0, 3),
        "posts": len(world.posts),
        "follow_edges_end": world.graph.edge_count,
    }


def _compare(users: int, steps: int, chunk: int) -> dict[str, Any]:
    """Both worlds step in turns of ``chunk`` steps, so that whatever else the machine
    is doing slows both alike."""
    worlds = {name: _build(name, users, steps) for name in SCENARIOS}
    seconds = dict.fromkeys(SCENARIOS, 0.0)
    done = 0
    while done < steps:
        todo = min(chunk, steps - done)
        for name in SCENARIOS:
            world = worlds[name][0]
            t0 = time.perf_counter()
            for _ in range(todo):
                world.step()
            seconds[name] += time.perf_counter() - t0
        done += todo
    out = {
        name: _summary(world, build_s, seconds[name], steps)
        for name, (world, build_s) in worlds.items()
    }
    del worlds
    gc.collect()
    return out


def _child(users: int, steps: int, chunk: int, out: mp.Queue) -> None:
    try:
        import numba

        _compare(WARMUP_USERS, WARMUP_STEPS, WARMUP_STEPS)
        result: dict[str, Any] = {"users": users, "steps": steps, "chunk": chunk}
        result.update(_compare(users, steps, chunk))
        result["ratio"] = round(result["learned"]["step_s"] / result["default"]["step_s"], 3)
        result["peak_rss_mb"] = _peak_rss_mb()
        result["numba_threads"] = numba.get_num_threads()
        out.put(("result", result))
    except BaseException:  # report any failure to the parent
        out.put(("error", traceback.format_exc()))


def _run_size(ctx, users: int, steps: int, chunk: int) -> dict[str, Any]:
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(users, steps, chunk, q), name=f"population-{users}")
    t0 = time.perf_counter()
    proc.start()
    while True:
        try:
            kind, payload = q.get(timeout=1.0)
            break
        except Exception:  # queue.Empty
            if not proc.is_alive():
                kind, payload = "error", f"child exited with code {proc.exitcode}"
                break
    proc.join()
    result = payload if kind == "result" else {"users": users, "steps": steps, "error": payload}
    result["child_wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def _machine() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "numba": version("numba"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=5, help="steps per turn (default: 5)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes {args.sizes}: expected integers, e.g. 10000,100000")
    if not sizes or min(sizes) < 1 or args.steps < 1 or args.chunk < 1:
        ap.error("--sizes and --steps must be positive")

    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    ctx = mp.get_context("spawn")
    started = dt.datetime.now(dt.UTC)
    results = []
    for users in sizes:
        console.print(f"{users:>9,} users: default and learned, {args.steps} steps each ...")
        r = _run_size(ctx, users, args.steps, args.chunk)
        if "error" in r:
            console.print(f"[red]{users:,} users failed:[/red]\n{r['error']}")
        results.append(r)

    goal_run = next((r for r in results if r["users"] == GOAL["users"] and "ratio" in r), None)
    goal = dict(GOAL)
    if goal_run is not None:
        goal.update(measured_ratio=goal_run["ratio"], met=goal_run["ratio"] <= GOAL["max_ratio"])
    report = {
        "benchmark": "bench_population",
        "scenarios": {"reference": "default", "measured": "learned"},
        "steps": args.steps,
        "chunk": args.chunk,
        "timestamp": started.isoformat(timespec="seconds"),
        "machine": _machine(),
        "goal": goal,
        "notes": {
            "ratio": "learned step_s / default step_s: World.step only, same process, "
            "the two worlds stepping in turns of `chunk` steps",
            "policy_state_mb": "the policies' arrays in a checkpoint at the end",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    shutil.move(tmp, args.out)

    table = Table(
        title=f"learned vs default, World.step, {args.steps} steps",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for column in ("users", "default s", "learned s", "ratio", "act (d/l)", "apply (d/l)"):
        table.add_column(column, justify="right")
    table.add_column("policy state MB", justify="right")
    for r in results:
        if "ratio" not in r:
            table.add_row(f"{r['users']:,}", "[red]failed[/red]", *[""] * 5)
            continue
        d, lr = r["default"], r["learned"]
        table.add_row(
            f"{r['users']:,}",
            f"{d['step_s']:.2f}",
            f"{lr['step_s']:.2f}",
            f"{r['ratio']:.2f}",
            f"{d['phase_seconds']['act']:.1f}/{lr['phase_seconds']['act']:.1f}",
            f"{d['phase_seconds']['apply']:.1f}/{lr['phase_seconds']['apply']:.1f}",
            f"{lr['policy_state_mb']:.0f}",
        )
    console.print(table)
    if goal_run is not None:
        verdict = "[green]met[/green]" if goal["met"] else "[red]not met[/red]"
        console.print(
            f"goal (10^6 users, learned <= {GOAL['max_ratio']}x scripted per step): "
            f"{verdict} ({goal_run['ratio']:.2f}x)"
        )
    console.print(f"wrote {args.out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
