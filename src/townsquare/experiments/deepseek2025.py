"""GRPO (DeepSeekMath 2024; DeepSeek-R1, Nature 2025; MODELS.md section 5) for an
election candidate: does a language model trained on the simulator's verifiable reward
win more votes than the same model untrained? Not a figure of the papers: issue 14's
question, asked of a model small enough to train on a CPU in seconds.

1. **The model.** A 2-layer GPT-2 over a word-level vocabulary of the climate pack's
   claims and the roles' prompts (`text.tiny`), built in ``models/base`` (no download).
2. **Training.** GRPO on the vote reward (`learn.grpo`) in ``candidate_env`` (300
   users) with three-word messages, read by the lexicon reader, into ``train/``:
   ``curve.csv``, ``learning_curve.png``, ``model/``. The base folder gets the same
   ``townsquare.json`` (template, length, temperature, reader), so the two arms differ
   only in their weights.
3. **Substitution.** The ``election`` scenario, per seed, three arms on the same world:
   ``scripted`` (both candidates scripted: the reference), ``untrained`` and ``trained``
   (the first candidate, by user id, writes its posts with the model, ``roles.candidate
   .writers: 1``; the second stays scripted).

Outputs: ``results.csv`` (arm, seed, vote_share of the first candidate on election
day, its posts, their mean stance, completions not posted), ``summary.csv`` (per arm,
the mean vote share with its 95% t-interval, and the paired difference from
``untrained`` with its interval), ``answers.json`` (the effect of training, its
interval, whether it is beyond seed noise, and the settings) and ``vote_share.png``.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..outputs import replace_file, replace_text
from .pool import run_tasks
from .tables import mean_interval, write_rows

ARMS = ("scripted", "untrained", "trained")
COLUMNS = ("arm", "seed", "vote_share", "posts", "mean_stance", "not_posted")


@dataclass(frozen=True)
class Settings:
    seeds: int = 10
    seed: int = 0  # base seed of the election runs: seed, seed + 1, ...
    train_seed: int = 0
    steps: int = 100  # GRPO steps
    workers: int = 0  # 0: all cores
    users: int | None = None  # election's users (None: the scenario's 10^4)
    train_users: int = 300
    # three-word messages, the shortest the policy line posts; the learning rate at
    # which such messages learn within 100 steps (tests/test_grpo.py)
    max_completion_length: int = 3
    learning_rate: float = 2e-2

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"seeds": 3, "users": 2000, "steps": 40, **kw})


def build_models(out: Path, s: Settings, on_step=None) -> tuple[Path, Path, dict]:
    """The base model and the GRPO-trained one (folders), and the training summary."""
    from ..learn.grpo import GRPOSettings, train_grpo
    from ..policies.lm import TEMPLATES, TRAINED
    from ..text.offline import OfflineGenerator
    from ..text.tiny import tiny_causal_lm

    pack = OfflineGenerator().pack_for(0)
    base = out / "models" / "base"
    if base.exists():  # an earlier run of this experiment wrote it
        shutil.rmtree(base)
    tiny_causal_lm(base, [*pack.pro_claims, *pack.con_claims, *TEMPLATES.values()])
    settings = GRPOSettings(
        model=str(base),
        overrides=(f"users={s.train_users}",),
        steps=s.steps,
        batch=16,
        num_generations=8,
        max_completion_length=s.max_completion_length,
        learning_rate=s.learning_rate,
        reader="lexicon",
        panel=1000,
        seed=s.train_seed,
    )
    result = train_grpo(settings, out / "train", on_step)
    shutil.copyfile(out / "train" / "model" / TRAINED, base / TRAINED)
    first, last = result.first_last()
    summary = {"reward_first_20pct": first, "reward_last_20pct": last, "steps": s.steps}
    return base, out / "train" / "model", summary


def arm_overrides(arm: str, seed: int, s: Settings, models: dict[str, str]) -> list[str]:
    out = ["record.events=none", f"seed={seed}"]
    if s.users is not None:
        out.append(f"users={s.users}")
    if arm != "scripted":
        out += [
            f"roles.candidate.policy=lm:transformers:{models[arm]}",
            "roles.candidate.writers=1",
        ]
    return out


def run_task(args: tuple[str, int, Settings, dict[str, str]]) -> dict:
    """One (arm, seed): the election run to its end."""
    from ..build import build_world
    from ..config import load_scenario
    from ..world.population import Role

    arm, seed, s, models = args
    world, sc = build_world(load_scenario("election", arm_overrides(arm, seed, s, models)))
    vote = None
    for _ in range(sc.steps):
        events = world.step()
        if events.election is not None and events.election.vote is not None:
            vote = events.election.vote
    if vote is None:
        raise ValueError("election: no election day within its steps")
    first = int(world.election.candidates[0])
    posts = world.posts
    n = len(posts)
    mine = (posts.author[:n] == first) & (posts.kind[:n] == 0)
    policy = world.policies[Role.CANDIDATE]
    unparsed = policy.metrics().get("lm_candidate_unparsed", 0) if arm != "scripted" else 0
    return {
        "arm": arm,
        "seed": seed,
        "vote_share": float(vote.share[0]),
        "posts": int(mine.sum()),
        "mean_stance": float(posts.stance[:n][mine].mean()) if mine.any() else math.nan,
        "not_posted": int(unparsed),
    }


def run_arms(
    s: Settings, models: dict[str, str], progress: Callable[[int, int], None] | None = None
) -> list[dict]:
    tasks = [(arm, seed, s, models) for arm in ARMS for seed in range(s.seed, s.seed + s.seeds)]
    return run_tasks(run_task, tasks, s.workers, progress)


def summary_table(rows: list[dict]) -> list[dict]:
    """Per arm: the vote share (mean, 95% CI) and the paired difference from untrained."""
    by = {arm: {r["seed"]: r for r in rows if r["arm"] == arm} for arm in ARMS}
    seeds = sorted(by["untrained"])
    out = []
    for arm in ARMS:
        share = np.array([by[arm][k]["vote_share"] for k in seeds])
        diff = share - np.array([by["untrained"][k]["vote_share"] for k in seeds])
        mean, low, high = mean_interval(share)
        d, d_low, d_high = mean_interval(diff)
        stance = np.array([by[arm][k]["mean_stance"] for k in seeds])
        out.append(
            {
                "arm": arm,
                "vote_share": mean,
                "ci_low": low,
                "ci_high": high,
                "vs_untrained": d,
                "vs_ci_low": d_low,
                "vs_ci_high": d_high,
                "wins_over_untrained": int((diff > 0).sum()),
                "mean_stance": float(np.nanmean(stance)) if np.isfinite(stance).any() else None,
                "posts": float(np.mean([by[arm][k]["posts"] for k in seeds])),
            }
        )
    return out


def answers(table: list[dict], training: dict, s: Settings) -> dict:
    trained = next(r for r in table if r["arm"] == "trained")
    low, high = trained["vs_ci_low"], trained["vs_ci_high"]
    return {
        "effect_of_training": trained["vs_untrained"],
        "ci95": [low, high],
        "beyond_seed_noise": bool(np.isfinite(low) and (low > 0 or high < 0)),
        "trained_wins_more": bool(np.isfinite(low) and low > 0),
        "wins": trained["wins_over_untrained"],
        "seeds": s.seeds,
        "training": training,
        "settings": asdict(s),
    }


def write_outputs(out: Path, rows: list[dict], table: list[dict], ans: dict) -> dict[str, Path]:
    paths = {
        "results": write_rows(out / "results.csv", COLUMNS, rows),
        "summary": write_rows(out / "summary.csv", list(table[0]), table),
        "answers": replace_text(out / "answers.json", json.dumps(ans, indent=2) + "\n"),
        "vote_share": plot_vote_share(rows, table, out / "vote_share.png"),
        "learning_curve": out / "train" / "learning_curve.png",
    }
    return paths


def plot_vote_share(rows: list[dict], table: list[dict], path: Path) -> Path:
    """Per arm, the first candidate's vote share with its 95% CI, and each seed's three
    arms joined by a faint line (the pairing)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=110)
    ax = fig.add_subplot()
    seeds = sorted({r["seed"] for r in rows})
    for k in seeds:
        ys = [next(r["vote_share"] for r in rows if r["arm"] == a and r["seed"] == k) for a in ARMS]
        ax.plot(range(len(ARMS)), ys, color="0.75", lw=0.8, zorder=1)
    for i, r in enumerate(table):
        err = [[r["vote_share"] - r["ci_low"]], [r["ci_high"] - r["vote_share"]]]
        if not np.isfinite(err).all():
            err = None
        ax.errorbar(i, r["vote_share"], yerr=err, fmt="o", color=f"C{i}", capsize=5, zorder=2)
    ax.set_xticks(range(len(ARMS)), ARMS)
    ax.set_ylabel("first candidate's vote share (95% CI)")
    ax.set_title(
        "a GRPO-trained language-model candidate in `election`, same worlds per seed",
        fontsize=9,
    )
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return replace_file(path, fig.savefig)


