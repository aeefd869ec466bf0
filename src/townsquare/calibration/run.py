"""``townsquare calibrate``: check the inputs, simulate, infer, write (docs/calibration.md).

The output folder holds ``calibration.json`` (what was asked: scenario, ``--set``,
parameters, target, statistics, method, seed), so a second call with the same settings
resumes from the cached simulations (a larger ``--budget`` adds to them), and a call
with other settings is refused rather than mixing two calibrations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import infer
from .params import Param, check_params
from .simulate import Cache, Plan, run_simulations
from .target import Target, read_target

SETTINGS_FILE = "calibration.json"
PREDICTIVE_CACHE = "predictive.parquet"
#: runs drawn from the posterior for the predictive check
PREDICTIVE_RUNS = 100
#: Optuna's distance counts a statistic a run could not measure as this many scales off
#: (stated reason: farther than any measured run of the budgets here, about 10 at most)
UNMEASURED = 10.0
MAX_BUDGET = 1_000_000


@dataclass(frozen=True)
class Settings:
    scenario: str
    target: str
    params: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    budget: int = 1000
    method: str = "npe"
    workers: int = 0
    address: str | None = None
    seed: int = 0
    predictive: int = PREDICTIVE_RUNS
    data: str | None = None


@dataclass
class Result:
    params: list[Param]
    target: Target
    statistics: list[str]  # those the inference used
    summary: list[dict]
    predictive: list[dict]
    files: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)


def prepare(s: Settings) -> tuple[list[Param], Target, Plan]:
    """Every input checked (one `UserError` for the first that is wrong)."""
    if s.method not in infer.METHODS:
        raise UserError(f"--method {s.method}: one of {', '.join(infer.METHODS)}")
    if not 1 <= s.budget <= MAX_BUDGET:
        raise UserError(f"--budget {s.budget}: 1 to {MAX_BUDGET:,} simulations")
    if not 0 <= s.predictive <= 100_000:
        raise UserError(f"--predictive {s.predictive}: 0 to 100,000 runs")
    params = check_params(s.scenario, list(s.overrides), list(s.params))
    target = read_target(s.target, s.data)
    plan = Plan(s.scenario, tuple(s.overrides), tuple(params), tuple(target.statistics), s.seed)
    return params, target, plan


def _asked(s: Settings, plan: Plan) -> dict:
    """What decides the cached simulations: the scenario as resolved (a hash of it, so an
    edited file or a changed built-in is seen), the parameters (in any order), the
    target's statistics, the seed, and whether the prior (npe, abc) or Optuna drew."""
    import hashlib

    from ..config import load_scenario

    resolved = load_scenario(s.scenario, list(s.overrides)).resolved_yaml()
    described = plan.describe()
    described["params"] = sorted(described["params"])
    target = Path(s.target)
    return {
        **described,
        "scenario_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
        "target": str(target.resolve()) if target.exists() else s.target,
        "draws": "optuna" if s.method == "optuna" else "prior",
    }


