"""Several learning roles in one world (`townsquare.envs.platform_v0`), the citizen as a
learner (its environment, reward and checkpoint), and shared Q-tables trained on both
roles at once."""

from __future__ import annotations

import json

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test, seed_test

from townsquare.build import build_world
from townsquare.config import validate
from townsquare.envs import citizen_v0, platform_v0
from townsquare.learn.q_learning import QConfig, train_q, train_q_platform
from townsquare.policies.q_table import QTable
from townsquare.roles import CitizenRole
from townsquare.roles.citizen import ACTIONS
from townsquare.runner import Run
from townsquare.world.population import Role
from townsquare.world.posts import PostKind

STEPS = 8


def scenario(**extra) -> dict:
    """The built-in environment world, smaller and shorter."""
    data = {
        "name": "platform-test",
        "users": 300,
        "steps": STEPS,
        "seed": 3,
        "population": {"activity": {"mean": 0.1, "sigma": 2.0}},
        "graph": {"kind": "power_law", "mean_degree": 10, "attractiveness": 3},
        "roles": {
            "influencer": {"count": 3, "placement": "random"},
            "candidate": {"count": 0},
            "socialbot": {"fraction": 0.02},
        },
        "feed": {"k": 10, "window": 3},
        "record": {"events": "none"},
        "text": {"backend": "none"},
    }
    data.update(extra)
    return data


def both(**kw):
    return platform_v0.parallel_env(
        scenario=scenario(), learners={"influencer": "all", "citizen": 20}, **kw
    )


# ---------------------------------------------------------------- the platform env
def test_two_roles_learn_in_one_world_and_pass_the_pettingzoo_tests():
    env = both()
    assert env.possible_agents[:3] == ["influencer_0", "influencer_1", "influencer_2"]
    assert env.possible_agents[3:] == [f"citizen_{i}" for i in range(20)]
    assert env.observation_space("influencer_0").shape == (5,)
    assert env.observation_space("citizen_4").shape == (5,)
    assert env.action_space("citizen_4").n == len(ACTIONS)
    parallel_api_test(env, num_cycles=STEPS + 3)
    parallel_seed_test(lambda: both(), num_cycles=STEPS)
    seed_test(
        lambda: platform_v0.env(scenario=scenario(), learners={"influencer": "all", "citizen": 20}),
        num_cycles=STEPS,
    )


