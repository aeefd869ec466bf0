"""Jin & Guo (arXiv 2411.19635, 2024; JASSS 28(3) 6, 2025): a Q-learning influencer.

One influencer of a small world learns with tabular Q-learning to gain followers within an
episode (50 steps, 500 users in the environment's built-in scenario; MODELS.md section 2).
The paper's finding: limiting the action space and letting the agent observe itself (its
own last stance and its follower trend) are what make the opinion-leader outcome stable.

Arms, every one played for ``episodes`` episodes on each of ``seeds`` seeds:

* ``q_limited_self``, ``q_limited_noself``, ``q_full_self``, ``q_full_noself``: `train_q`
  on `InfluencerEnv` with that action space (limited: which side to post, 3 actions; full:
  side x activity x tone, 30 actions) and with or without self-observation (54 or 6
  states);
* ``random``, ``fixed``, ``crowd``: the designed baselines (`townsquare.learn.baselines`)
  in the limited action space.

Every arm trained or played with seed ``k`` meets the same sequence of worlds (episode ``e``
is built from `episode_seed(k, e)`), so arms are compared on common random numbers. Each
(arm, seed) is one task; tasks are spread over processes and results do not depend on the
number of workers.

How to read the outputs (``write_outputs``):

* ``results.csv``: one row per (arm, seed, episode): followers at the end of the episode,
  ``gained`` (followers - followers at the start), the episode return, ``leader`` (whether
  the learner ended as the world's most-followed user) and the exploration rate epsilon
  (0 for baselines).
* ``summary.csv``: one row per arm. ``final_mean`` is the mean over seeds of each seed's
  mean followers over the last ``tail`` share of episodes (after learning has settled);
  ``ci_low`` / ``ci_high`` a 95% t-interval across seeds; ``spread`` the standard
  deviation across seeds of that per-seed value (how much the outcome depends on the run:
  the paper's "stability"); ``within_std`` the mean over seeds of the episode-to-episode
  standard deviation in the tail; ``gained_mean`` and ``leader_rate`` over the same tail
  episodes.
* ``answers.json``: the paper's questions answered with these numbers — does the best
  learner beat the best baseline (and do their 95% intervals overlap), and which Q arm is
  the most stable (lowest spread); should it be ``q_limited_self``, the finding holds —
  plus the settings used.
* ``learning_curves.png``: followers per episode (moving average), mean over seeds with a
  95% band; learners solid, baselines dashed. ``final_followers.png``: every arm's final
  followers with its 95% interval, the best baseline as a horizontal line.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ..learn.records import moving_average
from ..outputs import replace_file, replace_text
from .pool import run_tasks

Q_ARMS = ("q_limited_self", "q_limited_noself", "q_full_self", "q_full_noself")
BASELINE_ARMS = ("random", "fixed", "crowd")
ARMS: tuple[str, ...] = Q_ARMS + BASELINE_ARMS
COLUMNS = ("arm", "seed", "episode", "followers", "gained", "ret", "leader", "epsilon")


@dataclass(frozen=True)
class Settings:
    seeds: int = 10
    episodes: int = 300
    seed: int = 0  # base seed; the arm seeds are seed, seed+1, ..., seed+seeds-1
    workers: int = 0  # 0: all cores
    scenario: str | None = None  # None: the environment's built-in small scenario
    tail: float = 0.2  # final performance = mean over the last `tail` share of episodes

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"seeds": 3, "episodes": 40, **kw})


def tail_count(episodes: int, tail: float) -> int:
    """How many final episodes make up the tail: at least one, at most all."""
    return max(1, min(episodes, int(round(tail * episodes))))


def _arm_env(arm: str, scenario: str | None):
    from ..envs.influencer_v0 import InfluencerEnv

    if arm in Q_ARMS:
        _, space, obs = arm.split("_")
        return InfluencerEnv(scenario, action_space=space, self_observation=obs == "self")
    return InfluencerEnv(scenario, action_space="limited", self_observation=True)


def run_task(args: tuple[str, int, int, str | None]) -> list[dict]:
    """One (arm, seed): ``episodes`` episodes of training (Q arms) or play (baselines)."""
    from ..learn.baselines import baseline
    from ..learn.q_learning import QConfig, evaluate_choice, train_q

    arm, seed, episodes, scenario = args
    env = _arm_env(arm, scenario)
    try:
        if arm in Q_ARMS:
            _, records = train_q(env, QConfig(episodes=episodes, seed=seed))
        else:
            records = evaluate_choice(env, baseline(arm, seed=seed), episodes, seed)
    finally:
        env.close()
    return [
        {
            "arm": arm,
            "seed": seed,
            "episode": r.episode,
            "followers": int(r.end["followers"]),
            "gained": int(r.change("followers")),
            "ret": float(r.ret),
            "leader": bool(r.end["leader"]),
            "epsilon": float(r.epsilon),
        }
        for r in records
    ]


def run_arms(s: Settings, progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Every arm on every seed: the per-episode rows, sorted by (arm order, seed,
    episode); ``progress(done_tasks, total_tasks)`` after each task."""
    seeds = range(s.seed, s.seed + s.seeds)
    tasks = [(arm, seed, s.episodes, s.scenario) for arm in ARMS for seed in seeds]
    return [row for rows in run_tasks(run_task, tasks, s.workers, progress) for row in rows]


