"""CICERO's strength versus human-likeness trade-off (Meta FAIR, Science 2022; MODELS.md
section 4), for election candidates on the platform.

The first candidate of a race (by user id) plays one arm; the second is scripted,
except in the last arm. Arms:

* ``scripted``: both candidates scripted (the baseline the others are compared with);
* ``anchor``: the first plays the anchor tau alone (no rollouts: pi = tau);
* ``pikl_0.001``, ``pikl_0.01``, ``pikl_0.1``, ``pikl_1``: piKL with that lambda;
* ``argmax``: a pure argmax planner (lambda 1e-9: the best rollout; intents whose Q ties
  exactly, such as two that write the same message stance, are chosen between by tau);
* ``both_pikl``: both candidates plan with piKL at lambda 0.01.

Every arm of a seed starts from the same world (the scenario with that seed), so the
paired difference from ``scripted`` per seed removes the world's own luck. The random
numbers are common only up to the first decision: a planner draws from the candidates'
stream (its rollout seeds and its choice), which the scripted rival uses too, so the
rival's later draws differ between arms.

Outputs (``write_outputs``):

* ``results.csv``: one row per (arm, seed) with ``vote_share`` (the first candidate's share
  on the last election day), ``kl_to_anchor`` (mean KL(pi || tau) of its decisions, in
  nats; 0 for scripted and anchor), ``drift`` (|position at the end - at the start|),
  ``opponent_share``, ``decisions`` and ``messages_filtered`` (what the message filters
  dropped, with a text backend).
* ``summary.csv``: per arm, the mean vote share with its 95% t-interval, the paired
  difference from ``scripted`` with its 95% interval, mean KL and drift.
* ``answers.json``: does a moderate-lambda piKL candidate beat the scripted one beyond
  seed noise (the paired interval above 0); does KL fall monotonically as lambda grows;
  is argmax the strongest and the least anchor-like; and the settings.
* ``tradeoff.png``: the vote share gained over ``scripted`` in the same worlds against
  KL to the anchor, one point per arm with its paired 95% interval; ``vote_share.png``:
  vote share per arm with the scripted baseline.

The planners write their posts as filtered messages with the offline text backend
(``messages_filtered`` counts the drafts the filters dropped); the world reads stances,
not words, so the messages change no vote.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..outputs import replace_file, replace_text
from .pool import run_tasks
from .tables import mean_interval, write_rows

LAMBDAS = (0.001, 0.01, 0.1, 1.0)
PIKL_ARMS = tuple(f"pikl_{lam:g}" for lam in LAMBDAS)
ARMS: tuple[str, ...] = ("scripted", "anchor", *PIKL_ARMS, "argmax", "both_pikl")
ARGMAX_LAMBDA = 1e-9
BOTH_LAMBDA = 0.01
COLUMNS = (
    "arm",
    "seed",
    "vote_share",
    "kl_to_anchor",
    "drift",
    "opponent_share",
    "decisions",
    "messages_filtered",
)


@dataclass(frozen=True)
class Settings:
    seeds: int = 10
    seed: int = 0  # base seed: seeds seed, seed + 1, ...
    workers: int = 0  # 0: all cores
    scenario: str = "candidate_env"
    users: int | None = None  # None: the scenario's
    horizon: int = 10
    rollouts: int = 8
    plan_every: int = 5
    messages: bool = True  # planners write filtered offline messages (counted per arm)

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"seeds": 3, "users": 500, "horizon": 5, "rollouts": 2, **kw})


def arm_overrides(arm: str, s: Settings) -> list[str]:
    """The scenario lines that make an arm (the anchor arm replaces the policy after
    building: it is not a policy line)."""
    out = [] if s.users is None else [f"users={s.users}"]
    if arm == "scripted":
        return out
    lam = {"argmax": ARGMAX_LAMBDA, "both_pikl": BOTH_LAMBDA, "anchor": 1.0}.get(arm)
    if lam is None:
        lam = float(arm.split("_", 1)[1])
    return out + [
        "roles.candidate.policy=planner",
        f"roles.candidate.lambda={lam!r}",
        f"roles.candidate.horizon={s.horizon}",
        f"roles.candidate.rollouts={s.rollouts}",
        f"roles.candidate.plan_every={s.plan_every}",
        f"roles.candidate.planners={2 if arm == 'both_pikl' else 1}",
    ]


def run_task(args: tuple[str, int, Settings]) -> dict:
    """One (arm, seed): the race run to its end."""
    from ..build import build_world
    from ..config import load_scenario
    from ..policies.planner import anchor_only, kl
    from ..world.population import Role

    arm, seed, s = args
    sc = load_scenario(s.scenario, arm_overrides(arm, s) + [f"seed={seed}"])
    if not sc.election.days:
        raise ValueError(f"{s.scenario}: holds no election day")
    world, sc = build_world(sc)
    if arm == "anchor":
        anchor_only(world.policies[Role.CANDIDATE])
    layer = None
    if s.messages and arm != "scripted":
        # the planners write their posts as filtered messages (offline text, no model;
        # only the planners' drafts are generated, in memory)
        from ..build import give_text_to_policies
        from ..config import TextConfig
        from ..text.layer import TextLayer

        layer = TextLayer(TextConfig(backend="offline", cache=":memory:"), ".", seed)
        give_text_to_policies(world, layer)
    first = int(world.election.candidates[0])
    start = float(world.population.opinion[first, 0])
    kls, vote = [], None
    for _ in range(sc.steps):
        events = world.step()
        for plan in events.plans:
            if int(plan["candidate"][0]) == first:
                kls.append(float(kl(plan["pi"], plan["tau"])))
        if events.election is not None and events.election.vote is not None:
            vote = events.election.vote
    if layer is not None:
        layer.close()
    if vote is None:
        raise ValueError(f"{s.scenario}: no election day within its steps")
    metrics = world.policies[Role.CANDIDATE]
    counts = getattr(metrics, "message_counts", {})
    return {
        "arm": arm,
        "seed": seed,
        "vote_share": float(vote.share[0]),
        "kl_to_anchor": float(np.mean(kls)) if kls else 0.0,
        "drift": abs(float(world.population.opinion[first, 0]) - start),
        "opponent_share": float(vote.share[1]) if vote.share.size > 1 else math.nan,
        "decisions": len(kls),
        "messages_filtered": int(sum(counts.get(k, 0) for k in ("garbled", "stance", "duplicate"))),
    }


def run_arms(s: Settings, progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Every arm on every seed, in (arm order, seed) order; ``progress(done, total)``."""
    tasks = [(arm, seed, s) for arm in ARMS for seed in range(s.seed, s.seed + s.seeds)]
    return run_tasks(run_task, tasks, s.workers, progress)


