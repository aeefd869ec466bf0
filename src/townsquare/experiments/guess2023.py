"""The feed experiment of Guess et al., "How do social media feed algorithms affect
attitudes and behavior in an election campaign?", Science 381:398 (2023), in the
``learned`` platform (docs/platform.md, "A feed experiment").

Guess et al. moved a random sample of consenting Facebook and Instagram users from the
algorithmic feed to a reverse-chronological one for three months of the 2020 US
campaign. From their abstract:

* the chronological feed "substantially decreased the time they spent on the platforms
  and their activity";
* it changed what they saw, with more content "from moderate friends and sources with
  ideologically mixed audiences" on Facebook;
* it "did not significantly alter levels of issue polarization, affective polarization,
  political knowledge, or other key attitudes".

Here each seed is one platform (``learned``: citizens who learn how often to post, whom
to follow and which side to express) in which a random ``share`` of citizens read the
``chronological`` feed from step ``start`` on, while the rest keep ``engagement``
(``feed.experiment``). Outcomes per arm, averaged over the steps of the campaign
(metrics.parquet's ``exp_*`` columns):

* ``time``: posts shown per visit (the time a visit holds);
* ``engagement``: likes, reposts, replies and quotes per visit;
* ``activity``: posts written per visit;
* ``like_minded`` and ``cross_cutting``: the shares of shown posts on the reader's side
  of its opinion on the post's topic, and on the other side;
* ``polarisation``: the change in mean |opinion| of the arm's citizens from the step
  before the campaign to its end.

The effect is treated minus control within each seed (randomised in the same platform,
as in the paper), with a 95% t-interval over seeds. Outputs (`write_outputs`):
``results.csv`` (seed, outcome, control, treated, effect, relative), ``summary.csv`` (per
outcome: the arms' means, the effect with its interval, its direction, the paper's),
``answers.json``, ``effects.png`` (each effect relative to control, with its interval)
and ``timeline.png`` (both arms per step, mean over seeds).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..outputs import replace_file, replace_text
from .pool import run_tasks
from .tables import mean_interval, write_rows

#: outcome -> (metrics column suffix, how it is measured, the paper's finding)
OUTCOMES: dict[str, tuple[str, str, str]] = {
    "time": ("shown", "posts shown per visit", "lower (time on platform fell)"),
    "engagement": ("engaged", "likes, reposts, replies, quotes per visit", "lower"),
    "activity": ("posted", "posts written per visit", "lower (activity fell)"),
    "like_minded": ("like_minded", "share of shown posts on the reader's side", "not stated"),
    "cross_cutting": (
        "cross_cutting",
        "share of shown posts on the other side",
        "more from moderate friends and ideologically mixed sources (Facebook)",
    ),
    "polarisation": ("extremity", "change in mean |opinion| over the campaign", "no change"),
}
#: the direction the paper reports, where it reports one (-1 lower, 0 no change)
PAPER_SIGN = {"time": -1, "engagement": -1, "activity": -1, "polarisation": 0}
RESULT_COLUMNS = ("seed", "outcome", "control", "treated", "effect", "relative")


@dataclass(frozen=True)
class Settings:
    seeds: int = 10
    seed: int = 0  # base seed: seeds seed, seed + 1, ...
    workers: int = 0  # 0: all cores
    scenario: str = "learned"
    users: int | None = None  # None: the scenario's (10,000)
    steps: int = 100
    share: float = 0.2  # citizens moved to the chronological feed
    start: int = 10  # the campaign's first step: 90 steps (days) of treatment, three months
    ranking: str = "chronological"

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"seeds": 3, "users": 2000, "steps": 40, **kw})


def overrides(s: Settings, seed: int) -> list[str]:
    out = [] if s.users is None else [f"users={s.users}"]
    return out + [
        f"seed={seed}",
        f"steps={s.steps}",
        f"feed.experiment.share={s.share!r}",
        f"feed.experiment.start={s.start}",
        f"feed.experiment.ranking={s.ranking}",
    ]


def run_task(args: tuple[int, Settings]) -> list[dict]:
    """One seed: the platform run through, its metrics rows."""
    from ..build import build_world
    from ..config import load_scenario

    seed, s = args
    world, sc = build_world(load_scenario(s.scenario, overrides(s, seed)))
    rows = []
    for _ in range(sc.steps):
        metrics = world.step().metrics
        rows.append({k: v for k, v in metrics.items() if k.startswith("exp_") or k == "step"})
    return rows


def run_seeds(s: Settings, progress: Callable[[int, int], None] | None = None) -> list[list]:
    if not 0 < s.start < s.steps:
        raise ValueError(f"start: {s.start} must lie between 1 and steps - 1 = {s.steps - 1}")
    tasks = [(s.seed + i, s) for i in range(s.seeds)]
    return run_tasks(run_task, tasks, s.workers, progress)


def outcomes(rows: list[dict], s: Settings) -> dict[str, tuple[float, float]]:
    """(control, treated) of each outcome in one seed's run."""
    campaign = [r for r in rows if r["step"] >= s.start]
    out = {}
    for name, (column, _, _) in OUTCOMES.items():
        if name == "polarisation":
            before = rows[s.start - 1]
            out[name] = tuple(
                rows[-1][f"exp_{arm}_{column}"] - before[f"exp_{arm}_{column}"]
                for arm in ("control", "treated")
            )
            continue
        out[name] = tuple(
            float(np.nanmean([r[f"exp_{arm}_{column}"] for r in campaign]))
            for arm in ("control", "treated")
        )
    return out


