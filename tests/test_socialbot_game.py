"""ACORN's socialbot game (roles/socialbot.py) and townsquare/Socialbot-v0."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import townsquare.envs  # noqa: F401  (registers the ids)
from townsquare.roles import socialbot as sb
from townsquare.roles.detector import CHECK_EVERY, detector_from
from townsquare.world.influence import PropagationGraph, hub_and_spoke_communities

HOAXY = Path(__file__).resolve().parents[2] / "shared" / "data" / "hoaxy"


class Never:
    check_every = CHECK_EVERY

    def flags(self, counts):
        return np.zeros(len(counts), bool)


class Always(Never):
    def flags(self, counts):
        return np.ones(len(counts), bool)


def game(detector=None, horizon=60, seed=0, graph=None):
    graph = graph or hub_and_spoke_communities(np.random.default_rng(seed))
    return sb.SocialbotGame(graph, detector or detector_from("builtin"), horizon, seed=seed)


def test_the_environment_passes_gymnasium_s_checker():
    env = gym.make("townsquare/Socialbot-v0")
    check_env(env.unwrapped, skip_render_check=True)


def test_episodes_are_deterministic_by_seed():
    def play(seed):
        env = gym.make("townsquare/Socialbot-v0")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out, done = [obs], False
        while not done:
            obs, reward, term, trunc, _ = env.step(env.action_space.sample())
            out.append(np.append(obs, reward))
            done = term or trunc
        return np.concatenate(out)

    assert np.array_equal(play(3), play(3))
    assert not np.array_equal(play(3), play(4))


def test_the_scripted_bot_is_caught_at_the_first_check_and_a_human_mix_is_not():
    g = game()
    rng = np.random.default_rng(0)
    while not g.done:
        turn = g.act(*sb.scripted_turn(g, rng))
    assert turn.detected and g.total >= CHECK_EVERY and g.checks == 0
    g = game(seed=1)
    while not g.done:
        turn = g.act(2, sb.greedy_target(g))  # replies only: no bot replies on the platform
    assert not turn.detected and g.total >= 60 and g.checks == 3


def test_a_detector_that_always_flags_ends_the_episode_at_the_first_check():
    env = gym.make("townsquare/Socialbot-v0", detector=Always())
    env.reset(seed=0)
    for k in range(1, CHECK_EVERY + 1):
        _, reward, term, trunc, info = env.step([0, 0])  # posts: never repeated
        if k < CHECK_EVERY:
            assert not (term or trunc)
    assert term and not trunc and info["detected"] and info["activities"] == CHECK_EVERY
    env = gym.make("townsquare/Socialbot-v0", detector=Never(), horizon=40)
    env.reset(seed=0)
    total = 0.0
    for _ in range(40):
        _, reward, term, trunc, info = env.step([0, 0])
        total += reward
    assert trunc and not term and total == pytest.approx(2 * sb.SURVIVAL_BONUS)


def test_courting_a_large_account_costs_repeats_at_rate_one_minus_rho():
    # a star: the hub reaches 50 users; a spoke of a small star reaches 1
    src = [0] * 50 + [60]
    dst = list(range(1, 51)) + [61]
    graph = PropagationGraph.from_edges(62, src, dst)
    repeats_hub, repeats_small = [], []
    for seed in range(400):
        g = game(Never(), graph=graph, seed=seed)
        repeats_hub.append(g.act(3, 0).repeated > 0)  # rho = 1 / 51
        g = game(Never(), graph=graph, seed=seed)
        repeats_small.append(g.act(3, 60).repeated > 0)  # rho = 1 / 2
    assert np.mean(repeats_hub) == pytest.approx(50 / 51, abs=0.03)
    assert np.mean(repeats_small) == pytest.approx(0.5, abs=0.08)
    g = game(Never(), graph=graph)
    assert g.act(3, 0).repeated in (0, sb.REPEATS) and g.counts[3] in (1, 1 + sb.REPEATS)


def test_picks_add_up_to_about_the_final_influence_ratio():
    g = game(Never(), seed=2)
    picks = 0.0
    while not g.done:
        turn = g.act(1, sb.greedy_target(g))
        picks += turn.pick_reward
    assert turn.final_reward == pytest.approx(g.sigma / g.reference)
    assert picks == pytest.approx(turn.final_reward, rel=0.15)  # Monte Carlo per pick
    # an ineligible target (already chosen) takes no one and earns nothing
    g = game(Never(), seed=2)
    first = sb.greedy_target(g)
    g.act(1, first)
    again = g.act(1, first)
    assert again.target == -1 and again.pick_reward == 0.0


def test_level_two_sees_the_largest_unchosen_accounts_with_their_costs():
    g = game(Never(), seed=0)
    feats, mask = g.level2_observation()
    users = g.slots()
    assert mask.all() and (np.diff(g.out_degree[users]) <= 0).all()
    assert feats[0, 1] == pytest.approx(1 - g.rho(int(users[0])))
    g.act(3, int(users[0]))
    assert int(users[0]) not in g.slots()  # chosen users leave the slots
    assert g.level2_observation()[0][:, 2].max() > 0  # audiences now overlap


@pytest.mark.skipif(not HOAXY.is_dir(), reason="../shared/data is not beside this checkout")
def test_the_hoaxy_folder_gives_the_test_graphs_in_turn():
    env = gym.make("townsquare/Socialbot-v0", graphs=HOAXY, horizon=sb.TEST_HORIZON)
    sizes = []
    for ep in range(3):
        _, info = env.reset(seed=ep)
        sizes.append(env.unwrapped.game.graph.edge_count)
    assert info["graph_users"] == 1500 and len(set(sizes)) == 3


def test_bad_input_is_clear(tmp_path):
    with pytest.raises(ValueError, match="holds no edge lists"):
        gym.make("townsquare/Socialbot-v0", graphs=tmp_path)
    with pytest.raises(ValueError, match="horizon"):
        gym.make("townsquare/Socialbot-v0", horizon=0)
    g = game(Never())
    with pytest.raises(ValueError, match="activity 7"):
        g.act(7)