def summary_table(rows: list[dict]) -> list[dict]:
    """Per arm: vote share (mean, 95% CI), the paired difference from scripted (mean, 95%
    CI), KL to the anchor and drift (means)."""
    by_arm: dict[str, dict[int, dict]] = {}
    for row in rows:
        by_arm.setdefault(row["arm"], {})[int(row["seed"])] = row
    base = by_arm.get("scripted", {})
    table = []
    for arm in [a for a in ARMS if a in by_arm] + [a for a in by_arm if a not in ARMS]:
        seeds = sorted(by_arm[arm])
        share = np.array([by_arm[arm][k]["vote_share"] for k in seeds], float)
        mean, low, high = mean_interval(share)
        paired = [k for k in seeds if k in base]
        diff = np.array([by_arm[arm][k]["vote_share"] - base[k]["vote_share"] for k in paired])
        d_mean, d_low, d_high = mean_interval(diff) if diff.size else (math.nan,) * 3
        table.append(
            {
                "arm": arm,
                "seeds": len(seeds),
                "vote_share": mean,
                "ci_low": low,
                "ci_high": high,
                "vs_scripted": d_mean,
                "vs_ci_low": d_low,
                "vs_ci_high": d_high,
                "kl_to_anchor": float(np.mean([by_arm[arm][k]["kl_to_anchor"] for k in seeds])),
                "drift": float(np.mean([by_arm[arm][k]["drift"] for k in seeds])),
            }
        )
    return table


def answers(table: list[dict]) -> dict:
    """The CICERO questions, answered from the summary (None where an arm is missing)."""
    by = {r["arm"]: r for r in table}
    out: dict = {}
    moderate = [by[a] for a in ("pikl_0.01", "pikl_0.1") if a in by]
    best = max(moderate, key=lambda r: r["vs_scripted"]) if moderate else None
    out["best_moderate_arm"] = best["arm"] if best else None
    out["best_moderate_vs_scripted"] = best["vs_scripted"] if best else None
    out["moderate_beats_scripted_beyond_noise"] = (
        bool(best["vs_ci_low"] > 0) if best and not math.isnan(best["vs_ci_low"]) else None
    )
    kls = [by[a]["kl_to_anchor"] for a in PIKL_ARMS if a in by]
    out["kl_by_lambda"] = {a: by[a]["kl_to_anchor"] for a in PIKL_ARMS if a in by}
    out["kl_falls_as_lambda_grows"] = (
        all(x > y for x, y in zip(kls, kls[1:], strict=False)) if len(kls) > 1 else None
    )
    planners = [by[a] for a in (*PIKL_ARMS, "argmax") if a in by]
    if "argmax" in by and planners:
        strongest = max(planners, key=lambda r: r["vote_share"])["arm"]
        least_like = max(planners, key=lambda r: r["kl_to_anchor"])["arm"]
        out["strongest_planner"] = strongest
        out["least_anchor_like_planner"] = least_like
        out["argmax_strongest_and_least_anchor_like"] = strongest == least_like == "argmax"
    out["vote_share"] = {r["arm"]: r["vote_share"] for r in table}
    return out


