"""Environments: what a learner costs on top of the world it lives in.

In the influencer environment's built-in scenario (500 users, 50 steps an episode,
offline text), measured in one process:

* the bare world: `World.step` on the same scenario (the reference, 1.00);
* the Gymnasium environment stepped with random actions (observation, action
  substitution, reward, text for the learner's posts);
* tabular Q-learning episodes (`train_q`);
* the PettingZoo parallel environment with every influencer learning;
* the platform environment (`platform_v0`) with every influencer and 50 citizens
  learning at once, and one shared Q-table per role trained on it (`train_q_platform`).

Reported as steps per second and as a ratio to the bare world. Also the default scenario
(10,000 users) with a learned influencer policy on the policy line against the scripted
one. Writes benchmarks/results/envs.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.envs import platform_v0
from townsquare.envs.influencer_v0 import InfluencerEnv, parallel_env
from townsquare.learn.q_learning import QConfig, train_q, train_q_platform
from townsquare.policies.q_table import QTable
from townsquare.roles import InfluencerRole

RESULTS = Path(__file__).resolve().parent / "results" / "envs.json"
EPISODES = 40


def bare_world_steps_per_s(scenario) -> float:
    steps = 0
    start = time.perf_counter()
    for seed in range(EPISODES):
        world, sc = build_world(scenario.model_copy(update={"seed": seed}))
        for _ in range(sc.steps):
            world.step()
        steps += sc.steps
    return steps / (time.perf_counter() - start)


def gym_steps_per_s(space: str) -> float:
    env = InfluencerEnv(action_space=space)
    steps = 0
    start = time.perf_counter()
    for seed in range(EPISODES):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            steps += 1
            done = term or trunc
    return steps / (time.perf_counter() - start)


def q_steps_per_s() -> float:
    env = InfluencerEnv()
    start = time.perf_counter()
    _, records = train_q(env, QConfig(episodes=EPISODES))
    return sum(r.steps for r in records) / (time.perf_counter() - start)


def parallel_steps_per_s(make=parallel_env) -> float:
    env = make()
    steps = 0
    start = time.perf_counter()
    for seed in range(EPISODES):
        env.reset(seed=seed)
        while env.agents:
            env.step({a: env.action_space(a).sample() for a in env.agents})
            steps += 1
    return steps / (time.perf_counter() - start)


def platform_q_steps_per_s() -> float:
    env = platform_v0.parallel_env()
    start = time.perf_counter()
    _, records = train_q_platform(env, QConfig(episodes=EPISODES))
    return sum(r.steps for r in records["citizen"]) / (time.perf_counter() - start)


def default_run_seconds(policy: str) -> float:
    sc = load_scenario("default", [f"roles.influencer.policy={policy}", "record.events=none"])
    world, _ = build_world(sc)
    start = time.perf_counter()
    for _ in range(sc.steps):
        world.step()
    return time.perf_counter() - start


def main() -> None:
    console = Console()
    scenario = load_scenario("influencer_env")
    # compile every kernel once
    bare_world_steps_per_s(scenario.model_copy(update={"steps": 2}))
    InfluencerEnv().reset(seed=0)

    bare = bare_world_steps_per_s(scenario)
    rows = [
        ("bare world (World.step)", bare),
        ("Gymnasium env, limited, random actions", gym_steps_per_s("limited")),
        ("Gymnasium env, full, random actions", gym_steps_per_s("full")),
        ("Q-learning (train_q)", q_steps_per_s()),
        ("PettingZoo parallel env, 3 learners", parallel_steps_per_s()),
        (
            "platform_v0, 3 influencers + 50 citizens learning",
            parallel_steps_per_s(platform_v0.parallel_env),
        ),
        ("Q-learning, one table per role, on platform_v0", platform_q_steps_per_s()),
    ]
    table = QTable.empty(InfluencerRole())
    table.q[:, 1] = 1.0
    path = RESULTS.parent / "_bench_policy.npz"
    table.save(path)
    try:
        scripted = default_run_seconds("scripted")
        learned = default_run_seconds(str(path))
    finally:
        path.unlink(missing_ok=True)

    out = Table(title=f"influencer_env (500 users), {EPISODES} episodes of 50 steps")
    for col in ("what", "steps/s", "× bare world"):
        out.add_column(col, justify="left" if col == "what" else "right")
    for name, rate in rows:
        out.add_row(name, f"{rate:,.0f}", f"{rate / bare:.2f}")
    console.print(out)
    console.print(
        f"default scenario, 100 steps: scripted influencers {scripted:.2f} s, learned "
        f"(Q-table) influencers {learned:.2f} s (× {learned / scripted:.2f})"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "episodes": EPISODES,
                "steps_per_s": {name: round(rate, 1) for name, rate in rows},
                "ratio_to_bare_world": {name: round(rate / bare, 3) for name, rate in rows},
                "default_100_steps_s": {
                    "scripted": round(scripted, 3),
                    "learned": round(learned, 3),
                },
                "numpy": np.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