def _t_interval(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, 95% t-interval and sample std (NaN for one value) of per-seed values."""
    n = values.size
    mean = float(values.mean())
    if n < 2:
        return mean, mean, mean, math.nan
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd


def summary_table(rows: list[dict], s: Settings) -> list[dict]:
    """One dict per arm (in `ARMS` order, then any other arm in order of appearance):
    arm, seeds, final_mean, ci_low, ci_high, spread, relative_mean, relative_ci_low,
    relative_ci_high, relative_spread, within_std, gained_mean, leader_rate.

    ``relative_*`` are the same statistics of followers minus the mean over all arms of
    the same (seed, episode) — the same world — so world-to-world luck, which is shared by
    every arm, drops out: ``relative_spread`` is the across-seed spread of what the arm
    itself achieved (the paper's stability). The tail is the last ``tail_count(episodes, s.tail)`` episodes of each (arm, seed)."""
    groups: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        groups.setdefault(row["arm"], {}).setdefault(int(row["seed"]), []).append(row)
    order = [a for a in ARMS if a in groups] + [a for a in groups if a not in ARMS]
    # every arm of a seed meets the same worlds: the mean over arms of one (seed, episode)
    # is that world's effect, and followers relative to it compare arms without it
    world: dict[tuple[int, int], list[float]] = {}
    for row in rows:
        world.setdefault((int(row["seed"]), int(row["episode"])), []).append(
            float(row["followers"])
        )
    world_mean = {key: float(np.mean(v)) for key, v in world.items()}
    table = []
    for arm in order:
        finals, within, gained, leader, relative = [], [], [], [], []
        for seed in sorted(groups[arm]):
            runs = sorted(groups[arm][seed], key=lambda r: int(r["episode"]))
            tail = runs[-tail_count(len(runs), s.tail) :]
            followers = np.array([float(r["followers"]) for r in tail])
            finals.append(followers.mean())
            relative.append(
                np.mean(
                    [float(r["followers"]) - world_mean[(seed, int(r["episode"]))] for r in tail]
                )
            )
            within.append(followers.std(ddof=1) if followers.size > 1 else 0.0)
            gained.append(np.mean([float(r["gained"]) for r in tail]))
            leader.append(np.mean([_truthy(r["leader"]) for r in tail]))
        mean, low, high, spread = _t_interval(np.array(finals))
        rel, rel_low, rel_high, rel_spread = _t_interval(np.array(relative))
        table.append(
            {
                "arm": arm,
                "seeds": len(finals),
                "final_mean": mean,
                "ci_low": low,
                "ci_high": high,
                "spread": spread,
                "relative_mean": rel,
                "relative_ci_low": rel_low,
                "relative_ci_high": rel_high,
                "relative_spread": rel_spread,
                "within_std": float(np.mean(within)),
                "gained_mean": float(np.mean(gained)),
                "leader_rate": float(np.mean(leader)),
            }
        )
    return table


def _truthy(value) -> float:
    if isinstance(value, str):
        return float(value.strip().lower() in ("true", "1", "yes"))
    return float(bool(value))


def _none_if_nan(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def answers(table: list[dict]) -> dict:
    """The paper's questions, answered from `summary_table`:

    * does the best learner beat the best baseline (by final_mean), by how much, and do
      their 95% intervals overlap;
    * which Q arm is the most stable (lowest ``relative_spread`` across seeds, or
      ``spread`` for tables without it; ties go to the first in `ARMS` order) and is it
      ``q_limited_self``;
    * each Q arm's spread, within-run std and leader rate (NaN written as None)."""
    by_arm = {r["arm"]: r for r in table}
    base = [by_arm[a] for a in BASELINE_ARMS if a in by_arm]
    learners = [by_arm[a] for a in Q_ARMS if a in by_arm]
    out: dict = {}
    best_base = max(base, key=lambda r: r["final_mean"]) if base else None
    best_learn = max(learners, key=lambda r: r["final_mean"]) if learners else None
    out["best_baseline"] = best_base["arm"] if best_base else None
    out["best_baseline_final"] = best_base["final_mean"] if best_base else None
    out["best_learner"] = best_learn["arm"] if best_learn else None
    out["best_learner_final"] = best_learn["final_mean"] if best_learn else None
    if best_base and best_learn:
        out["learner_beats_best_baseline"] = bool(
            best_learn["final_mean"] > best_base["final_mean"]
        )
        out["margin"] = float(best_learn["final_mean"] - best_base["final_mean"])
        out["cis_overlap"] = bool(
            best_learn["ci_low"] <= best_base["ci_high"]
            and best_base["ci_low"] <= best_learn["ci_high"]
        )
        # with the world's luck removed (same worlds for every arm of a seed)
        rel_key = "relative_ci_low" if "relative_ci_low" in best_learn else None
        out["relative_cis_overlap"] = (
            bool(
                best_learn["relative_ci_low"] <= best_base["relative_ci_high"]
                and best_base["relative_ci_low"] <= best_learn["relative_ci_high"]
            )
            if rel_key
            else None
        )
    else:
        out["learner_beats_best_baseline"] = None
        out["margin"] = None
        out["cis_overlap"] = None
        out["relative_cis_overlap"] = None
    key = "relative_spread" if learners and "relative_spread" in learners[0] else "spread"
    ranked = [r for r in learners if not math.isnan(r[key])]
    # rounded: arms equal up to float noise tie, and ties go to the first in ARMS order
    stable = min(ranked, key=lambda r: round(r[key], 9))["arm"] if ranked else None
    out["stability_measure"] = key
    out["most_stable_arm"] = stable
    out["most_stable_is_limited_self"] = None if stable is None else stable == "q_limited_self"
    out["spread"] = {r["arm"]: _none_if_nan(r["spread"]) for r in learners}
    out["relative_spread"] = {
        r["arm"]: _none_if_nan(r.get("relative_spread", math.nan)) for r in learners
    }
    out["within_std"] = {r["arm"]: _none_if_nan(r["within_std"]) for r in learners}
    out["leader_rate"] = {r["arm"]: r["leader_rate"] for r in learners}
    return out


def _cell(value):
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def write_outputs(
    out: Path, rows: list[dict], table: list[dict], answers: dict, s: Settings
) -> dict[str, Path]:
    """results.csv, summary.csv, answers.json (with the settings) and the two plots.

    Every file is written beside its name and renamed onto it (`replace_file`): a symlink
    at an output name is replaced, never written through."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    def write_results(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def write_summary(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            fields = list(table[0]) if table else ["arm"]
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for row in table:
                writer.writerow({k: _cell(v) for k, v in row.items()})

    paths["results"] = replace_file(out / "results.csv", write_results)
    paths["summary"] = replace_file(out / "summary.csv", write_summary)
    doc = {**answers, "settings": asdict(s)}
    paths["answers"] = replace_text(out / "answers.json", json.dumps(doc, indent=2) + "\n")
    paths["learning_curves"] = plot_learning_curves(rows, s, out / "learning_curves.png")
    paths["final_followers"] = plot_final(table, out / "final_followers.png")
    return paths


def _curves(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per arm, followers as a (seeds, episodes) array (episodes in order)."""
    groups: dict[str, dict[int, dict[int, float]]] = {}
    for row in rows:
        seeds = groups.setdefault(row["arm"], {})
        seeds.setdefault(int(row["seed"]), {})[int(row["episode"])] = float(row["followers"])
    out = {}
    for arm, seeds in groups.items():
        length = min(len(eps) for eps in seeds.values())
        out[arm] = np.array(
            [[eps[e] for e in sorted(eps)[:length]] for _, eps in sorted(seeds.items())]
        )
    return out


def plot_learning_curves(rows: list[dict], s: Settings, path: Path) -> Path:
    from matplotlib.figure import Figure

    curves = _curves(rows)
    episodes = max((c.shape[1] for c in curves.values()), default=s.episodes)
    window = max(1, round(0.05 * episodes))
    fig = Figure(figsize=(8, 5), dpi=110)
    ax = fig.add_subplot()
    order = [a for a in ARMS if a in curves] + [a for a in curves if a not in ARMS]
    for k, arm in enumerate(order):
        smooth = moving_average(curves[arm], window)
        x = np.arange(smooth.shape[1])
        mean = smooth.mean(axis=0)
        color = f"C{k % 10}"
        style = "-" if arm in Q_ARMS else "--"
        ax.plot(x, mean, style, color=color, linewidth=1.4, label=arm)
        n = smooth.shape[0]
        if n > 1:
            half = stats.t.ppf(0.975, n - 1) * smooth.std(axis=0, ddof=1) / math.sqrt(n)
            ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.15, linewidth=0)
    if episodes > 1:
        start = episodes - tail_count(episodes, s.tail)
        ax.axvspan(start, episodes - 1, color="grey", alpha=0.08, label="tail (final)")
    ax.set_xlabel("episode")
    ax.set_ylabel(f"followers at episode end ({window}-episode moving average)")
    seeds = max((c.shape[0] for c in curves.values()), default=s.seeds)
    ax.set_title(
        f"Q-learning influencer vs baselines, mean of {seeds} seeds with 95% band (Jin & Guo 2024)",
        fontsize=9,
    )
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def plot_final(table: list[dict], path: Path) -> Path:
    from matplotlib.figure import Figure

    ordered = sorted(table, key=lambda r: r["final_mean"])
    fig = Figure(figsize=(8, 4.5), dpi=110)
    ax = fig.add_subplot()
    for i, r in enumerate(ordered):
        learner = r["arm"] in Q_ARMS
        ax.errorbar(
            i,
            r["final_mean"],
            yerr=[[r["final_mean"] - r["ci_low"]], [r["ci_high"] - r["final_mean"]]],
            fmt="o" if learner else "s",
            color="C0" if learner else "C7",
            capsize=4,
        )
    base = [r["final_mean"] for r in table if r["arm"] in BASELINE_ARMS]
    if base:
        ax.axhline(max(base), color="C3", linestyle=":", label="best baseline")
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xticks(np.arange(len(ordered)), [r["arm"] for r in ordered], rotation=20)
    ax.set_ylabel("final followers (tail mean, 95% CI across seeds)")
    ax.set_title(
        "final followers per arm, learners blue, baselines grey (Jin & Guo 2024)", fontsize=9
    )
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


# -- the result tables as the command line shows them ----------------------------------
def display_table(table: list[dict], settings: Settings):
    """The summary table (`summary_table`) as a rich table."""
    from rich.table import Table

    result = Table(
        title=f"followers at the end of an episode, last {settings.tail:.0%} of episodes"
    )
    for col in (
        "arm",
        "followers",
        "95% CI",
        "spread",
        "vs world mean",
        "95% CI ",
        "spread ",
        "gained",
        "leader",
    ):
        result.add_column(col, justify="left" if col == "arm" else "right")
    for r in table:
        result.add_row(
            r["arm"],
            f"{r['final_mean']:.1f}",
            f"{r['ci_low']:.1f} to {r['ci_high']:.1f}",
            f"{r['spread']:.2f}",
            f"{r['relative_mean']:+.2f}",
            f"{r['relative_ci_low']:+.2f} to {r['relative_ci_high']:+.2f}",
            f"{r['relative_spread']:.2f}",
            f"{r['gained_mean']:+.1f}",
            f"{r['leader_rate']:.0%}",
        )
    return result


def display_lines(answers: dict) -> list[str]:
    """What the table means, and the answers (`answers`), in sentences."""
    beats = "beats" if answers["learner_beats_best_baseline"] else "does not beat"
    overlap = "overlap" if answers["relative_cis_overlap"] else "do not overlap"
    return [
        "spread: std across seeds; vs world mean: followers minus the mean of all arms in "
        "the same world (every arm of a seed meets the same worlds)",
        f"best learner {answers['best_learner']} {beats} the best baseline "
        f"{answers['best_baseline']} (margin {answers['margin']:+.1f}; world-relative 95% "
        f"intervals {overlap}); most stable learner arm: {answers['most_stable_arm']}",
    ]
