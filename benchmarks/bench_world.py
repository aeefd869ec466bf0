"""Scaling benchmark: the default scenario at 10^4, 10^5 and 10^6 users.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_world.py``). Each size runs
in its own spawned process, so the peak RSS reported for a size belongs to that size only.
A child loads the built-in ``default`` scenario with ``users=N`` and ``steps=S``, warms the
numba kernels up on a tiny world, then times ``Run.start`` (build) and ``Run.execute``
(run) into a temporary run directory, so event recording and checkpoints are included
exactly as a user's ``townsquare run`` would do them.

Speed is never asserted: every size reports ``users_steps_per_s`` and its ratio to the
reference run (10^4 users) made by the same invocation, on the same machine. The issue's
goal (10^6 users x 100 steps in under 10 minutes and 8 GB) is reported as met or not.

Results go to ``benchmarks/results/world.json``; a table is printed to the terminal.

Options::

    --sizes 10000,100000      users per run (default 10000,100000,1000000); the 10^4
                              reference run is always made first, even if not listed
    --steps N                 steps per run (default 100)
    --reference N             users of the reference run (default 10000)
    --events all|sample|none  record.events override (default: the scenario's own)
    --out PATH                JSON output (default benchmarks/results/world.json)
    --tmpdir DIR              where the temporary run directories go (default: $TMPDIR)
    --profile                 also cProfile each timed run (profile_N.pstats next to --out)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import queue
import resource
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "world.json"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
REFERENCE_USERS = 10_000
WARMUP_USERS, WARMUP_STEPS = 200, 2
GOAL = {"users": 1_000_000, "steps": 100, "max_run_s": 600.0, "max_peak_rss_mb": 8192.0}
MB = 1024 * 1024


# --------------------------------------------------------------------------- memory
def _proc_status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_mb() -> float | None:
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib / 1024


def _peak_rss_mb() -> float:
    """This process's peak RSS in MB.

    VmHWM is the high-water mark of this process's own address space. ru_maxrss can also
    carry the parent's high-water mark across the fork/exec that starts the child, so it
    is only the fallback (and is reported alongside, for reference).
    """
    hwm = _proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm / 1024
    return _ru_maxrss_mb()


def _ru_maxrss_mb() -> float:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / MB if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


# --------------------------------------------------------------------------- child
class _Timed:
    """Wraps a bound method and adds its wall time to ``totals[name]``."""

    def __init__(self, totals: dict[str, float], name: str, fn):
        self.totals, self.name, self.fn = totals, name, fn
        totals.setdefault(name, 0.0)

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.totals[self.name] += time.perf_counter() - t0


def _instrument(run) -> dict[str, float]:
    """Time the work a run does outside ``World.step`` (recording, checkpoints), by
    wrapping the bound methods of this one run object; nothing in townsquare changes."""
    totals: dict[str, float] = {}
    targets = (
        ("recorder_add", run.recorder, "add"),
        ("events_flush_duckdb", run.recorder, "flush"),
        ("metrics_parquet", run.store, "write_metrics"),
        ("world_state", run.world, "state"),
        ("checkpoint_npz", run.store, "save_checkpoint"),
        ("summary_json", run.store, "write_summary"),
    )
    for name, obj, attr in targets:
        setattr(obj, attr, _Timed(totals, name, getattr(obj, attr)))
    return totals


def _one_run(
    users: int,
    steps: int,
    events: str | None,
    workdir: Path,
    on_step=None,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    from townsquare.config import load_scenario
    from townsquare.runner import Run

    overrides = [f"users={users}", f"steps={steps}"]
    if events is not None:
        overrides.append(f"record.events={events}")
    scenario = load_scenario("default", overrides)

    t0 = time.perf_counter()
    run = Run.start(scenario, workdir)
    build_s = time.perf_counter() - t0
    rss_after_build = _rss_mb()
    peak_after_build = _peak_rss_mb()

    outside = _instrument(run)
    profiler = None
    if profile_to is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    summary = run.execute(on_step=on_step)
    run_s = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile_to))

    phases = dict(run.world.phase_seconds)  # unrounded; summary['phase_seconds'] is rounded
    in_step = sum(phases.values())
    return {
        "summary": summary,
        "build_s": build_s,
        "run_s": run_s,
        "phases_exact": phases,
        "outside_step_s": run_s - in_step,
        "outside_breakdown": outside,
        "rss_after_build_mb": rss_after_build,
        "peak_rss_after_build_mb": peak_after_build,
        "rss_end_mb": _rss_mb(),
        "run_dir_mb": _dir_mb(workdir),
        "run_dir_files": {
            str(p.relative_to(workdir)): round(p.stat().st_size / MB, 2)
            for p in sorted(workdir.rglob("*"))
            if p.is_file()
        },
        "post_capacity": int(run.world.posts._cols["author"].shape[0]),
        "post_count": len(run.world.posts),
        "graph_pool": int(run.world.graph.pool.shape[0]),
        "follow_edges": run.world.graph.edge_count,
    }


def _child(
    users: int,
    steps: int,
    events: str | None,
    tmp_root: str | None,
    profile_to: str | None,
    out: mp.Queue,
) -> None:
    """One benchmark size, in a fresh (spawned) interpreter. Sends progress and the result
    through ``out``: ("stage", text), ("step", t), then ("result", dict) or ("error", text)."""
    try:
        t0 = time.perf_counter()
        import numba
        import numpy as np

        import townsquare.runner  # noqa: F401  (import cost kept out of the warm-up)

        import_s = time.perf_counter() - t0
        rss_baseline = _rss_mb()

        out.put(("stage", f"JIT warm-up ({WARMUP_USERS} users, {WARMUP_STEPS} steps)"))
        with tempfile.TemporaryDirectory(prefix="bench-warmup-", dir=tmp_root) as d:
            t0 = time.perf_counter()
            _one_run(WARMUP_USERS, WARMUP_STEPS, events, Path(d) / "run")
            warmup_s = time.perf_counter() - t0
        rss_after_warmup = _rss_mb()

        out.put(("stage", "building world (Run.start)"))

        def on_step(metrics: dict) -> None:
            if metrics["step"] == 0:
                out.put(("stage", "running (Run.execute)"))
            out.put(("step", int(metrics["step"]) + 1))

        with tempfile.TemporaryDirectory(prefix=f"bench-{users}-", dir=tmp_root) as d:
            r = _one_run(
                users,
                steps,
                events,
                Path(d) / "run",
                on_step=on_step,
                profile_to=Path(profile_to) if profile_to else None,
            )

        s = r["summary"]
        run_s = r["run_s"]
        done_steps = int(s["steps"])
        result = {
            "users": int(s["users"]),
            "steps": done_steps,
            "events": s["events"],
            "build_s": round(r["build_s"], 3),
            "run_s": round(run_s, 3),
            "steps_per_s": round(done_steps / run_s, 4) if run_s > 0 else None,
            "users_steps_per_s": round(s["users"] * done_steps / run_s, 1) if run_s > 0 else None,
            "ms_per_step": round(1000 * run_s / max(done_steps, 1), 2),
            "phase_seconds": s["phase_seconds"],
            "outside_step_s": round(r["outside_step_s"], 3),
            "outside_step_breakdown_s": {k: round(v, 3) for k, v in r["outside_breakdown"].items()},
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "ru_maxrss_mb": round(_ru_maxrss_mb(), 1),
            "peak_rss_after_build_mb": round(r["peak_rss_after_build_mb"], 1),
            "rss_baseline_mb": None if rss_baseline is None else round(rss_baseline, 1),
            "rss_after_warmup_mb": None if rss_after_warmup is None else round(rss_after_warmup, 1),
            "rss_after_build_mb": None
            if r["rss_after_build_mb"] is None
            else round(r["rss_after_build_mb"], 1),
            "rss_end_mb": None if r["rss_end_mb"] is None else round(r["rss_end_mb"], 1),
            "run_dir_mb": round(r["run_dir_mb"], 1),
            "run_dir_files_mb": r["run_dir_files"],
            "import_s": round(import_s, 3),
            "jit_warmup_s": round(warmup_s, 3),
            "totals": {
                name: s[name]
                for name in ("posts", "replies", "reposts", "likes", "follows", "unfollows")
            },
            "suspensions": s["suspensions"],
            "follow_edges_end": r["follow_edges"],
            "post_store": {"rows": r["post_count"], "capacity": r["post_capacity"]},
            "graph_pool_slots": r["graph_pool"],
            "numba_threads": numba.get_num_threads(),
            "numpy": np.__version__,
        }
        out.put(("result", result))
    except BaseException:  # report any failure to the parent
        out.put(("error", traceback.format_exc()))


# --------------------------------------------------------------------------- parent
def _machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    mem_total_mb = None
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as fh:
        mem_total_mb = round(int(fh.readline().split()[1]) / 1024)
    cpu_model = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "cpu_model": cpu_model or platform.processor() or None,
        "memory_mb": mem_total_mb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": ver("numpy"),
        "numba": ver("numba"),
        "duckdb": ver("duckdb"),
        "pyarrow": ver("pyarrow"),
        "townsquare": ver("townsquare"),
    }


def _run_size(ctx, users: int, args, progress, task) -> dict[str, Any]:
    profile_to = None
    if args.profile:
        profile_to = str(args.out.parent / f"profile_{users}.pstats")
    q = ctx.Queue()
    proc = ctx.Process(
        target=_child,
        name=f"bench-{users}",
        args=(users, args.steps, args.events, args.tmpdir, profile_to, q),
    )
    t0 = time.perf_counter()
    proc.start()
    result: dict[str, Any] | None = None
    while result is None:
        try:
            kind, payload = q.get(timeout=0.5)
        except queue.Empty:
            if not proc.is_alive():
                # died without a word: killed (e.g. out of memory) or crashed hard
                result = {
                    "users": users,
                    "steps": args.steps,
                    "error": f"child exited with code {proc.exitcode}",
                }
            continue
        if kind == "stage":
            progress.update(task, description=f"{users:>9,} users: {payload}")
        elif kind == "step":
            progress.update(task, completed=payload)
        elif kind == "result":
            result = payload
        else:
            result = {"users": users, "steps": args.steps, "error": payload}
    proc.join()
    result["child_wall_s"] = round(time.perf_counter() - t0, 3)
    if profile_to and "error" not in result:
        result["profile"] = profile_to
    return result


def _secs(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _tables(report: dict[str, Any]) -> list:
    """Three narrow tables (they fit an 80-column terminal): speed and memory, seconds
    per phase, event totals."""
    from rich import box
    from rich.table import Table

    def table(title: str, columns: tuple[str, ...]) -> Table:
        t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, 1))
        for c in columns:
            t.add_column(c, justify="right", no_wrap=True)
        return t

    ok = [r for r in report["results"] if "error" not in r]
    speed = table(
        f"townsquare default scenario, {report['steps']} steps, events: {report['events']}",
        ("users", "build s", "run s", "steps/s", "users·steps/s", "× 10^4", "peak MB", "JIT s"),
    )
    for r in report["results"]:
        if "error" in r:
            speed.add_row(f"{r['users']:,}", "[red]failed[/red]", *[""] * 6)
            continue
        ratio = r.get("ratio_vs_reference")
        speed.add_row(
            f"{r['users']:,}",
            _secs(r["build_s"]),
            _secs(r["run_s"]),
            f"{r['steps_per_s']:.2f}",
            f"{r['users_steps_per_s']:,.0f}",
            "-" if ratio is None else f"{ratio:.2f}",
            f"{r['peak_rss_mb']:,.0f}",
            f"{r['jit_warmup_s']:.1f}",
        )
    if not ok:
        return [speed]
    names = ("activate", "feed", "act", "apply", "moderate", "opinion", "record")
    phases = table(
        "seconds per phase (outside: recording + checkpoints)", ("users", *names, "outside")
    )
    for r in ok:
        ph = {**r["phase_seconds"], "outside": r["outside_step_s"]}
        phases.add_row(f"{r['users']:,}", *(_secs(ph.get(p, 0.0)) for p in (*names, "outside")))
    kinds = ("posts", "replies", "reposts", "likes", "follows")
    totals = table("event totals", ("users", *kinds))
    for r in ok:
        totals.add_row(f"{r['users']:,}", *(f"{r['totals'][k]:,}" for k in kinds))
    return [speed, phases, totals]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="comma-separated user counts (default: %(default)s)",
    )
    ap.add_argument("--steps", type=int, default=100, help="steps per run (default: 100)")
    ap.add_argument(
        "--reference",
        type=int,
        default=REFERENCE_USERS,
        help="users of the reference run, made first (default: 10000; the ten-million "
        "rows use 1000000)",
    )
    ap.add_argument(
        "--events",
        choices=("all", "sample", "none"),
        default=None,
        help="record.events override (default: the scenario's own, 'all')",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    ap.add_argument("--tmpdir", default=None, help="where run directories are written")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="cProfile each timed run into profile_N.pstats next to --out",
    )
    args = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes {args.sizes}: expected integers, e.g. 10000,100000")
    if not sizes or min(sizes) < 1 or args.steps < 1:
        ap.error("--sizes and --steps must be positive")
    # the reference run is always made, first, so ratios compare like with like
    reference = args.reference
    sizes = [reference] + [s for s in dict.fromkeys(sizes) if s != reference]

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console()
    machine = _machine()
    console.print(
        f"[bold]townsquare benchmark[/bold]: sizes {', '.join(f'{s:,}' for s in sizes)}, "
        f"{args.steps} steps, events={args.events or 'scenario default'}; "
        f"{machine['cpu_count']} CPUs, python {machine['python']}, "
        f"numpy {machine['numpy']}, numba {machine['numba']}"
    )
    ctx = mp.get_context("spawn")
    started = dt.datetime.now(dt.UTC)
    results = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for users in sizes:
            task = progress.add_task(f"{users:>9,} users: starting", total=args.steps)
            r = _run_size(ctx, users, args, progress, task)
            if "error" in r:
                progress.update(task, description=f"{users:>9,} users: [red]failed[/red]")
                console.print(f"[red]{users:,} users failed:[/red]\n{r['error']}")
            else:
                progress.update(
                    task,
                    completed=r["steps"],
                    description=f"{users:>9,} users: done in {r['run_s']:.1f} s",
                )
            results.append(r)

    ref = next((r for r in results if r["users"] == reference and "error" not in r), None)
    for r in results:
        if "error" in r:
            continue
        r["is_reference"] = r is ref
        r["ratio_vs_reference"] = (
            round(r["users_steps_per_s"] / ref["users_steps_per_s"], 3) if ref else None
        )
        # extrapolation to the goal, for runs shorter than 100 steps
        r["run_s_per_100_steps"] = round(r["run_s"] * 100 / r["steps"], 1)

    goal_run = next((r for r in results if r["users"] == GOAL["users"] and "error" not in r), None)
    goal = dict(GOAL)
    if goal_run is not None:
        goal.update(
            measured_run_s_per_100_steps=goal_run["run_s_per_100_steps"],
            measured_build_s=goal_run["build_s"],
            measured_peak_rss_mb=goal_run["peak_rss_mb"],
            time_ok=goal_run["run_s_per_100_steps"] <= GOAL["max_run_s"],
            memory_ok=goal_run["peak_rss_mb"] <= GOAL["max_peak_rss_mb"],
        )

    report = {
        "benchmark": "bench_world",
        "scenario": "default",
        "steps": args.steps,
        "events": args.events or (results[0].get("events") if results else None),
        "timestamp": started.isoformat(timespec="seconds"),
        "wall_s": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1),
        "machine": machine,
        "reference": {
            "users": reference,
            "users_steps_per_s": ref["users_steps_per_s"] if ref else None,
            "note": "ratio_vs_reference = users_steps_per_s / the reference's, same invocation",
        },
        "goal": goal,
        "notes": {
            "peak_rss_mb": "VmHWM of the child process (whole life: imports, warm-up, build, run)",
            "outside_step_s": "run_s minus the sum of phase_seconds: recording and checkpoints",
            "jit_warmup_s": f"a {WARMUP_USERS}-user, {WARMUP_STEPS}-step run before timing",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    shutil.move(tmp, args.out)

    for table in _tables(report):
        console.print(table)
    if goal_run is not None:
        ok = goal["time_ok"] and goal["memory_ok"]
        console.print(
            f"goal (10^6 users x 100 steps < {GOAL['max_run_s']:.0f} s and "
            f"< {GOAL['max_peak_rss_mb']:.0f} MB): "
            + ("[green]met[/green]" if ok else "[red]not met[/red]")
            + f" ({goal['measured_run_s_per_100_steps']:.0f} s run + {goal['measured_build_s']:.0f} s"
            f" build, {goal['measured_peak_rss_mb']:,.0f} MB peak)"
        )
    console.print(f"wrote {args.out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
