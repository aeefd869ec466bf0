"""The socialbot as a learner on the platform (roles/socialbot_platform.py): its actions,
observation and reward; socialbots in platform_v0 (PettingZoo); the trained bot's
policy.safetensors on the socialbot's policy line; and the platform experiment's
arms (experiments/bots_on_platform.py)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from cli_checks import invoke, one_line_error  # noqa: E402
from conftest import SMALL  # noqa: E402
from resume_checks import assert_resume_is_exact  # noqa: E402
from townsquare.config import validate  # noqa: E402
from townsquare.envs import platform_v0  # noqa: E402
from townsquare.roles import ROLES, make_role  # noqa: E402
from townsquare.roles import socialbot as sb  # noqa: E402
from townsquare.roles.socialbot_platform import SLOTS, SocialbotRole  # noqa: E402
from townsquare.world.actions import Observations  # noqa: E402
from townsquare.world.population import Role  # noqa: E402

N_USERS = 40
T, R, A, M = range(4)


def bot_observations(authors, followers=None, followed=None, users=(0,), step=3):
    """Observations of bots ``users`` whose feeds hold items by ``authors`` (one row per
    bot, -1 for an empty slot)."""
    authors = np.atleast_2d(np.asarray(authors, np.int64))
    n, k = authors.shape
    all_followers = np.zeros(N_USERS, np.int64) if followers is None else np.asarray(followers)
    return Observations(
        step=step,
        role=Role.SOCIALBOT,
        users=np.asarray(users, np.int64),
        opinion=np.full((n, 1), 0.9),
        followers=all_followers[np.asarray(users)],
        followees=np.zeros(n, np.int64),
        feed=np.where(authors >= 0, np.arange(n * k).reshape(n, k), -1),
        feed_author=authors,
        feed_stance=np.zeros((n, k)),
        feed_topic=np.zeros((n, k), np.int64),
        feed_likes=np.zeros((n, k), np.int64),
        feed_followed=np.zeros((n, k), bool) if followed is None else np.asarray(followed),
        n_users=N_USERS,
        topics=1,
        all_followers=all_followers,
        all_followees=np.ones(N_USERS, np.int64),
    )


def act(role, obs, action, memory=None):
    memory = memory if memory is not None else role.new_memory(N_USERS)
    rows = np.arange(len(obs))
    return role.to_actions(obs, rows, np.atleast_1d(action), memory), memory


def test_the_socialbot_is_a_learnable_role_laid_out_as_the_game():
    role = make_role("socialbot")
    assert ROLES["socialbot"] is SocialbotRole and role.world_role == Role.SOCIALBOT
    # the layout Socialbot-v0 trains on: level 1, the slots' features, the mask
    assert role.obs_size == len(sb.LEVEL1_FEATURES) + SLOTS * (len(sb.SLOT_FEATURES) + 1)
    assert role.n_actions == 4 * SLOTS == len(role.action_names)
    assert role.action_names[SLOTS + 2] == "repost@slot2"
    with pytest.raises(ValueError, match="two_level"):
        SocialbotRole("limited")


def test_a_post_states_the_campaign_and_touches_no_feed_item():
    role = SocialbotRole("two_level")
    out, mem = act(role, bot_observations([[5, 6]]), T * SLOTS + 1)
    assert out.post[0] and out.post_stance[0] == pytest.approx(0.9)
    assert not out.repost.any() and not out.reply.any() and (out.follow < 0).all()
    assert mem.count_post[0] == 1 and mem.engaged[0] == 0


@pytest.mark.parametrize(("activity", "field"), [(R, "repost"), (A, "reply")])
def test_a_repost_or_reply_engages_the_chosen_slot(activity, field):
    role = SocialbotRole("two_level")
    out, mem = act(role, bot_observations([[5, 6, 7]]), activity * SLOTS + 1)
    assert getattr(out, field)[0].tolist() == [False, True, False]
    assert not out.post[0] and mem.engaged[0] == 1
    if activity == A:
        assert out.reply_stance[0, 1] == pytest.approx(0.9)


def test_a_mention_follows_the_author_and_an_empty_slot_takes_the_first_item():
    role = SocialbotRole("two_level")
    out, mem = act(role, bot_observations([[-1, 6, 7]]), M * SLOTS + 20)
    assert out.follow[0].tolist()[0] == 6 and (out.follow[0, 1:] < 0).all()
    assert mem.count_mention[0] == 1
    # its own post is no one to engage
    out, _ = act(role, bot_observations([[0, 7]]), R * SLOTS + 0)
    assert out.repost[0].tolist() == [False, True]


def test_courting_a_large_account_repeats_the_activity_on_the_next_items():
    role = SocialbotRole("two_level")
    followers = np.zeros(N_USERS, np.int64)
    followers[5] = 10**6  # rho ~ 0: the activity is repeated REPEATS more times
    out, mem = act(role, bot_observations([[5, 6, 7, 8, 9, 10]], followers), A * SLOTS)
    assert out.reply[0].tolist() == [True, True, True, True, False, False]
    assert mem.count_reply[0] == 1 + sb.REPEATS and mem.engaged[0] == 1
    # an account no larger than the bot's engaged set costs nothing: rho = 1
    out, _ = act(role, bot_observations([[6, 7, 8]]), A * SLOTS)
    assert out.reply[0].sum() == 1


def test_a_mention_follows_each_author_once_and_none_it_follows():
    role = SocialbotRole("two_level")
    followers = np.zeros(N_USERS, np.int64)
    followers[5] = 10**6  # courting: 3 more follows on the next items
    obs = bot_observations([[5, 6, 6, 6, 7]], followers)
    out, mem = act(role, obs, M * SLOTS)
    assert sorted(out.follow[0][out.follow[0] >= 0].tolist()) == [5, 6, 7]
    assert mem.count_mention[0] == 3
    followed = [[True, False, False, False, False]]
    out, mem = act(role, bot_observations([[5, 6, 6, 6, 7]], followers, followed), M * SLOTS)
    assert sorted(out.follow[0][out.follow[0] >= 0].tolist()) == [6, 7]
    assert mem.count_mention[0] == 2 and mem.engaged[0] == 1


def test_the_courting_draw_differs_between_worlds_and_repeats_within_one():
    from townsquare.roles.socialbot_platform import _uniform

    users = np.arange(200, dtype=np.int64)
    salt = np.zeros(200, np.uint64)
    a, b = _uniform(users, 3, salt), _uniform(users, 3, salt + np.uint64(12345))
    assert np.array_equal(a, _uniform(users, 3, salt)) and not np.allclose(a, b)
    assert 0.4 < a.mean() < 0.6 and ((0 <= a) & (a < 1)).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-1, N_USERS - 1), min_size=1, max_size=6),
    st.integers(0, 4 * SLOTS - 1),
    st.integers(0, 10**5),
)
def test_the_memory_counts_exactly_what_the_actions_do(authors, action, big):
    role = SocialbotRole("two_level")
    followers = np.full(N_USERS, big, np.int64)
    obs = bot_observations([authors], followers, users=(39,))
    out, mem = act(role, obs, action)
    assert mem.count_post[39] == int(out.post[0])
    assert mem.count_repost[39] == out.repost[0].sum() <= 1 + sb.REPEATS
    assert mem.count_reply[39] == out.reply[0].sum() <= 1 + sb.REPEATS
    assert mem.count_mention[39] == (out.follow[0] >= 0).sum() <= 1 + sb.REPEATS
    # only items that are there and not its own are engaged
    engaged = out.repost[0] | out.reply[0]
    assert (np.asarray(authors)[engaged] >= 0).all() and (np.asarray(authors)[engaged] != 39).all()


def test_the_observation_reads_the_feed_as_the_games_slots():
    role = SocialbotRole("two_level")
    followers = np.zeros(N_USERS, np.int64)
    followers[[5, 6]] = [99, 9]
    obs = bot_observations([[5, 6, -1]], followers, followed=[[False, True, False]])
    v = role.observe(obs, np.arange(1), role.new_memory(N_USERS))[0]
    level1 = len(sb.LEVEL1_FEATURES)
    slots = v[level1 : level1 + SLOTS * 5].reshape(SLOTS, 5)
    mask = v[level1 + SLOTS * 5 :]
    assert mask[:3].tolist() == [1, 1, 0] and not mask[3:].any()
    assert slots[0, 0] == pytest.approx(1.0)  # the largest account
    assert slots[0, 1] == pytest.approx(1 - 1 / 100)  # cost 1 - rho, nothing engaged yet
    assert slots[1, 2] == 1.0 and slots[1, 3] == 0.0  # followed: no new audience
    assert slots[0, 3] == pytest.approx(99 / N_USERS)
    assert not slots[2:].any()
    assert role.observation_space().contains(v)


def test_socialbots_learn_in_platform_v0_and_pass_the_pettingzoo_test():
    from pettingzoo.test import parallel_api_test

    env = platform_v0.parallel_env(learners={"socialbot": "all", "influencer": "all"})
    bots = [a for a in env.possible_agents if a.startswith("socialbot_")]
    assert len(bots) == 10 and env.action_space(bots[0]).n == 4 * SLOTS
    parallel_api_test(env, num_cycles=15)
    obs, infos = env.reset(seed=3)
    gained = 0.0
    for _ in range(10):
        step = env.step({a: env.action_space(a).sample() for a in env.agents})
        gained += sum(v for a, v in step[1].items() if a.startswith("socialbot_"))
    info = step[4][bots[0]]
    assert {"followers", "activities", "engaged"} <= set(info)
    assert 0 < info["activities"] <= 10 * (1 + sb.REPEATS)
    assert np.isfinite(gained)


@pytest.fixture(scope="module")
def bot_file(tmp_path_factory):
    import torch

    from townsquare.policies.socialbot_network import activity_net, save_policy, slot_net

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bot") / "policy.safetensors"
    return save_policy(path, activity_net(), slot_net(), sb.TRAIN_HORIZON)


def bot_scenario(policy, **extra):
    sc = copy.deepcopy(SMALL)
    sc["roles"]["socialbot"] = {"policy": str(policy), "fraction": 0.1}
    sc["moderation"] = {"detector": "learned", "model": "builtin", "check_every": 2}
    sc.update(extra)
    return validate(sc)


def test_the_trained_bot_drives_the_socialbots_of_a_run(bot_file, tmp_path):
    import pandas as pd

    from townsquare.policies.socialbot_network import load_policy
    from townsquare.runner import Run

    Run.start(bot_scenario(bot_file), tmp_path / "run").execute()
    users = pd.read_parquet(tmp_path / "run" / "users.parquet")
    bots = users[users["role"] == "socialbot"]
    # this network picks the same activity in the same state; what the bots did is one
    # of its four activities, chosen by the policy and not by the scripted mix
    policy = load_policy(bot_file)
    first = int(policy.decide(SocialbotRole("two_level").observe_absent(
        np.zeros(1, np.int64), np.zeros(1, np.int64), make_role("socialbot").new_memory(1)
    ))[0] // SLOTS)  # fmt: skip
    done = bots[["posts", "reposts", "replies", "follows"]].to_numpy().sum(axis=0)
    assert done.sum() > 0 and done[first] > 0


def test_a_run_with_the_trained_bot_resumes_exactly(bot_file, tmp_path):
    assert_resume_is_exact(bot_scenario(bot_file), tmp_path, stop_after=4, tables=("posts",))


def test_a_socialbot_policy_is_refused_by_another_role_and_a_ppo_file_by_the_bot(
    bot_file, small_scenario, tmp_path
):
    result = invoke("run", small_scenario, "--set", f"roles.influencer.policy={bot_file}",
                    "--out", tmp_path / "a")  # fmt: skip
    one_line_error(result, "checkpoint for role 'socialbot'", "influencer")
    fake = tmp_path / "other.safetensors"
    fake.write_bytes(b"\x00" * 4)
    result = invoke("run", small_scenario, "--set", f"roles.socialbot.policy={fake}",
                    "--out", tmp_path / "b")  # fmt: skip
    one_line_error(result, "other.safetensors")


def test_the_platform_experiment_compares_scripted_and_learned_bots(bot_file, tmp_path):
    import csv

    from townsquare.experiments import bots_on_platform as bp

    s = bp.PlatformSettings.quick(scenarios=("default",), users=400, steps=12)
    rows = bp.run(s, bot_file, tmp_path)
    assert [(r["arm"], r["seed"]) for r in rows] == [(a, 0) for a in bp.ARMS]
    scripted, with_detector, learned = rows
    assert scripted["bot_account_share"] == learned["bot_account_share"] > 0
    assert scripted["bot_posts"] > 0 and scripted["bot_replies"] == 0
    # the learned bots act by the network, not by the scripted mix
    assert (learned["bot_posts"], learned["bot_replies"]) != (
        scripted["bot_posts"], scripted["bot_replies"],
    )  # fmt: skip
    paths = bp.write_outputs(tmp_path, rows)
    with open(paths["platform_summary"]) as fh:
        arms = [r["arm"] for r in csv.DictReader(fh)]
    assert arms == [*bp.ARMS, "learned - scripted_detector", "learned - scripted"]
    assert paths["platform_plot"].read_bytes()[:4] == b"\x89PNG"
    assert any("learned bots - scripted" in line for line in bp.display_lines(rows))


def test_train_socialbot_with_q_learning_on_the_platform(tmp_path, small_scenario):
    out = tmp_path / "q"
    result = invoke("train", "socialbot", "--algo", "q", "--episodes", "2", "--out", out)
    assert result.exit_code == 0, result.output
    table = np.load(out / "policy.npz", allow_pickle=False)
    assert table["q"].shape == (6, 4 * SLOTS)
    result = invoke("run", small_scenario, "--set", f"roles.socialbot.policy={out / 'policy.npz'}",
                    "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 0, result.output