def result_rows(runs: list[list[dict]], s: Settings) -> list[dict]:
    records = []
    for i, rows in enumerate(runs):
        for name, (control, treated) in outcomes(rows, s).items():
            relative = treated / control - 1.0 if control and name != "polarisation" else math.nan
            records.append(
                {
                    "seed": s.seed + i,
                    "outcome": name,
                    "control": control,
                    "treated": treated,
                    "effect": treated - control,
                    "relative": relative,
                }
            )
    return records


def summary_table(records: list[dict]) -> list[dict]:
    table = []
    for name, (_, measure, paper) in OUTCOMES.items():
        mine = [r for r in records if r["outcome"] == name]
        effect, low, high = mean_interval(np.array([r["effect"] for r in mine]))
        rel, rel_low, rel_high = mean_interval(np.array([r["relative"] for r in mine]))
        direction = "lower" if high < 0 else "higher" if low > 0 else "no detectable change"
        table.append(
            {
                "outcome": name,
                "measure": measure,
                "control": float(np.mean([r["control"] for r in mine])),
                "treated": float(np.mean([r["treated"] for r in mine])),
                "effect": effect,
                "effect_low": low,
                "effect_high": high,
                "relative": rel,
                "relative_low": rel_low,
                "relative_high": rel_high,
                "direction": direction,
                "paper": paper,
                "seeds": len(mine),
            }
        )
    return table


def answers(table: list[dict], s: Settings) -> dict:
    """Does the platform show what the paper found, outcome by outcome (only where the
    paper reports a direction)."""
    sign = {"lower": -1, "higher": 1, "no detectable change": 0}
    by = {row["outcome"]: row for row in table}
    agree = {name: sign[by[name]["direction"]] == want for name, want in PAPER_SIGN.items()}
    return {
        "agrees_with_paper": agree,
        "agrees_on_all": all(agree.values()),
        "directions": {name: row["direction"] for name, row in by.items()},
        "settings": asdict(s),
    }


SUMMARY_COLUMNS = (
    "outcome", "measure", "control", "treated", "effect", "effect_low", "effect_high",
    "relative", "relative_low", "relative_high", "direction", "paper", "seeds",
)  # fmt: skip


def write_outputs(out: Path, records, runs, table, ans, s: Settings) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": write_rows(out / "results.csv", RESULT_COLUMNS, records),
        "summary": write_rows(out / "summary.csv", SUMMARY_COLUMNS, table),
        "answers": replace_text(out / "answers.json", json.dumps(ans, indent=2) + "\n"),
    }
    paths["effects"] = plot_effects(table, out / "effects.png")
    paths["timeline"] = plot_timeline(runs, s, out / "timeline.png")
    return paths


def plot_effects(table: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in table if r["outcome"] != "polarisation"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 1]})
    y = np.arange(len(rows))
    rel = np.array([r["relative"] for r in rows]) * 100
    err = (
        np.array(
            [[r["relative"] - r["relative_low"], r["relative_high"] - r["relative"]] for r in rows]
        ).T
        * 100
    )
    ax.errorbar(rel, y, xerr=err, fmt="o", color="#1f4e79", capsize=4)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [r["outcome"].replace("_", " ") for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("chronological feed vs engagement feed, % (95% CI over seeds)")
    pol = next(r for r in table if r["outcome"] == "polarisation")
    bx.errorbar([0], [pol["effect"]], yerr=[[pol["effect"] - pol["effect_low"]],
                [pol["effect_high"] - pol["effect"]]], fmt="o", color="#8b1e3f", capsize=4)  # fmt: skip
    bx.axhline(0, color="grey", lw=0.8)
    bx.set_xticks([0], ["polarisation"])
    bx.set_ylabel("Δ mean |opinion|, treated − control")
    fig.suptitle("Guess et al. (2023) in townsquare: effects of the chronological feed")
    fig.tight_layout()
    try:
        return replace_file(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    finally:
        plt.close(fig)


def plot_timeline(runs: list[list[dict]], s: Settings, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in runs[0]])
    panels = ("shown", "engaged", "like_minded", "extremity")
    titles = (
        "posts shown per visit",
        "engagement per visit",
        "like-minded share",
        "mean |opinion|",
    )
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    for ax, column, title in zip(axes, panels, titles, strict=True):
        for arm, colour in (("control", "#1f4e79"), ("treated", "#d9822b")):
            values = np.array([[r[f"exp_{arm}_{column}"] for r in run] for run in runs])
            with warnings.catch_warnings():  # a step where nobody was shown a post: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(values, axis=0)
            ax.plot(steps, mean, color=colour, label=arm)
        ax.axvline(s.start, color="grey", ls="--", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes[0].legend(title="feed", fontsize=8)
    fig.suptitle(f"treated: {s.ranking} from step {s.start} ({s.share:.0%} of citizens)")
    fig.tight_layout()
    try:
        return replace_file(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    finally:
        plt.close(fig)


def display_table(table: list[dict]):
    from rich.table import Table

    out = Table(title="Guess et al. (2023): chronological feed minus engagement feed")
    for column in ("outcome", "control", "chronological", "effect (95% CI)", "relative",
                   "here", "paper"):  # fmt: skip
        out.add_column(
            column, justify="left" if column in ("outcome", "here", "paper") else "right"
        )
    for r in table:
        rel = "" if math.isnan(r["relative"]) else f"{r['relative']:+.1%}"
        out.add_row(
            r["outcome"].replace("_", " "), f"{r['control']:.4g}", f"{r['treated']:.4g}",
            f"{r['effect']:+.4g} [{r['effect_low']:+.3g}, {r['effect_high']:+.3g}]", rel,
            r["direction"], r["paper"],
        )  # fmt: skip
    return out


def display_lines(ans: dict) -> list[str]:
    agree = ans["agrees_with_paper"]
    said = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in agree.items())
    return [f"the paper's directions reproduced — {said}"]