def test_each_role_keeps_its_own_options_and_spaces():
    env = platform_v0.parallel_env(
        scenario=scenario(),
        learners={"influencer": 2, "citizen": 3},
        influencer={"action_space": "full"},
        citizen={"self_observation": False},
    )
    assert env.possible_agents == [
        "influencer_0",
        "influencer_1",
        "citizen_0",
        "citizen_1",
        "citizen_2",
    ]
    assert env.action_space("influencer_1").n == 30
    assert env.observation_space("citizen_0").shape == (3,)
    obs, infos = env.reset(seed=1)
    users = [infos[a]["user"] for a in env.agents]
    world = env.core.world
    assert [int(world.population.role[u]) for u in users] == [Role.INFLUENCER] * 2 + [
        Role.CITIZEN
    ] * 3
    assert set(infos["citizen_0"]) == {"user", "opinion", "last_side"}
    assert set(infos["influencer_0"]) == {"user", "followers", "leader"}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"learners": {"socialbot": "all"}}, "'socialbot' cannot learn"),
        ({"learners": {}}, "at least one role"),
        ({"learners": {"citizen": 0}}, "give at least one"),
        ({"learners": {"citizen": "some"}}, "neither 'all' nor a count"),
        ({"learners": {"influencer": 4}}, "the scenario has 3 influencer users"),
        ({"learners": {"citizen": 5}, "influencer": {"action_space": "full"}}, "not among"),
        ({"learners": {"citizen": 5}, "citizen": {"speed": 2}}, "unknown option 'speed'"),
        ({"learners": {"citizen": 5}, "citizen": {"action_space": "full"}}, "limited"),
    ],
)
def test_bad_learner_settings_are_refused_naming_them(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        platform_v0.parallel_env(scenario=scenario(), **kwargs)


def test_a_shared_q_table_per_role_trains_on_both_roles_at_once():
    env = both()
    cfg = QConfig(episodes=40, seed=2)  # 40 x 8 = 320 steps
    tables, records = train_q_platform(env, cfg)
    assert set(tables) == {"influencer", "citizen"} == set(records)
    # every live agent's transition updates its role's table, once per step
    assert tables["influencer"].visits.sum() == 3 * STEPS * cfg.episodes
    assert tables["citizen"].visits.sum() == 20 * STEPS * cfg.episodes
    assert tables["citizen"].q.shape == (36, 3)
    assert np.abs(tables["citizen"].q).sum() > 0
    rec = records["citizen"][-1]
    assert rec.steps == STEPS and set(rec.end) == {"opinion", "last_side"}
    # the same seed gives the same training
    again, again_records = train_q_platform(both(), cfg)
    for name in tables:
        assert np.array_equal(tables[name].q, again[name].q)
        assert [r.ret for r in records[name]] == [r.ret for r in again_records[name]]
    env.close()


# ---------------------------------------------------------------- the citizen learner
def test_the_citizen_environment_passes_gymnasiums_checker():
    env = gymnasium.make("townsquare/Citizen-v0", scenario=scenario())
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert set(info) == {"step", "opinion", "last_side", "start_opinion", "start_last_side"}


def test_a_citizens_reward_is_the_clipped_feedback_on_its_last_post():
    env = citizen_v0.CitizenEnv(scenario=scenario(steps=30))
    env.reset(seed=4)
    me = env.learner_id
    world = env.core.world
    posts = world.posts
    rng = np.random.default_rng(0)
    seen_nonzero = False
    prev_post = None
    for t in range(30):
        action = int(rng.integers(3))
        _, reward, term, trunc, _ = env.step(action)
        expected = 0.0
        if prev_post is not None:
            # its post of the step before: every like it has came in this step (posts
            # reach feeds a step after they are written), and the replies written now
            lo, hi = posts.step_start[t], len(posts)
            replies = lo + np.flatnonzero(
                (posts.kind[lo:hi] == PostKind.REPLY) & (posts.parent[lo:hi] == prev_post)
            )
            agree = np.sign(posts.stance[replies]) == np.sign(posts.stance[prev_post])
            net = int(posts.likes[prev_post]) + agree.sum() - (~agree).sum()
            expected = float(np.clip(net, -1, 1))
        assert reward == expected
        seen_nonzero |= reward != 0
        lo, hi = posts.step_start[t], len(posts)
        mine = lo + np.flatnonzero((posts.author[lo:hi] == me) & (posts.kind[lo:hi] == 0))
        assert mine.size == (action != 0)  # it posts exactly when it chose to
        if mine.size:
            assert posts.topic[mine[0]] == 0 and posts.likes[mine[0]] == 0
            assert np.sign(posts.stance[mine[0]]) == (-1 if action == 1 else 1)
        prev_post = int(mine[0]) if mine.size else None
        if term or trunc:
            break
    assert seen_nonzero


def test_a_learning_citizen_still_likes_and_follows_as_scripted():
    env = citizen_v0.parallel_env(scenario=scenario(), learners=20)
    env.reset(seed=0)
    learners = env.core.groups["citizen"].users
    liked = 0
    while env.agents:
        env.step({a: 0 for a in env.agents})  # silence
        liked += int(np.isin(env.core.last_events.like_user, learners).sum())
    posts = env.core.world.posts
    n = len(posts)
    originals = np.isin(posts.author[:n], learners) & (posts.kind[:n] == PostKind.POST)
    assert not originals.any()  # silent: no posts of their own
    assert liked > 0  # but what they like is still the scripted citizen's


def test_train_q_on_one_citizen_learns_a_table():
    env = citizen_v0.CitizenEnv(scenario=scenario())
    table, records = train_q(env, QConfig(episodes=30, seed=1))
    assert table.meta["role"] == "citizen"
    assert table.visits.sum() == 30 * STEPS
    assert all(r.steps == STEPS for r in records)
    assert set(records[0].start) == {"opinion", "last_side"}


# ---------------------------------------------------------------- a citizen checkpoint
def fixed_citizen_table(path, action: int):
    table = QTable.empty(CitizenRole())
    table.q[:, action] = 1.0
    return table.save(path)


def test_a_citizen_checkpoint_decides_posts_and_leaves_the_rest_scripted(tmp_path):
    path = fixed_citizen_table(tmp_path / "pro.npz", 2)
    sc = scenario(record={"events": "none"})
    sc["roles"]["citizen"] = {"policy": str(path)}
    world, _ = build_world(validate(sc))
    for _ in range(5):
        world.step()
    posts, n = world.posts, len(world.posts)
    citizens = world.population.role[posts.author[:n]] == Role.CITIZEN
    originals = citizens & (posts.kind[:n] == PostKind.POST)
    assert originals.sum() > 50
    assert (posts.topic[:n][originals] == 0).all()
    assert (posts.stance[:n][originals] >= 0).all()
    # replies and reposts still come from the scripted citizen
    assert (citizens & (posts.kind[:n] != PostKind.POST)).any()


def test_a_citizen_checkpoint_learning_online_resumes_exactly(tmp_path):
    path = fixed_citizen_table(tmp_path / "q.npz", 1)
    sc = scenario(record={"events": "none", "flush_every": 4})
    sc["roles"]["citizen"] = {"policy": str(path), "learning": "online"}
    sc = validate(sc)
    whole = Run.start(sc, tmp_path / "whole")
    whole.execute()
    first = Run.start(sc.model_copy(update={"steps": 4}), tmp_path / "split")
    first.execute()
    Run.resume(tmp_path / "split", steps=STEPS).execute()
    a = (tmp_path / "whole" / "metrics.parquet").read_bytes()
    assert (tmp_path / "split" / "metrics.parquet").read_bytes() == a
    policy = whole.world.policies[Role.CITIZEN]
    assert policy.gained != 0.0  # feedback arrived and was learnt from


def test_a_checkpoint_and_social_rl_cannot_both_choose(tmp_path):
    path = fixed_citizen_table(tmp_path / "q.npz", 1)
    sc = scenario()
    sc["roles"]["citizen"] = {"policy": str(path), "expression": "social_rl"}
    with pytest.raises(Exception, match="would both choose"):
        validate(sc)


def test_train_citizen_from_the_command_line(tmp_path):
    from cli_checks import invoke

    out = tmp_path / "t"
    result = invoke(
        "train",
        "citizen",
        "--episodes",
        "4",
        "--set",
        "steps=5",
        "--set",
        "users=300",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    header = (out / "curve.csv").read_text().splitlines()[0].split(",")
    assert header == [
        "episode",
        "return",
        "steps",
        "epsilon",
        "opinion",
        "start_opinion",
        "last_side",
        "start_last_side",
    ]
    info = json.loads((out / "train.json").read_text())
    assert info["role"] == "citizen" and info["complete"] is True
    assert set(info["first_vs_last"]) == {"return", "opinion", "last_side"}
    assert QTable.load(out / "policy.npz").meta["role"] == "citizen"
    assert (out / "learning_curve.png").stat().st_size > 1000


def test_evaluate_scores_a_citizen_checkpoint_by_the_citizens_reward(tmp_path):
    from townsquare.experiments.substitution import substitution

    path = fixed_citizen_table(tmp_path / "pro.npz", 2)
    sc = validate(scenario())
    effect = substitution(sc, str(path), "citizen", [0, 1])
    assert effect.measure == "net feedback on its posts"
    assert len(effect.per_seed) == 2
    # citizens posting every step collect more feedback than scripted ones posting 30%
    assert effect.learned_mean > effect.scripted_mean > 0


def test_the_influencers_return_over_a_run_is_the_followers_they_gained():
    from townsquare.experiments.substitution import mean_return
    from townsquare.roles import InfluencerRole

    sc = validate(scenario())
    world, _ = build_world(sc)
    users = world.population.ids_of(Role.INFLUENCER)
    start = world.graph.in_deg[users].astype(float)
    for _ in range(sc.steps):
        world.step()
    gained = (world.graph.in_deg[users] - start).mean()
    assert mean_return(sc, InfluencerRole()) == pytest.approx(gained)


def test_the_platform_env_hands_each_agent_the_words_it_wrote():
    env = platform_v0.parallel_env(
        scenario=scenario(text={"backend": "offline"}),
        learners={"citizen": 5},
        render_mode="ansi",
    )
    env.reset(seed=0)
    _, _, _, _, infos = env.step({a: 2 for a in env.agents})  # everyone posts pro
    texts = [info["post_text"] for info in infos.values()]
    assert all(isinstance(t, str) and len(t) > 10 for t in texts)
    assert env.render().startswith("citizen_0: opinion ")
    env.reset(seed=0)
    _, _, _, _, infos = env.step({a: 0 for a in env.agents})  # silence
    assert all(info["post_text"] == "" for info in infos.values())
