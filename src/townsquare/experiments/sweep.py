"""``townsquare sweep``: every combination of a grid of scenario values and seeds, one
run directory each, run as Ray tasks (docs/sweeps.md).

* **The grid:** ``--grid KEY=V1,V2,...`` (repeatable; the values are YAML, as in
  ``--set``), each key checked against the scenario and each value by its schema before
  anything runs; the runs are the product of the grids and the seeds.
* **Runs:** ``OUT/runs/rNNNN-sSEED/`` (``sweep.json`` maps each to its values). A run is
  exactly the one ``townsquare run SCENARIO --set KEY=V ... --seed SEED`` makes: the same
  `runner.Run`, so its ``metrics.parquet`` is byte-identical (tested).
* **Resumable:** a run whose folder holds a complete ``summary.json`` of the same
  resolved scenario is not run again; an unfinished or different one is started afresh.
* **``sweep.parquet``:** one row per run: the swept values, the seed, the run's summary
  totals, its realism metrics (`metrics.realism.measure`) and whether each lies inside its
  real band (the scorecard's verdict).
* **Ray:** a local Ray by default (``workers`` CPUs), the cluster at ``address`` if
  given.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..report.sweep import SWEEP_FILE, TABLE
from .ray_tasks import run_on_ray

#: the summary totals a row keeps
TOTALS = ("posts", "replies", "reposts", "likes", "follows", "unfollows", "suspensions")
MAX_RUNS = 10_000


@dataclass(frozen=True)
class Plan:
    scenario: str
    overrides: tuple[str, ...]
    grid: tuple[tuple[str, tuple[str, ...]], ...]  # (key, values as given)
    seeds: tuple[int, ...]

    def runs(self) -> list[dict]:
        """Every (values, seed) of the sweep, each with its folder name, in a fixed
        order: the grid's product (first key slowest), then the seeds."""
        keys = [k for k, _ in self.grid]
        out = []
        combos = list(itertools.product(*(v for _, v in self.grid)))
        for i, values in enumerate(combos):
            for seed in self.seeds:
                out.append(
                    {
                        "name": f"r{i:04d}-s{seed}",
                        "values": dict(zip(keys, values, strict=True)),
                        "seed": seed,
                    }
                )
        return out

    def describe(self) -> dict:
        return {
            "scenario": self.scenario,
            "overrides": list(self.overrides),
            "grid": {k: list(v) for k, v in self.grid},
            "seeds": list(self.seeds),
        }


def parse_grid(text: str) -> tuple[str, tuple[str, ...]]:
    """``KEY=V1,V2,...`` -> (key, values); a `UserError` saying what is wrong."""
    if "=" not in text:
        raise UserError(f"--grid {text!r}: expected KEY=V1,V2,..., e.g. opinion.epsilon=0.2,0.4")
    key, raw = text.split("=", 1)
    key = key.strip()
    values = tuple(v.strip() for v in raw.split(","))
    if not key or not all(values):
        raise UserError(f"--grid {text!r}: expected KEY=V1,V2,... with no empty value")
    if len(set(values)) != len(values):
        raise UserError(f"--grid {key}: a value is given twice")
    return key, values


def check_plan(scenario: str, overrides: list[str], grids: list[str], seeds: list[int]) -> Plan:
    """A checked sweep: every key exists, every value is one the scenario takes; the
    first that is not is a `UserError` naming it."""
    from ..config import load_scenario, scenario_value

    if not grids:
        raise UserError(
            "--grid: name at least one key to sweep, e.g. --grid opinion.epsilon=0.2,0.4"
        )
    base = load_scenario(scenario, overrides)
    grid, seen = [], set()
    for text in grids:
        key, values = parse_grid(text)
        if key in seen:
            raise UserError(f"--grid {key}: given twice")
        seen.add(key)
        if key == "seed":
            raise UserError("--grid seed: sweep seeds with --seeds")
        scenario_value(base, key, "--grid")
        for value in values:
            try:
                load_scenario(scenario, [*overrides, f"{key}={value}"])
            except UserError as exc:
                raise UserError(f"--grid {key}: the scenario refuses {value}: {exc}") from None
        grid.append((key, values))
    plan = Plan(scenario, tuple(overrides), tuple(grid), tuple(seeds))
    count = len(plan.runs())
    if count > MAX_RUNS:
        raise UserError(f"the sweep holds {count:,} runs; at most {MAX_RUNS:,}")
    if len(grid) > 1:  # values each fine alone may not be together
        for values in itertools.product(*(v for _, v in grid)):
            pairs = [f"{k}={v}" for (k, _), v in zip(grid, values, strict=True)]
            try:
                load_scenario(scenario, [*overrides, *pairs])
            except UserError as exc:
                raise UserError(f"--grid: the scenario refuses {' '.join(pairs)}: {exc}") from None
    return plan