def _claim(folder: Path, s: Settings, plan: Plan) -> int:
    """Make ``folder`` this calibration's, or check that it is already (resuming);
    returns the descriptor of the lock held on it until the process ends."""
    import fcntl
    import os

    from ..outputs import claim_reproduce_folder, replace_text

    asked = _asked(s, plan)
    path = folder / SETTINGS_FILE
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except (OSError, ValueError):
            raise UserError(f"{path}: damaged; choose another --out") from None
        if before != asked:
            changed = sorted(k for k in asked if before.get(k) != asked[k])
            raise UserError(
                f"{folder}: holds a calibration with other settings ({', '.join(changed)}); "
                "choose another --out"
            )
    claim_reproduce_folder(folder, "calibrate")
    fd = os.open(folder / SETTINGS_FILE.replace(".json", ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(
            f"{folder}: another townsquare calibrate is using this folder; wait for it"
        ) from None
    replace_text(path, json.dumps(asked, indent=2) + "\n")
    return fd


def calibrate(
    s: Settings,
    out: Path,
    progress: Callable[[str, int, int], None] | None = None,
    prepared: tuple[list[Param], Target, Plan] | None = None,
):
    """Run the calibration into ``out``; ``progress(stage, done, total)`` as it goes;
    ``prepared``: what `prepare` gave for ``s``, if it was called already."""

    out = Path(out)
    params, target, plan = prepared or prepare(s)
    lock = _claim(out, s, plan)
    try:
        return _calibrate(s, out, progress, params, target, plan)
    finally:
        import os

        os.close(lock)  # closing the file releases its lock


def _calibrate(s: Settings, out: Path, progress, params, target, plan) -> Result:
    from . import outputs

    def tell(stage: str):
        return (lambda d, t: progress(stage, d, t)) if progress else None

    seconds = {}
    started = time.perf_counter()
    x_o_all = np.array([target.values[k] for k in plan.statistics])
    if s.method == "optuna":
        samples, statistics = optuna_search(plan, out, s, x_o_all, tell("simulations"))
    else:
        cache = run_simulations(plan, out, s.budget, s.workers, s.address, tell("simulations"))
        theta, x = cache.arrays(plan, s.budget)
        theta, x, statistics = infer.usable(theta, x, list(plan.statistics))
        x_o = np.array([target.values[k] for k in statistics])
        seconds["simulations"] = time.perf_counter() - started
        if s.method == "npe":
            samples = infer.npe(theta, x, x_o, params, seed=s.seed)
        else:
            samples, _ = infer.abc(theta, x, x_o)
    seconds["inference"] = time.perf_counter() - started - seconds.get("simulations", 0.0)
    summary = infer.summarise(samples, params)
    files = {
        "posterior": outputs.write_posterior(out / "posterior.parquet", samples, params),
        "calibrated": _write_calibrated(out, s, summary),
        "pairplot": outputs.pair_plot(out / "pairplot.png", samples, params),
    }
    predictive: list[dict] = []
    if s.predictive > 0:
        t0 = time.perf_counter()
        rng = np.random.default_rng([s.seed, 7])
        picks = samples[rng.integers(len(samples), size=s.predictive)]
        pred = Cache.open(out, plan, PREDICTIVE_CACHE)
        run_simulations(
            plan, out, s.predictive, s.workers, s.address, tell("predictive check"),
            thetas=picks, cache=pred,
        )  # fmt: skip
        x_pred = np.array(
            [[pred.rows[k][st] for st in plan.statistics] for k in range(s.predictive)]
        ).reshape(s.predictive, len(plan.statistics))
        predictive = outputs.predictive_rows(list(plan.statistics), x_o_all, x_pred, statistics)
        files["predictive"] = outputs.predictive_html(
            out / "predictive.html", predictive, x_pred, list(plan.statistics),
            f"posterior predictive check: {s.scenario} against {s.target} ({s.method})",
        )  # fmt: skip
        seconds["predictive"] = time.perf_counter() - t0
    result = Result(params, target, statistics, summary, predictive, files, seconds)
    files["summary"] = _write_summary(out, s, result)
    return result


def _write_calibrated(out: Path, s: Settings, summary: list[dict]) -> Path:
    from ..outputs import replace_text
    from .outputs import calibrated_yaml

    text = calibrated_yaml(s.scenario, list(s.overrides), summary, s.method, s.target)
    return replace_text(out / "calibrated.yaml", text)


def _write_summary(out: Path, s: Settings, r: Result) -> Path:
    from ..metrics.realism import finite_json
    from ..outputs import replace_text

    doc = {
        "scenario": s.scenario,
        "target": s.target,
        "target_kind": r.target.kind,
        "target_statistics": r.target.values,
        "statistics_used": r.statistics,
        "method": s.method,
        "budget": s.budget,
        "parameters": r.summary,
        "predictive": r.predictive,
        "predictive_inside": sum(bool(p["inside"]) for p in r.predictive),
        "predictive_inside_fitted": sum(bool(p["inside"]) for p in r.predictive if p["fitted"]),
        "predictive_fitted": sum(p["fitted"] for p in r.predictive),
        "seconds": r.seconds,
    }
    return replace_text(out / "summary.json", json.dumps(finite_json(doc), indent=2) + "\n")


def optuna_search(plan: Plan, out: Path, s: Settings, x_o: np.ndarray, progress):
    """Optuna's TPE over the prior's box, ``s.budget`` simulations in batches of the
    workers, minimising the distance of the statistics to the target's, each scaled by
    the target's own size (at least 0.05: statistics are shares and exponents of order
    one). Returns (the best draw as one sample, the statistics used)."""
    import os

    try:
        import optuna
    except ImportError as exc:
        raise UserError(
            "--method optuna needs the calibrate extra (pip install -c constraints.txt -e "
            f"'.[calibrate]'; missing {exc.name})"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = list(plan.params)
    scale = np.maximum(np.abs(x_o), 0.05)
    dists = {
        p.key: optuna.distributions.IntDistribution(*p.whole_range)
        if p.integer
        else optuna.distributions.FloatDistribution(p.low, p.high)
        for p in params
    }
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=plan.seed))
    cache = Cache.open(out, plan)

    def distance(row) -> float:
        # a statistic a run could not measure counts as far off (`UNMEASURED`), so that a
        # run measuring less does not look closer
        x = np.array([row[k] for k in plan.statistics], np.float64)
        gaps = np.where(np.isfinite(x), (x - x_o) / scale, UNMEASURED)
        return float(np.sqrt((gaps**2).sum()))

    index = 0
    while index in cache.rows and index < s.budget:  # a resumed search re-tells its trials
        row = cache.rows[index]
        study.add_trial(
            optuna.trial.create_trial(
                params={p.key: float(row[p.key]) for p in params},
                distributions=dists,
                value=distance(row),
            )
        )
        index += 1
    # the batch is the workers (all cores: the machine's count), so Optuna's proposals
    # depend on it, and a resumed search re-tells its trials to a new sampler: its points
    # are not those of an uninterrupted search (docs/calibration.md)
    batch = max(1, s.workers or os.cpu_count() or 1)
    while index < s.budget:
        trials = [study.ask(dists) for _ in range(min(batch, s.budget - index))]
        thetas = np.array([[t.params[p.key] for p in params] for t in trials])
        run_simulations(
            plan, out, s.budget, s.workers, s.address,
            (lambda d, t, i=index: progress(i + d, s.budget)) if progress else None,
            start=index, thetas=thetas,
            cache=cache,
        )  # fmt: skip
        for k, trial in enumerate(trials):
            study.tell(trial, distance(cache.rows[index + k]))
        index += len(trials)
    best = study.best_trial
    return np.array([[best.params[p.key] for p in params]]), list(plan.statistics)
