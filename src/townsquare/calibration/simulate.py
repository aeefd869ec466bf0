"""The simulations of a calibration: draws from the prior, each run as a scenario and
measured like the target, cached in the output folder so that an interrupted
calibration resumes where it stopped.

* Draw i sets the parameters to the i-th prior draw (`params.draws`, the same whatever
  was run before) and the world's seed to one of its own, so every simulation is a new
  world as well as new parameters.
* Each runs in a folder of its own under ``OUT/runs/`` (the scenario's own recording),
  is measured by the realism metrics (`metrics.realism.measure`), and its folder is
  removed: only the statistics are kept, in ``simulations.parquet`` (one row per draw:
  ``index``, ``seed``, the parameters as run, the statistics, ``seconds``), rewritten
  whole every few seconds as they come in, and at the end or on an interruption.
* Simulations run over local worker processes (`experiments.pool.run_tasks`), or as Ray
  tasks on the cluster at ``address``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .params import Param, draws, overrides_for

CACHE = "simulations.parquet"
RUNS = "runs"
#: seconds between two rewrites of the cache while simulations come in: what an
#: interruption the process cannot catch (a kill) may lose at most
SAVE_EVERY = 5.0


@dataclass(frozen=True)
class Plan:
    """Everything that decides what a simulation returns."""

    scenario: str
    overrides: tuple[str, ...]
    params: tuple[Param, ...]
    statistics: tuple[str, ...]
    seed: int = 0

    def describe(self) -> dict:
        return {
            "scenario": self.scenario,
            "overrides": list(self.overrides),
            "params": [[p.key, p.low, p.high, p.integer] for p in self.params],
            "statistics": list(self.statistics),
            "seed": self.seed,
        }

    def world_seed(self, index: int) -> int:
        return int(np.random.default_rng([self.seed, index, 1]).integers(2**31 - 1))


def simulate(task: tuple[Plan, int, np.ndarray, str]) -> dict:
    """One simulation: (plan, index, draw, runs folder) -> its row of the cache."""
    from ..config import load_scenario
    from ..metrics.realism import measure_run
    from ..runner import Run

    plan, index, theta, runs = task
    seed = plan.world_seed(index)
    keys = [*plan.overrides, *overrides_for(list(plan.params), theta), f"seed={seed}"]
    sc = load_scenario(plan.scenario, keys)
    folder = Path(runs) / f"sim-{index}"
    started = time.perf_counter()
    try:
        Run.start(sc, folder, overwrite=True).execute()
        measured = measure_run(folder)
    finally:
        # a folder this calibration made and named, nothing else
        shutil.rmtree(folder, ignore_errors=True)
    row = {"index": index, "seed": seed}
    row.update({p.key: p.value(x) for p, x in zip(plan.params, theta, strict=True)})
    row.update({k: float(measured.get(k, np.nan)) for k in plan.statistics})
    row["seconds"] = time.perf_counter() - started
    return row


@dataclass
class Cache:
    """The simulations done so far (``OUT/simulations.parquet``)."""

    path: Path
    rows: dict[int, dict] = field(default_factory=dict)
    saved_at: float = float("-inf")

    @classmethod
    def open(cls, folder: Path, plan: Plan, name: str = CACHE) -> Cache:
        import pyarrow.parquet as pq

        from ..errors import UserError

        path = Path(folder) / name
        cache = cls(path)
        if path.exists():
            try:
                table = pq.read_table(path)
            except (OSError, ValueError) as exc:
                raise UserError(f"{path}: damaged ({' '.join(str(exc).split())[:120]})") from None
            expected = {"index", "seed", *(p.key for p in plan.params), *plan.statistics}
            if not expected <= set(table.column_names):
                raise UserError(f"{path}: holds simulations of other settings")
            rows = table.to_pylist()
            cache.rows = {int(r["index"]): _floats(r) for r in rows}
        return cache

    def add(self, row: dict) -> None:
        """Keep ``row``; the file is rewritten at most every `SAVE_EVERY` seconds (and by
        `save` at the end), so a long calibration does not spend its time rewriting it."""
        self.rows[int(row["index"])] = row
        if time.monotonic() - self.saved_at >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ..outputs import replace_file

        table = pa.Table.from_pylist([self.rows[k] for k in sorted(self.rows)])
        replace_file(self.path, lambda tmp: pq.write_table(table, tmp))
        self.saved_at = time.monotonic()

    def arrays(self, plan: Plan, budget: int) -> tuple[np.ndarray, np.ndarray]:
        """(theta, x) of the first ``budget`` draws: the draws as drawn (not rounded), the
        statistics in the plan's order, NaN where a run could not measure one."""
        indices = [k for k in sorted(self.rows) if k < budget]
        theta = draws(list(plan.params), budget, plan.seed)[indices]
        x = np.array(
            [[self.rows[k][s] for s in plan.statistics] for k in indices], np.float64
        ).reshape(len(indices), len(plan.statistics))
        return theta, x


def run_simulations(
    plan: Plan,
    folder: Path,
    budget: int,
    workers: int = 0,
    address: str | None = None,
    progress=None,
    start: int = 0,
    thetas: np.ndarray | None = None,
    cache: Cache | None = None,
) -> Cache:
    """Every draw below ``budget`` not yet in the cache (or, with ``thetas``, those
    given draws numbered from ``start``), each row saved as it comes in;
    ``progress(done, total)`` after each."""
    folder = Path(folder)
    cache = cache or Cache.open(folder, plan)
    if thetas is None:
        thetas = draws(list(plan.params), budget, plan.seed)
        start = 0
    todo = [i for i in range(len(thetas)) if not _holds(cache, plan, start + i, thetas[i])]
    runs = str(folder / RUNS)
    tasks = [(plan, start + i, thetas[i], runs) for i in todo]
    done_before = len(thetas) - len(todo)
    if progress is not None:
        progress(done_before, len(thetas))

    def step(done: int, total: int) -> None:
        if progress is not None:
            progress(done_before + done, len(thetas))

    try:
        if address is not None:
            _run_on_ray(tasks, address, cache, step)
        else:
            from ..experiments.pool import run_tasks

            run_tasks(simulate, tasks, workers, step, on_result=lambda k, row: cache.add(row))
    finally:  # Ctrl-C, a failed run or the end: what came in is kept
        if tasks:
            cache.save()
    shutil.rmtree(folder / RUNS, ignore_errors=True)
    return cache


def _floats(row: dict) -> dict:
    """A cached row with missing statistics as NaN (parquet keeps NaN; None is a
    defence against a file written otherwise)."""
    return {k: (np.nan if v is None else v) for k, v in row.items()}


def _holds(cache: Cache, plan: Plan, index: int, theta) -> bool:
    """Whether the cache holds draw ``index`` run with ``theta`` (a resumed predictive
    check whose posterior came out otherwise runs its draws again)."""
    row = cache.rows.get(index)
    if row is None:
        return False
    return all(
        np.isclose(row[p.key], p.value(x), rtol=1e-9, atol=0.0)
        for p, x in zip(plan.params, theta, strict=True)
    )


def _run_on_ray(tasks, address: str, cache: Cache, step) -> None:
    from ..experiments.ray_tasks import run_on_ray

    done = 0

    def keep(_index: int, row) -> None:
        nonlocal done
        cache.add(row)
        done += 1
        step(done, len(tasks))

    run_on_ray(simulate, tasks, keep, address=address, failed=lambda i: "a simulation")
