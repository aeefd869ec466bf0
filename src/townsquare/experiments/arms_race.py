"""The arms race between learning socialbots and a detector that learns back (issue 15;
ACORN, MODELS.md section 3): ``townsquare arms-race --rounds R``.

Round r (1 .. R), starting from the built-in detector:

1. **Bots learn** against the current detector: `learn.marl.train`, into
   ``round_r/bot/``.
2. **Their traces:** the learned bot plays ``episodes`` games on test graphs of its own
   (hub-and-spoke, seeds fixed per round), with no detector to stop it; its activity
   counts at every check (each 20 activities) are the bot samples.
3. **The detector before retraining** is scored on those traces and on held-out
   citizens (the accounts of ``default``, seed 2, at 3,000 users): accuracy, recall on
   the learned bots, false-positive rate on the citizens.
4. **The detector learns back:** refitted on the citizens and scripted bots it was
   first fitted on (``default``, seeds 0 and 1) plus the learned bots' traces of this
   round and the earlier ones, into ``round_r/detector.json``, and scored again on the
   same held-out set (traces of a fresh set of games, so not the ones it saw).
5. **The bots' influence:** the learned bot's mean influence ratio in those games.
6. **The platform's scorecard:** ``default`` with this round's bots on the socialbots'
   policy line against this round's retrained detector, measured by the realism
   scorecard (facts in their bands; F7's bot share of posts, F4's posts never shared,
   F6's camp modularity; the share of bots suspended), into ``round_r/platform/``.

Outputs: ``rounds.csv`` (one row per round), ``arms_race.png`` (detector recall on
learned bots before and after retraining, false positives and bot influence per round;
beside it the platform's scorecard per round) and each round's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..roles import socialbot as sb
from ..roles.detector import BUILTIN_SEEDS, detector_from, evaluate, fit, world_accounts
from ..world.influence import hub_and_spoke_communities

HELD_OUT_SEED = 2
#: the platform scorecard each round reports (`experiments.bots_on_platform.play`)
PLATFORM_COLUMNS = (
    "facts_inside", "bot_post_share", "never_reposted_share", "camp_modularity",
    "bots_suspended", "bot_activities",
)  # fmt: skip
COLUMNS = (
    "round", "influence_ratio", "accuracy_before", "recall_before", "false_positives_before",
    "accuracy_after", "recall_after", "false_positives_after", "train_seconds",
    *(f"platform_{k}" for k in PLATFORM_COLUMNS),
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    rounds: int = 3
    iterations: int = 40  # RLlib PPO iterations per round
    batch: int = 2000
    episodes: int = 20  # games per round for traces and scores
    graph_users: int = 1500
    workers: int = 0
    seed: int = 0
    citizens: int = 3000  # users of the `default` runs the citizens come from
    platform_users: int = 3000  # users of the `default` run scored each round
    platform_steps: int | None = None  # its steps (None: the scenario's 100)

    @classmethod
    def quick(cls, **kw) -> Settings:
        return cls(**{"rounds": 2, "iterations": 2, "batch": 500, "episodes": 3,
                      "graph_users": 400, "citizens": 1000, "platform_users": 600,
                      "platform_steps": 20, **kw})  # fmt: skip


class _Never:
    check_every = 20

    def flags(self, counts):
        return np.zeros(len(counts), bool)


def platform_accounts(seed: int, users: int):
    """(counts, is_bot) of ``default`` at ``users`` users, 100 days, in memory."""
    from ..build import build_world
    from ..config import load_scenario

    world, sc = build_world(
        load_scenario("default", [f"users={users}", "record.events=none", f"seed={seed}"])
    )
    for _ in range(sc.steps):
        world.step()
    return world_accounts(world)


def bot_traces(policy, s: Settings, seed: int) -> tuple[np.ndarray, float]:
    """(counts at every check of ``s.episodes`` games, mean influence ratio)."""
    traces, ratios = [], []
    for k in range(s.episodes):
        rng = np.random.default_rng([seed, k])
        graph = hub_and_spoke_communities(rng, s.graph_users)
        game = sb.SocialbotGame(graph, _Never(), sb.TEST_HORIZON, seed=int(rng.integers(2**31)))
        while not game.done:
            before = game.total // game.check_every
            game.act(*policy.turn(game, rng))
            if game.total // game.check_every > before:
                traces.append(game.counts.copy())
        ratios.append(game.sigma / game.reference)
    return np.array(traces, np.int64).reshape(-1, 4), float(np.mean(ratios))


def score(detector, traces, citizens) -> dict:
    counts = np.vstack([traces, citizens])
    is_bot = np.r_[np.ones(len(traces), bool), np.zeros(len(citizens), bool)]
    m = evaluate(detector, counts, is_bot)
    false_pos = float(detector.flags(citizens).mean()) if len(citizens) else float("nan")
    return {"accuracy": m["accuracy"], "recall": m["recall"], "false_positives": false_pos}


def run(s: Settings, out: Path, progress=None) -> list[dict]:
    from ..learn import marl

    out = Path(out)
    learn_parts = [platform_accounts(seed, s.citizens) for seed in BUILTIN_SEEDS]
    base_counts = np.vstack([c for c, _ in learn_parts])
    base_bots = np.concatenate([b for _, b in learn_parts])
    held_counts, held_bots = platform_accounts(HELD_OUT_SEED, s.citizens)
    citizens = held_counts[~held_bots]
    detector_path = None  # the built-in one first
    detector = detector_from("builtin")
    seen_traces: list[np.ndarray] = []
    rows = []
    for r in range(1, s.rounds + 1):
        folder = out / f"round_{r}"
        ms = marl.MARLSettings(
            iterations=s.iterations, batch=s.batch, workers=s.workers, seed=s.seed + r,
            graph_users=s.graph_users, detector=str(detector_path) if detector_path else "builtin",
        )  # fmt: skip
        training = marl.train(ms, folder / "bot")
        policy = marl.load_policy(folder / "bot" / marl.POLICY_FILE)
        learn_traces, _ = bot_traces(policy, s, seed=1000 * r)
        test_traces, influence = bot_traces(policy, s, seed=1000 * r + 1)
        before = score(detector, test_traces, citizens)
        seen_traces.append(learn_traces)
        traces = np.vstack(seen_traces)
        detector = fit(
            np.vstack([base_counts, traces]),
            np.r_[base_bots, np.ones(len(traces), bool)],
            seed=s.seed,
        )
        detector_path = detector.save(folder / "detector.json")
        after = score(detector, test_traces, citizens)
        platform = platform_round(s, folder)
        row = {"round": r, "influence_ratio": influence,
               **{f"{k}_before": v for k, v in before.items()},
               **{f"{k}_after": v for k, v in after.items()},
               "train_seconds": training[-1]["seconds"] if training else 0.0,
               **{f"platform_{k}": platform[k] for k in PLATFORM_COLUMNS}}  # fmt: skip
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def platform_round(s: Settings, folder: Path) -> dict:
    """The round on the platform: `default` (seed ``s.seed``) with this round's bots on
    the socialbots' policy line against this round's retrained detector, measured by
    the realism scorecard (`experiments.bots_on_platform.play`)."""
    from .bots_on_platform import arm_overrides, play

    keys = [f"users={s.platform_users}", f"seed={s.seed}"]
    if s.platform_steps is not None:
        keys.append(f"steps={s.platform_steps}")
    keys += arm_overrides(
        "learned", folder / "bot" / "policy.safetensors", str((folder / "detector.json").resolve())
    )
    return play("default", keys, folder / "platform")


def write_outputs(out: Path, rows: list[dict]) -> dict:
    from matplotlib.figure import Figure

    from ..outputs import replace_file
    from .tables import write_rows

    out = Path(out)
    paths = {"rounds": write_rows(out / "rounds.csv", COLUMNS, rows)}
    fig = Figure(figsize=(11, 4), dpi=110)
    ax, right = fig.subplots(1, 2)
    r = [row["round"] for row in rows]
    ax.plot(
        r,
        [row["recall_before"] for row in rows],
        "o-",
        label="detector recall on learned bots, before retraining",
    )
    ax.plot(
        r, [row["recall_after"] for row in rows], "s-", label="... after retraining on their traces"
    )
    ax.plot(
        r,
        [row["false_positives_after"] for row in rows],
        ":",
        label="false positives on citizens, after",
    )
    ax.plot(r, [row["influence_ratio"] for row in rows], "^--", label="bot influence ratio")
    ax.set_xlabel("round")
    ax.set_xticks(r)
    ax.set_ylim(-0.05, 1.15)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("the arms race: bots learn, the detector learns back", fontsize=9)
    for key, style, label in (
        ("platform_bot_post_share", "o-", "F7: bots' share of posts"),
        ("platform_never_reposted_share", "s-", "F4: posts never shared"),
        ("platform_camp_modularity", "^-", "F6: camp modularity"),
        ("platform_bots_suspended", ":", "bots suspended"),
    ):
        right.plot(r, [row[key] for row in rows], style, label=label)
    twin = right.twinx()
    twin.plot(r, [row["platform_facts_inside"] for row in rows], "kD--", label="facts in band")
    twin.set_ylabel("facts in their bands", fontsize=8)
    twin.set_ylim(0, 9)
    right.set_xlabel("round")
    right.set_xticks(r)
    right.set_ylim(-0.05, 1.05)
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7, loc="upper left")
    twin.legend(fontsize=7, loc="upper right")
    right.set_title("default with each round's bots and detector: the scorecard", fontsize=9)
    fig.tight_layout()
    paths["plot"] = replace_file(out / "arms_race.png", fig.savefig)
    return paths
