"""The trained socialbot on the platform: what it does to the realism scorecard.

Three arms per scenario and seed, on the same world (same seed):

* ``scripted``: the scenario as it is (scripted bots, the activity rule);
* ``scripted_detector``: scripted bots against the learned detector (``moderation.
  detector: learned``), so the detector's own effect is seen apart;
* ``learned``: the trained bot on the socialbot's policy line
  (`roles.socialbot_platform`), against the same learned detector.

Each run's scorecard (`metrics.realism`) gives the facts the bots touch: F7 (bots are a
minority that talks a lot: their share of accounts and of posts), F4 (most posts are
never shared) and F6 (conversations split in two: the camps' modularity), and how many
facts sit in their bands; with the share of bots suspended and the bots' activities
(posts, reposts, replies, follows) per bot over the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARMS = ("scripted", "scripted_detector", "learned")
#: the scorecard's metrics of the facts the bots touch
METRICS = (
    "bot_account_share",
    "bot_post_share",
    "never_reposted_share",
    "cascade_100_plus_share",
    "camp_modularity",
)
FACTS = ("F4", "F6", "F7")
COLUMNS = (
    "scenario", "arm", "seed", *METRICS, *(f"{f}_status" for f in FACTS),
    "facts_inside", "bots_suspended", "bot_activities", "bot_posts", "bot_reposts",
    "bot_replies", "bot_follows",
)  # fmt: skip


@dataclass(frozen=True)
class PlatformSettings:
    scenarios: tuple[str, ...] = ("default", "learned")
    users: int = 3000
    steps: int | None = None  # the scenario's own
    seeds: tuple[int, ...] = (0, 1, 2)
    detector: str = "builtin"  # the learned detector the detector arms use

    @classmethod
    def quick(cls, **kw) -> PlatformSettings:
        return cls(**{"users": 600, "steps": 20, "seeds": (0,), **kw})

    @property
    def runs(self) -> int:
        return len(self.scenarios) * len(self.seeds) * len(ARMS)


def arm_overrides(arm: str, policy: Path | None, detector: str) -> list[str]:
    """The scenario keys an arm sets."""
    if arm == "scripted":
        return []
    out = ["moderation.detector=learned", f"moderation.model={detector}"]
    if arm == "learned":
        out.append(f"roles.socialbot.policy={Path(policy).resolve()}")
    return out


def play(scenario: str, overrides: list[str], folder: Path) -> dict:
    """Run ``scenario`` with ``overrides`` into ``folder`` and measure it: the scorecard's
    metrics, each fact's status, and what the bots did."""
    import pyarrow.parquet as pq

    from ..config import load_scenario
    from ..metrics.realism import measure_run, measure_start, scorecard
    from ..runner import Run

    sc = load_scenario(scenario, overrides)
    Run.start(sc, folder, overwrite=True).execute()
    card = scorecard(measure_run(folder), start=measure_start(folder))
    values = {r.metric: r.value for r in card.rows}
    users = pq.read_table(folder / "users.parquet")
    bots = users.column("role").to_numpy(zero_copy_only=False) == "socialbot"

    def mean(column: str) -> float:
        return float(users.column(column).to_numpy()[bots].mean()) if bots.any() else float("nan")

    per_bot = {
        k: mean(col)
        for k, col in (
            ("bot_posts", "posts"),
            ("bot_reposts", "reposts"),
            ("bot_replies", "replies"),
            ("bot_follows", "follows"),
        )
    }
    return {
        **{m: values.get(m) for m in METRICS},
        **{f"{f}_status": card.status.get(f) for f in FACTS},
        "facts_inside": card.inside,
        "bots_suspended": mean("suspended"),
        "bot_activities": float(sum(per_bot.values())),
        **per_bot,
    }


def run(s: PlatformSettings, policy: Path, out: Path, progress=None) -> list[dict]:
    """Every scenario x arm x seed (module docstring); one row each."""
    out = Path(out)
    rows = []
    for scenario in s.scenarios:
        for seed in s.seeds:
            for arm in ARMS:
                keys = [f"users={s.users}", f"seed={seed}", *arm_overrides(arm, policy, s.detector)]
                if s.steps is not None:
                    keys.append(f"steps={s.steps}")
                row = {"scenario": scenario, "arm": arm, "seed": seed}
                row.update(play(scenario, keys, out / "runs" / f"{scenario}-{arm}-s{seed}"))
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


