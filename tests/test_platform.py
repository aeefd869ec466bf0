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
from townsquare.errors import UserError
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
        influencer={"action_space": "full", "self_observation": False},
    )
    assert env.possible_agents == [
        "influencer_0",
        "influencer_1",
        "citizen_0",
        "citizen_1",
        "citizen_2",
    ]
    assert env.action_space("influencer_1").n == 30
    assert env.observation_space("influencer_1").shape == (3,)
    assert env.observation_space("citizen_0").shape == (5,)
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
        ({"learners": {"journalist": "all"}}, "'journalist' cannot learn"),
        ({"learners": {}}, "at least one role"),
        ({"learners": {"citizen": 0}}, "give at least one"),
        ({"learners": {"citizen": "some"}}, "neither 'all' nor a count"),
        ({"learners": {"influencer": 4}}, "the scenario has 3 influencer users"),
        ({"learners": {"citizen": 5}, "influencer": {"action_space": "full"}}, "not among"),
        ({"learners": {"citizen": 5}, "citizen": {"speed": 2}}, "unknown option 'speed'"),
        ({"learners": {"citizen": 5}, "citizen": {"action_space": "full"}}, "limited"),
        ({"learners": {"citizen": 5}, "citizen": {"self_observation": False}}, "must see"),
        ({"learners": {"citizen": 5}, "citizen": "full"}, "options must be a dict"),
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
    with pytest.raises(UserError, match="would both choose"):
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


def test_every_live_agent_needs_an_action():
    env = both()
    env.reset(seed=0)
    actions = {a: 0 for a in env.agents if a.startswith("citizen")}
    with pytest.raises(ValueError, match="no action for agents in the episode: influencer_0"):
        env.step(actions)


def test_many_citizens_each_get_the_feedback_on_their_own_post():
    # several learners in an unsorted order: each reward is its own post's feedback
    env = citizen_v0.parallel_env(scenario=scenario(steps=12), learners=30)
    env.reset(seed=5)
    world, posts = env.core.world, env.core.world.posts
    rng = np.random.default_rng(1)
    previous: dict[str, int] = {}
    checked = nonzero = 0
    for t in range(12):
        if not env.agents:
            break
        order = list(rng.permutation(env.agents))
        _, rewards, _, _, infos = env.step({a: int(rng.integers(3)) for a in order})
        lo, hi = posts.step_start[t], len(posts)
        for agent in rewards:
            expected = 0.0
            if agent in previous:
                pid = previous[agent]
                replies = lo + np.flatnonzero(
                    (posts.kind[lo:hi] == PostKind.REPLY) & (posts.parent[lo:hi] == pid)
                )
                agree = np.sign(posts.stance[replies]) == np.sign(posts.stance[pid])
                net = int(posts.likes[pid]) + agree.sum() - (~agree).sum()
                expected = float(np.clip(net, -1, 1))
            assert rewards[agent] == expected, agent
            checked += 1
            nonzero += expected != 0
        previous = {}
        for agent, info in infos.items():
            mine = lo + np.flatnonzero(
                (posts.author[lo:hi] == info["user"]) & (posts.kind[lo:hi] == PostKind.POST)
            )
            if mine.size:
                previous[agent] = int(mine[0])
    assert checked > 200 and nonzero > 10
    assert world is env.core.world


NO_CITIZENS = (
    "--set",
    "users=20",
    "--set",
    "graph.mean_degree=2",
    "--set",
    "roles.influencer.count=20",
    "--set",
    "roles.socialbot.fraction=0",
)


def test_training_or_evaluating_a_role_the_scenario_lacks_is_one_line(tmp_path):
    from cli_checks import invoke, one_line_error

    out = tmp_path / "t"
    for learners in ("one", "all"):
        one_line_error(
            invoke("train", "citizen", "--learners", learners, *NO_CITIZENS, "--out", out),
            "no citizen users",
            "users, less the other roles",
        )
        assert not out.exists()  # nothing claimed
    path = fixed_citizen_table(tmp_path / "q.npz", 1)
    one_line_error(
        invoke("evaluate", str(path), "--scenario", "influencer_env", *NO_CITIZENS),
        "no citizen users",
    )


def test_evaluate_refuses_a_conflicting_scenario_before_running(tmp_path):
    from cli_checks import invoke, one_line_error

    path = fixed_citizen_table(tmp_path / "q.npz", 1)
    result = invoke(
        "evaluate",
        str(path),
        "--scenario",
        "influencer_env",
        "--set",
        "roles.citizen.expression=social_rl",
    )
    one_line_error(result, "would both choose")
    assert "seeds" not in result.output  # no progress bar: nothing ran
