"""Does a trained policy do better than the scripted one it replaces?

`substitution` runs a scenario twice per seed — the role scripted, then the role's policy
line set to the checkpoint — on the same world (same seed), and compares the role's mean
follower count at the end. Seeds pair the runs, so the effect is the mean paired
difference, with a 95% t-interval and Cohen's d_z (mean difference / its std).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from ..build import build_world
from ..config import Scenario, validate
from ..world.population import Role


@dataclass
class SeedResult:
    seed: int
    scripted: float  # mean followers of the role's users at the end, scripted
    learned: float  # the same with the checkpoint
    scripted_gain: float  # mean followers gained over the run
    learned_gain: float


@dataclass
class Effect:
    role: str
    checkpoint: str
    scenario: str
    steps: int
    seeds: list[int]
    scripted_mean: float
    learned_mean: float
    difference: float
    ci_low: float
    ci_high: float
    cohens_dz: float
    wins: int
    per_seed: list[SeedResult]

    def as_dict(self) -> dict:
        return asdict(self)


def _followers(sc: Scenario, role: Role) -> tuple[float, float]:
    world, _ = build_world(sc)
    users = world.population.ids_of(role)
    if users.size == 0:
        raise ValueError(f"the scenario has no {role.label} users")
    start = world.graph.in_deg[users].astype(float)
    for _ in range(sc.steps):
        world.step()
    end = world.graph.in_deg[users].astype(float)
    return float(end.mean()), float((end - start).mean())


def paired_effect(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """Mean of b - a, its 95% t-interval, and Cohen's d_z (NaN when undefined)."""
    d = np.asarray(b, float) - np.asarray(a, float)
    mean = float(d.mean())
    if d.size < 2:
        return mean, float("nan"), float("nan"), float("nan")
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return mean, mean, mean, float("inf") if mean else float("nan")
    half = float(stats.t.ppf(0.975, d.size - 1)) * sd / np.sqrt(d.size)
    return mean, mean - half, mean + half, mean / sd


def substitution(
    scenario: Scenario,
    checkpoint: str,
    role_name: str,
    seeds: list[int],
    progress: Callable[[int, int], None] | None = None,
) -> Effect:
    """Scripted versus checkpoint for ``role_name`` in ``scenario`` over ``seeds``."""
    role = Role[role_name.upper()]
    base = scenario.model_dump(mode="json")
    base["record"] = {**base["record"], "events": "none"}
    base["text"] = {**base["text"], "backend": "none"}  # text does not change who follows
    results = []
    for i, seed in enumerate(seeds):
        runs = []
        for policy in ("scripted", checkpoint):
            data = {**base, "seed": seed}
            data["roles"] = {**base["roles"]}
            data["roles"][role_name] = {**base["roles"][role_name], "policy": policy}
            runs.append(_followers(validate(data, "scenario"), role))
        results.append(SeedResult(seed, runs[0][0], runs[1][0], runs[0][1], runs[1][1]))
        if progress is not None:
            progress(i + 1, len(seeds))
    a = np.array([r.scripted for r in results])
    b = np.array([r.learned for r in results])
    diff, lo, hi, dz = paired_effect(a, b)
    return Effect(
        role=role_name,
        checkpoint=str(checkpoint),
        scenario=scenario.name,
        steps=scenario.steps,
        seeds=list(seeds),
        scripted_mean=float(a.mean()),
        learned_mean=float(b.mean()),
        difference=diff,
        ci_low=lo,
        ci_high=hi,
        cohens_dz=dz,
        wins=int((b > a).sum()),
        per_seed=results,
    )
