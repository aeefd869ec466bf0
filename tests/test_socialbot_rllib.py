"""The RLlib adapter of the socialbot game (envs/socialbot_rllib.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from ray.rllib.utils.pre_checks.env import check_multiagent_environments  # noqa: E402

from townsquare.envs.socialbot_rllib import (  # noqa: E402
    ACTIVITY,
    TARGET,
    SocialbotMultiAgentEnv,
    policy_mapping_fn,
)
from townsquare.roles import socialbot as sb  # noqa: E402


def test_the_adapter_passes_rllib_s_own_check():
    check_multiagent_environments(SocialbotMultiAgentEnv())


def play(env, seed, pick=lambda obs, rng: 0):
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    turns, rewards = [], {ACTIVITY: 0.0, TARGET: 0.0}
    while True:
        (agent,) = obs
        if agent == ACTIVITY:
            action = int(rng.integers(4))
        else:
            assert set(obs[TARGET]) == {"observations", "action_mask"}
            action = pick(obs[TARGET], rng)
        turns.append((agent, action))
        obs, reward, term, trunc, info = env.step({agent: action})
        for k, v in reward.items():
            rewards[k] += v
        if term["__all__"] or trunc["__all__"]:
            return turns, rewards, info, term["__all__"]


def test_the_levels_take_turns_and_share_the_game_s_rewards():
    env = SocialbotMultiAgentEnv({"horizon": 40})
    turns, rewards, info, detected = play(env, 0)
    for (agent, action), (nxt, _) in zip(turns, turns[1:], strict=False):
        # the target agent acts right after an interactive activity, and only then
        assert (nxt == TARGET) == (agent == ACTIVITY and action in sb.INTERACTIVE)
    game = env.inner.game
    ratio = info[ACTIVITY]["influence_ratio"]
    assert ratio == pytest.approx(game.sigma / game.reference)
    # the activity agent also earns the survival bonus of each passed check
    bonus = sb.SURVIVAL_BONUS * game.checks
    assert rewards[ACTIVITY] - rewards[TARGET] == pytest.approx(bonus, abs=1e-9)
    assert play(SocialbotMultiAgentEnv({"horizon": 40}), 0)[1] == rewards  # deterministic
    assert policy_mapping_fn(TARGET) == TARGET and policy_mapping_fn(ACTIVITY) == ACTIVITY


def test_a_masked_slot_takes_the_first_candidate():
    env = SocialbotMultiAgentEnv({"horizon": 20})
    env.reset(seed=1)
    obs, *_ = env.step({ACTIVITY: 3})
    assert obs[TARGET]["action_mask"].sum() == sb.SLOTS
    first = int(env.inner.game.slots()[0])
    env.step({TARGET: sb.SLOTS + 5})  # out of range: the first full slot
    assert env.inner.game.chosen == [first]