def write_outputs(out: Path, rows: list[dict], table: list[dict], ans: dict, s: Settings):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    paths = {
        "results": write_rows(out / "results.csv", COLUMNS, rows),
        "summary": write_rows(out / "summary.csv", list(table[0]) if table else ["arm"], table),
        "answers": replace_text(
            out / "answers.json",
            json.dumps({**ans, "settings": asdict(s)}, indent=2, default=_json_default) + "\n",
        ),
        "tradeoff": plot_tradeoff(table, out / "tradeoff.png"),
        "vote_share": plot_vote_share(table, out / "vote_share.png"),
    }
    return paths


def _json_default(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(type(value))


def plot_tradeoff(table: list[dict], path: Path) -> Path:
    """Strength (vote share over the scripted candidate's in the same worlds) against
    human-likeness (KL to the anchor), one point per arm with its paired 95% interval."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.8), dpi=110)
    ax = fig.add_subplot()
    for k, r in enumerate(table):
        y = r["vs_scripted"]
        err = None
        if not math.isnan(r["vs_ci_low"]):
            err = [[y - r["vs_ci_low"]], [r["vs_ci_high"] - y]]
        ax.errorbar(
            r["kl_to_anchor"],
            y,
            yerr=err,
            fmt="o",
            color=f"C{k % 10}",
            capsize=3,
            label=r["arm"],
        )
    ax.set_xscale("symlog", linthresh=0.01)
    ax.axhline(0.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("KL(pi || tau) per decision, nats (0: plays like the anchor)")
    ax.set_ylabel("vote share minus the scripted candidate's\n(same worlds; 95% CI over seeds)")
    ax.set_title("strength versus human-likeness (piKL, as in CICERO)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def plot_vote_share(table: list[dict], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2), dpi=110)
    ax = fig.add_subplot()
    x = np.arange(len(table))
    for i, r in enumerate(table):
        err = [[r["vote_share"] - r["ci_low"]], [r["ci_high"] - r["vote_share"]]]
        if math.isnan(r["ci_low"]):
            err = None
        ax.errorbar(i, r["vote_share"], yerr=err, fmt="o", color="C0", capsize=4)
    base = [r["vote_share"] for r in table if r["arm"] == "scripted"]
    if base:
        ax.axhline(base[0], color="C3", linestyle=":", label="scripted")
        ax.legend(fontsize=8)
    ax.set_xticks(x, [r["arm"] for r in table], rotation=20)
    ax.set_ylabel("first candidate's vote share (95% CI)")
    ax.set_title("vote share per arm, same worlds per seed", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def display_table(table: list[dict]):
    from rich.table import Table

    out = Table(title="the first candidate's vote share on election day")
    for col in ("arm", "vote share", "95% CI", "vs scripted", "95% CI ", "KL to anchor", "drift"):
        out.add_column(col, justify="left" if col == "arm" else "right")

    def interval(lo, hi):
        return "-" if math.isnan(lo) else f"{lo:.3f} to {hi:.3f}"

    for r in table:
        out.add_row(
            r["arm"],
            f"{r['vote_share']:.3f}",
            interval(r["ci_low"], r["ci_high"]),
            f"{r['vs_scripted']:+.3f}",
            interval(r["vs_ci_low"], r["vs_ci_high"]),
            f"{r['kl_to_anchor']:.3f}",
            f"{r['drift']:.3f}",
        )
    return out


def display_lines(ans: dict) -> list[str]:
    beyond = ans.get("moderate_beats_scripted_beyond_noise")
    lines = [
        f"best moderate piKL arm {ans.get('best_moderate_arm')}: "
        f"{(ans.get('best_moderate_vs_scripted') or 0):+.3f} vote share against scripted, "
        + ("beyond seed noise" if beyond else "not beyond seed noise"),
        "KL to the anchor falls as lambda grows: "
        + {True: "yes", False: "no", None: "-"}[ans.get("kl_falls_as_lambda_grows")],
    ]
    if "strongest_planner" in ans:
        lines.append(
            f"strongest planner {ans['strongest_planner']}, least anchor-like "
            f"{ans['least_anchor_like_planner']}"
        )
    return lines