def read_plan(folder: Path) -> dict | None:
    """The settings of the sweep a folder holds (its ``sweep.json``), None if none."""
    try:
        doc = json.loads((Path(folder) / SWEEP_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    return {k: doc.get(k) for k in ("scenario", "overrides", "grid", "seeds")}


def _complete(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / "summary.json").read_text()).get("complete"))
    except (OSError, ValueError, AttributeError):
        return False


def _holds(folder: Path, scenario) -> bool:
    """Whether the finished run in ``folder`` is of this very scenario (a scenario file
    edited since is run again)."""
    try:
        return (folder / "config.yaml").read_text() == scenario.resolved_yaml()
    except OSError:
        return False


def run_one(task: tuple[Plan, dict, str]) -> dict:
    """One run of the sweep (or its finished folder): its row of ``sweep.parquet``."""
    from ..config import load_scenario
    from ..metrics.realism import measure_run, scorecard
    from ..runner import Run

    plan, run, root = task
    folder = Path(root) / run["name"]
    keys = [*plan.overrides, *(f"{k}={v}" for k, v in run["values"].items())]
    sc = load_scenario(plan.scenario, [*keys, f"seed={run['seed']}"])
    if not (_complete(folder) and _holds(folder, sc)):
        Run.start(sc, folder, overwrite=True).execute()
    summary = json.loads((folder / "summary.json").read_text())
    row = {"run": run["name"], **{k: _value(v) for k, v in run["values"].items()}}
    row["seed"] = run["seed"]
    row.update({k: summary.get(k) for k in TOTALS})
    row["wall_s"] = summary.get("wall_s")
    measures = measure_run(folder)
    row.update({f"metric_{k}": v for k, v in measures.items()})
    # the scorecard's verdict beside each value: inside the real band or not (None: no
    # value to judge)
    row.update({f"inside_{r.metric}": r.inside for r in scorecard(measures).rows})
    return row


def _value(text: str):
    """A grid value as the scenario reads it (YAML): 0.2 a number, engagement a word."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def run_sweep(plan: Plan, out: Path, workers: int = 0, address: str | None = None, progress=None):
    """Every run of the plan as a Ray task; ``progress(done, total)``; returns the rows
    (in the plan's order) and writes ``sweep.parquet``."""
    from ..outputs import replace_text

    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    replace_text(out / SWEEP_FILE, json.dumps({**plan.describe(), "runs": plan.runs()}, indent=2))
    runs = plan.runs()
    tasks = [(plan, r, str(out / "runs")) for r in runs]
    rows: dict[str, dict] = {}
    if progress is not None:
        progress(0, len(tasks))

    def keep(index: int, row: dict) -> None:
        rows[runs[index]["name"]] = row
        if progress is not None:
            progress(len(rows), len(tasks))

    run_on_ray(
        run_one, tasks, keep, address=address, workers=workers,
        failed=lambda i: f"run {runs[i]['name']} of the sweep",
    )  # fmt: skip
    ordered = [rows[r["name"]] for r in runs]
    write_table(out / TABLE, ordered)
    return ordered


def write_table(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..outputs import replace_file

    table = pa.Table.from_pylist(rows)
    return replace_file(path, lambda tmp: pq.write_table(table, tmp))
