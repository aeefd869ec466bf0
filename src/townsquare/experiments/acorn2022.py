"""ACORN (Le, Tran-Thanh & Lee, "Socialbots on fire", WWW 2022; MODELS.md section 3):
a learned two-level socialbot against its baselines on graphs it was not trained on.

Arms, each on every test graph for ``episodes`` episodes (seeds ``seed``, ``seed + 1``,
...), horizon 120 activities (ACORN's test horizon), the same detector for all:

* ``learned``: both levels of the trained bot (`learn.marl.load_policy`);
* ``agent_i_h``: the trained level 1 with ACORN's greedy level 2 (the unchosen user of
  largest out-degree): AgentI+H;
* ``random``: uniform activities and targets;
* ``scripted``: the platform's scripted bot (its activity mix, random targets).

Per episode (`results.csv`): ``graph``, ``arm``, ``episode``, ``influence_ratio`` (the
spread of the chosen set over the spread of the 120 users of largest out-degree, 1,000
cascades each), ``survived`` (activities played before suspension, or the horizon) and
``detected``. `summary_table` gives each arm's means with 95% t-intervals over the
graphs' means (a graph is the unit, as it is what the bot was not trained on), and the
paired differences learned − AgentI+H (influence) and learned − scripted (survival).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..roles import socialbot as sb
from .tables import mean_interval

ARMS = ("learned", "agent_i_h", "random", "scripted")
COLUMNS = ("graph", "arm", "episode", "influence_ratio", "survived", "detected")


@dataclass(frozen=True)
class Settings:
    episodes: int = 5  # per graph and arm
    seed: int = 0
    horizon: int = sb.TEST_HORIZON
    iterations: int = 150  # RLlib PPO training iterations (learn.marl)
    batch: int = 2000  # activities per training iteration
    workers: int = 0
    graphs: int | None = None  # the first N test graphs (None: all)

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"episodes": 1, "iterations": 4, "batch": 1000, "graphs": 3, **kw})


#: ACORN's headline (WWW 2022): up to 18% more influence and 40% more undetectability
#: than its baselines
PAPER = {"influence_gain": 0.18, "undetectability_gain": 0.40}


def play(game: sb.SocialbotGame, turn: Callable, rng: np.random.Generator) -> dict:
    """Run ``game`` to its end with ``turn(game, rng) -> (activity, target)``."""
    while not game.done:
        game.act(*turn(game, rng))
    return {
        "influence_ratio": game.influence_ratio(),
        "survived": int(min(game.total, game.horizon)),
        "detected": bool(game.detected),
    }


def arm_turn(arm: str, policy, greedy_policy) -> Callable:
    if arm == "learned":
        return policy.turn
    if arm == "agent_i_h":
        return greedy_policy.turn
    return {"random": sb.random_turn, "scripted": sb.scripted_turn}[arm]


def evaluate(graphs, policy_path, detector, s: Settings, arms=ARMS, progress=None) -> list[dict]:
    """One row per (graph, arm, episode); ``graphs``: (name, PropagationGraph) pairs."""
    from ..learn.marl import load_policy

    policy = load_policy(policy_path)
    greedy = load_policy(policy_path, greedy_target=True)
    rows = []
    total = len(graphs) * len(arms) * s.episodes
    for name, graph in graphs:
        for arm in arms:
            turn = arm_turn(arm, policy, greedy)
            for k in range(s.episodes):
                seed = s.seed + k
                game = sb.SocialbotGame(graph, detector, s.horizon, seed=seed)
                rng = np.random.default_rng([seed, ARMS.index(arm)])
                rows.append({"graph": name, "arm": arm, "episode": k, **play(game, turn, rng)})
                if progress is not None:
                    progress(len(rows), total)
    return rows


def summary_table(rows: list[dict]) -> list[dict]:
    """Per arm: mean influence ratio, survival and detection rate with 95% intervals
    over graphs; paired differences against AgentI+H and the scripted bot."""
    graphs = sorted({r["graph"] for r in rows})
    arms = [a for a in ARMS if any(r["arm"] == a for r in rows)]

    def per_graph(arm, key):
        return np.array(
            [
                np.mean([r[key] for r in rows if r["arm"] == arm and r["graph"] == g])
                for g in graphs
            ],
            float,
        )

    out = []
    for arm in arms:
        infl, surv = per_graph(arm, "influence_ratio"), per_graph(arm, "survived")
        row = {"arm": arm, "graphs": len(graphs)}
        for key, values in (("influence_ratio", infl), ("survived", surv)):
            mean, low, high = mean_interval(values)
            row.update({key: mean, f"{key}_low": low, f"{key}_high": high})
        row["detected"] = float(per_graph(arm, "detected").mean())
        for other, key in (("agent_i_h", "influence_ratio"), ("scripted", "survived")):
            if other in arms and arm != other:
                mean, low, high = mean_interval(per_graph(arm, key) - per_graph(other, key))
                row.update({f"{key}_vs_{other}": mean, f"{key}_vs_{other}_low": low,
                            f"{key}_vs_{other}_high": high})  # fmt: skip
        out.append(row)
    return out


def answers(table: list[dict], training: list[dict], s: Settings) -> dict:
    by = {r["arm"]: r for r in table}
    learned, greedy, scripted = by.get("learned"), by.get("agent_i_h"), by.get("scripted")
    out: dict = {"paper": PAPER, "settings": s.__dict__}
    if learned and greedy:
        low = learned.get("influence_ratio_vs_agent_i_h_low")
        out["influence_vs_agent_i_h"] = {
            "difference": learned["influence_ratio_vs_agent_i_h"],
            "ci95": [low, learned["influence_ratio_vs_agent_i_h_high"]],
            "relative": learned["influence_ratio"] / greedy["influence_ratio"] - 1.0,
            "at_least_agent_i_h": bool(learned["influence_ratio"] >= greedy["influence_ratio"]),
            "beyond_noise": bool(np.isfinite(low) and low > 0),
        }
    if learned and scripted:
        low = learned.get("survived_vs_scripted_low")
        out["survival_vs_scripted"] = {
            "difference": learned["survived_vs_scripted"],
            "ci95": [low, learned["survived_vs_scripted_high"]],
            "longer": bool(np.isfinite(low) and low > 0),
            "undetected_learned": 1.0 - learned["detected"],
            "undetected_scripted": 1.0 - scripted["detected"],
        }
    if training:
        out["training"] = {"iterations": len(training), "seconds": training[-1]["seconds"],
                           "env_steps": training[-1]["env_steps"]}  # fmt: skip
    return out


def write_outputs(out, rows: list[dict], table: list[dict], ans: dict) -> dict:
    import json
    from pathlib import Path

    from ..outputs import replace_text
    from .tables import write_rows

    out = Path(out)
    return {
        "results": write_rows(out / "results.csv", COLUMNS, rows),
        "summary": write_rows(out / "summary.csv", list(table[0]), table),
        "answers": replace_text(out / "answers.json", json.dumps(ans, indent=2) + "\n"),
        "arms": plot_arms(rows, out / "arms.png"),
    }


def plot_arms(rows: list[dict], path):
    """Influence ratio and survival per test graph, one marker per arm."""
    from matplotlib.figure import Figure

    from ..outputs import replace_file

    graphs = sorted({r["graph"] for r in rows})
    arms = [a for a in ARMS if any(r["arm"] == a for r in rows)]
    fig = Figure(figsize=(9, 4), dpi=110)
    left, right = fig.subplots(1, 2)
    x = np.arange(len(graphs))
    for i, arm in enumerate(arms):
        for ax, key in ((left, "influence_ratio"), (right, "survived")):
            y = [np.mean([r[key] for r in rows if r["arm"] == arm and r["graph"] == g])
                 for g in graphs]  # fmt: skip
            ax.plot(x + (i - 1.5) * 0.12, y, "o", ms=4, label=arm)
    for ax, label in ((left, "influence ratio (chosen set / top-120)"),
                      (right, "activities before suspension")):  # fmt: skip
        ax.set_xticks(x, graphs, rotation=60, fontsize=7)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
    left.legend(fontsize=7)
    fig.suptitle("ACORN on graphs it was not trained on", fontsize=9)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def display_lines(ans: dict) -> list[str]:
    lines = []
    infl = ans.get("influence_vs_agent_i_h")
    if infl:
        lo, hi = infl["ci95"]
        lines.append(
            f"influence, learned - AgentI+H: {infl['difference']:+.3f} (95% CI [{lo:+.3f}, "
            f"{hi:+.3f}] over graphs; {100 * infl['relative']:+.1f}%; the paper: up to "
            f"+{100 * PAPER['influence_gain']:.0f}%)"
        )
    surv = ans.get("survival_vs_scripted")
    if surv:
        lo, hi = surv["ci95"]
        lines.append(
            f"survival, learned - scripted: {surv['difference']:+.1f} activities (95% CI "
            f"[{lo:+.1f}, {hi:+.1f}]); undetected {100 * surv['undetected_learned']:.0f}% "
            f"against {100 * surv['undetected_scripted']:.0f}% (the paper: up to "
            f"+{100 * PAPER['undetectability_gain']:.0f}% undetectability)"
        )
    return lines