#: the paired differences the summary gives: the bots' effect against the same detector,
#: and the whole change from the scenario as it is
CONTRASTS = (("learned", "scripted_detector"), ("learned", "scripted"))


def summary(rows: list[dict]) -> list[dict]:
    """Per scenario and arm, the mean of each number over seeds with its 95% interval,
    and the paired differences of `CONTRASTS` (``learned - scripted_detector``: the
    trained bots' own effect; ``learned - scripted``: with the detector's)."""
    from .tables import mean_interval

    numbers = [*METRICS, "facts_inside", "bots_suspended", "bot_activities"]
    out = []
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == scenario]
        by_arm = {a: [r for r in mine if r["arm"] == a] for a in ARMS}
        labels = [(a, None) for a in ARMS] + [(f"{a} - {b}", (a, b)) for a, b in CONTRASTS]
        for label, pair in labels:
            row = {"scenario": scenario, "arm": label}
            for k in numbers:
                if pair is None:
                    vals = [r[k] for r in by_arm[label] if _known(r[k])]
                else:
                    vals = [
                        a[k] - b[k]
                        for a, b in zip(by_arm[pair[0]], by_arm[pair[1]], strict=True)
                        if _known(a[k]) and _known(b[k])
                    ]
                if vals:
                    row[k], row[f"{k}_low"], row[f"{k}_high"] = mean_interval(vals)
            out.append(row)
    return out


def _known(value) -> bool:
    return value is not None and bool(np.isfinite(value))


def write_outputs(out: Path, rows: list[dict]) -> dict:
    from matplotlib.figure import Figure

    from ..outputs import replace_file
    from .tables import write_rows

    out = Path(out)
    table = summary(rows)
    fields = ["scenario", "arm"]
    for k in [*METRICS, "facts_inside", "bots_suspended", "bot_activities"]:
        fields += [k, f"{k}_low", f"{k}_high"]
    paths = {
        "platform": write_rows(out / "platform.csv", COLUMNS, rows),
        "platform_summary": write_rows(out / "platform_summary.csv", fields, table),
    }
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    shown = ("bot_post_share", "never_reposted_share", "camp_modularity", "bots_suspended")
    fig = Figure(figsize=(9, 3.2 * len(scenarios)), dpi=110)
    axes = fig.subplots(len(scenarios), len(shown), squeeze=False)
    for i, scenario in enumerate(scenarios):
        for j, metric in enumerate(shown):
            ax = axes[i][j]
            for x, arm in enumerate(ARMS):
                vals = [
                    r[metric]
                    for r in rows
                    if r["scenario"] == scenario and r["arm"] == arm and r[metric] is not None
                ]
                ax.plot(np.full(len(vals), x), vals, "o", alpha=0.6)
                if vals:
                    ax.plot([x - 0.2, x + 0.2], [np.mean(vals)] * 2, "k-")
            ax.set_xticks(range(len(ARMS)), ["scripted", "+detector", "learned"], fontsize=7)
            ax.set_title(f"{scenario}: {metric}", fontsize=8)
            ax.grid(True, alpha=0.3)
    fig.tight_layout()
    paths["platform_plot"] = replace_file(out / "platform.png", fig.savefig)
    return paths


def display_lines(rows: list[dict]) -> list[str]:
    """Per scenario: the facts the bots touch, scripted against learned (seed means)."""
    lines = []
    for r in summary(rows):
        if r["arm"] != "learned - scripted_detector":
            continue
        parts = []
        for k, label in (
            ("bot_post_share", "F7 bots' share of posts"),
            ("never_reposted_share", "F4 posts never shared"),
            ("camp_modularity", "F6 camp modularity"),
            ("facts_inside", "facts in their bands"),
        ):
            if k in r and np.isfinite(r[k]):
                ci = (
                    f" [{r[k + '_low']:+.3f}, {r[k + '_high']:+.3f}]"
                    if np.isfinite(r[k + "_low"])
                    else ""
                )
                parts.append(f"{label} {r[k]:+.3f}{ci}")
        lines.append(
            f"platform, {r['scenario']}, learned bots - scripted bots (both against the "
            "learned detector): " + "; ".join(parts)
        )
    return lines
