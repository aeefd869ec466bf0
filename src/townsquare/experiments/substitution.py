"""Does a trained policy do better than the scripted one it replaces?

`substitution` runs a scenario twice per seed — the role scripted, then the role's policy
line set to the checkpoint — on the same world (same seed), and compares what the role
is after: its reward (`LearnerRole.reward`: followers gained for the influencer, the net
feedback on its posts for the citizen), summed over the run for every user of the role
and averaged over them. Both runs are scored the same way, by the role module, from the
world's events. Seeds pair the runs, so the effect is the mean paired difference, with a
95% t-interval and Cohen's d_z (mean difference / its std).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from ..build import build_world
from ..config import Scenario, validate
from ..errors import UserError
from ..roles import LearnerRole, RewardContext, make_role


@dataclass
class SeedResult:
    seed: int
    scripted: float  # mean return of the role's users over the run, scripted
    learned: float  # the same with the checkpoint


@dataclass
class Effect:
    role: str
    measure: str  # what the return counts (the role's `reward_label`)
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

    def display_table(self):
        """Per seed, scripted against learned, as a rich table."""
        from rich.table import Table

        table = Table(title=f"{self.measure} per {self.role} over the run (mean)")
        for col in ("seed", "scripted", "learned", "learned − scripted"):
            table.add_column(col, justify="right")
        for r in self.per_seed:
            table.add_row(
                str(r.seed),
                f"{r.scripted:.2f}",
                f"{r.learned:.2f}",
                f"{r.learned - r.scripted:+.2f}",
            )
        return table

    def summary_line(self) -> str:
        return (
            f"{self.measure}: learned {self.learned_mean:.2f} vs scripted "
            f"{self.scripted_mean:.2f}: difference {self.difference:+.2f} (95% CI "
            f"{self.ci_low:+.2f} to {self.ci_high:+.2f}), Cohen's d_z {self.cohens_dz:.2f}, "
            f"learned ahead on {self.wins} of {len(self.seeds)} seeds"
        )


def mean_return(sc: Scenario, role: LearnerRole) -> float:
    """Run ``sc`` and score every user of ``role`` by the role's reward, step by step;
    the mean over them of the sum over the run."""
    world, _ = build_world(sc)
    users = world.population.ids_of(role.world_role)
    if users.size == 0:
        raise UserError(f"{sc.name}: the scenario has no {role.name} users to compare")
    scorer = role.new_memory(world.n)
    role.begin_scoring(users, world, scorer)
    total = np.zeros(users.size)
    for _ in range(sc.steps):
        step = world.t
        events = world.step()
        total += role.reward(RewardContext(users, scorer, events, world, step))
    return float(total.mean())


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


def variant(scenario: Scenario, role_name: str, policy: str, seed: int) -> Scenario:
    """``scenario`` at ``seed`` with the role's policy line set to ``policy``, recording
    no events and writing no text (neither changes a reward)."""
    data = scenario.model_dump(mode="json")
    data["record"] = {**data["record"], "events": "none"}
    data["text"] = {**data["text"], "backend": "none"}
    data["seed"] = seed
    data["roles"] = {**data["roles"]}
    data["roles"][role_name] = {**data["roles"][role_name], "policy": policy}
    return validate(data, "scenario")


def check(scenario: Scenario, checkpoint: str, role_name: str) -> None:
    """Both runs' scenarios are valid and have users of the role (a `UserError` naming
    what is wrong otherwise)."""
    if role_name == "candidate":
        # a policy line drives every candidate, and candidates share one electorate: with
        # all of them on the checkpoint their mean vote share is 1 / candidates either way
        raise UserError(
            "evaluate: a checkpoint on the candidates' line drives every candidate, whose "
            "vote shares then average 1 / candidates whatever it does; compare one "
            "candidate against a scripted rival in townsquare/Candidate-v0 or with "
            "`townsquare reproduce cicero2022`"
        )
    for policy in ("scripted", checkpoint):
        variant(scenario, role_name, policy, scenario.seed)
    world, _ = build_world(variant(scenario, role_name, "scripted", scenario.seed))
    if world.population.ids_of(make_role(role_name).world_role).size == 0:
        raise UserError(f"{scenario.name}: the scenario has no {role_name} users to compare")


def substitution(
    scenario: Scenario,
    checkpoint: str,
    role_name: str,
    seeds: list[int],
    progress: Callable[[int, int], None] | None = None,
) -> Effect:
    """Scripted versus checkpoint for ``role_name`` in ``scenario`` over ``seeds``."""
    role = make_role(role_name)  # scoring only: the reward does not depend on the spaces
    check(scenario, checkpoint, role_name)  # a conflict is said before the first run
    results = []
    for i, seed in enumerate(seeds):
        runs = [
            mean_return(variant(scenario, role_name, p, seed), role)
            for p in ("scripted", checkpoint)
        ]
        results.append(SeedResult(seed, runs[0], runs[1]))
        if progress is not None:
            progress(i + 1, len(seeds))
    a = np.array([r.scripted for r in results])
    b = np.array([r.learned for r in results])
    diff, lo, hi, dz = paired_effect(a, b)
    return Effect(
        role=role_name,
        measure=role.reward_label,
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