def display_table(table: list[dict]):
    from rich.table import Table

    out = Table(title="the first candidate's vote share on election day")
    for col in ("arm", "vote share", "95% CI", "vs untrained", "95% CI ", "mean stance", "posts"):
        out.add_column(col, justify="right")

    def interval(lo, hi):
        return "n/a" if not np.isfinite([lo, hi]).all() else f"[{lo:+.4f}, {hi:+.4f}]"

    for r in table:
        out.add_row(
            r["arm"],
            f"{r['vote_share']:.4f}",
            interval(r["ci_low"], r["ci_high"]).replace("+", ""),
            f"{r['vs_untrained']:+.4f}",
            interval(r["vs_ci_low"], r["vs_ci_high"]),
            "n/a" if r["mean_stance"] is None else f"{r['mean_stance']:+.2f}",
            f"{r['posts']:.0f}",
        )
    return out


def display_lines(ans: dict) -> list[str]:
    lo, hi = ans["ci95"]
    verdict = (
        "beyond seed noise" if ans["beyond_seed_noise"] else "within seed noise (the CI holds 0)"
    )
    t = ans["training"]
    return [
        f"training: reward {t['reward_first_20pct']:+.4f} -> {t['reward_last_20pct']:+.4f} "
        f"percentage points (first -> last 20% of {t['steps']} GRPO steps)",
        f"trained - untrained: {ans['effect_of_training']:+.4f} vote share, 95% CI "
        f"[{lo:+.4f}, {hi:+.4f}], {verdict}; the trained model won {ans['wins']} of "
        f"{ans['seeds']} seeds",
    ]
