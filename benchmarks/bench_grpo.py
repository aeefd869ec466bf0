"""Language-model policies and the verifiable reward (issue 14): how fast a tiny local
model writes posts through `policies/lm.py`, and what one verifiable reward costs
against one world step.

* prompts/s: the citizens of a 1,000-user `candidate_env` write their posts with a
  2-layer GPT-2 built here (no download), `lm:transformers:PATH`, 24-token completions,
  over 5 steps after one warm-up step: the policy's whole path (prompts, generation
  through the replay cache, stance reading), in batches of 16 (the backend's default)
  against one request at a time, in the same process;
* one verifiable reward (`learn/verifiable.panel_vote_reward`: a fork, a panel of 200
  reading the message, the intention before and after) in `election` at 10^4 users,
  against one `World.step` of the same world, averaged over 20 rewards and 10 steps;
  the same for the engagement reward (`panel_engagement_reward`) of an influencer in
  `default` at 10^4 users.

Writes benchmarks/results/grpo.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.learn.verifiable import panel_engagement_reward, panel_vote_reward
from townsquare.policies.lm import TEMPLATES
from townsquare.text.offline import OfflineGenerator
from townsquare.text.tiny import tiny_causal_lm
from townsquare.world.population import Role

RESULTS = Path(__file__).resolve().parent / "results" / "grpo.json"


def tiny_model(folder: Path) -> Path:
    pack = OfflineGenerator().pack_for(0)
    return tiny_causal_lm(folder, [*pack.pro_claims, *pack.con_claims, *TEMPLATES.values()])


def prompts_per_second(model: Path, batch_size: int) -> dict:
    sc = load_scenario(
        "candidate_env",
        ["users=1000", f"roles.citizen.policy=lm:transformers:{model}", "steps=40"],
    )
    world, _ = build_world(sc)
    policy = world.policies[Role.CITIZEN]
    policy.max_tokens = 24
    policy.inner.batch_size = batch_size
    world.step()  # warm-up
    before = policy.counts["prompts"]
    start = time.perf_counter()
    for _ in range(5):
        world.step()
    seconds = time.perf_counter() - start
    prompts = policy.counts["prompts"] - before
    return {"prompts": prompts, "seconds": seconds, "prompts_per_s": prompts / seconds}


def reward_cost(users: int, scenario: str = "election") -> dict:
    world, _ = build_world(load_scenario(scenario, [f"users={users}", "record.events=none"]))
    for _ in range(10):
        world.step()
    start = time.perf_counter()
    for _ in range(10):
        world.step()
    step_s = (time.perf_counter() - start) / 10
    start = time.perf_counter()
    for k in range(20):
        if scenario == "election":
            panel_vote_reward(world, int(world.election.candidates[0]), -0.4, 200, seed=k)
        else:
            author = int(world.population.ids_of(Role.INFLUENCER)[0])
            panel_engagement_reward(world, author, -0.4, 200, seed=k)
    reward_s = (time.perf_counter() - start) / 20
    return {"step_ms": step_s * 1e3, "reward_ms": reward_s * 1e3, "over_step": reward_s / step_s}


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp))
        one = prompts_per_second(model, 1)
        rate = prompts_per_second(model, 16)
    rate["over_one_at_a_time"] = rate["prompts_per_s"] / one["prompts_per_s"]
    cost = reward_cost(10_000)
    engagement = reward_cost(10_000, "default")
    console.print(
        f"lm:transformers (tiny GPT-2, CPU): {rate['prompts']:,} prompts in "
        f"{rate['seconds']:.1f} s = {rate['prompts_per_s']:.0f} prompts/s in batches of 16, "
        f"{rate['over_one_at_a_time']:.1f}x one request at a time "
        f"({one['prompts_per_s']:.0f} prompts/s)",
        highlight=False,
    )
    for name, c in (("vote", cost), ("engagement", engagement)):
        console.print(
            f"one {name} reward (panel 200) at 10,000 users: {c['reward_ms']:.1f} ms = "
            f"{c['over_step']:.2f} world steps ({c['step_ms']:.1f} ms)",
            highlight=False,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "lm_policy": {k: round(v, 3) for k, v in rate.items()},
                "lm_policy_one_at_a_time": {k: round(v, 3) for k, v in one.items()},
                "verifiable_reward": {k: round(v, 4) for k, v in cost.items()},
                "engagement_reward": {k: round(v, 4) for k, v in engagement.items()},
                "numpy": np.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
