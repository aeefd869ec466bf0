"""The influencer environments: Gymnasium, PettingZoo (parallel and AEC), SB3, Q-learning.

Every test runs on a small copy of the built-in ``influencer_env`` scenario (200 users,
20 steps, offline text) with fixed seeds; behaviour is checked against the world the
environment runs (its post store, follow graph and detector), never against wall-clock.
"""

from __future__ import annotations

import copy
import json

import gymnasium
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import townsquare.envs  # noqa: F401 - registers townsquare/Influencer-v0
from townsquare.config import builtin_scenarios
from townsquare.envs import ENV_IDS, PlatformParallelEnv, RoleEnv
from townsquare.envs.influencer_v0 import InfluencerEnv, env, parallel_env, raw_env
from townsquare.errors import UserError
from townsquare.learn.q_learning import QConfig, train_q
from townsquare.policies.q_table import QTable
from townsquare.roles import InfluencerRole
from townsquare.world import PostKind, Role

ENV_ID = "townsquare/Influencer-v0"
BUILTIN = yaml.safe_load(builtin_scenarios()["influencer_env"].read_text())
STEPS = 20
SPACES = ("limited", "full")
OBS_FLAGS = (True, False)


def scenario(**overrides) -> dict:
    """The built-in env scenario at 200 users and 20 steps; ``a__b=v`` sets ``a.b``."""
    data = copy.deepcopy(BUILTIN)
    data.update(users=200, steps=STEPS)
    for key, value in overrides.items():
        node = data
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return data


def strict_detector() -> dict:
    """A detector that suspends anyone who posts once."""
    return scenario(moderation__threshold=1e-6, moderation__strikes=1, moderation__check_every=1)


def make(action_space: str = "limited", self_observation: bool = True, **kw) -> InfluencerEnv:
    kw.setdefault("scenario", scenario())
    return InfluencerEnv(action_space=action_space, self_observation=self_observation, **kw)


def action_id(role: InfluencerRole, name: str) -> int:
    return role.action_names.index(name)


def learner_posts(env: RoleEnv, step: int) -> np.ndarray:
    """Ids of the posts (any kind) the learner wrote in world step ``step``."""
    posts = env.core.world.posts
    lo, hi = posts.step_start[step], posts.step_start[step + 1]
    ids = np.arange(lo, hi)
    return ids[posts.author[lo:hi] == int(env.learner_id)]


def play(env, seed, actions) -> list[tuple]:
    """(obs, info) of the reset, then (obs, reward, terminated, truncated, info) per step."""
    obs, info = env.reset(seed=seed)
    out = [(obs.tolist(), info)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out.append((obs.tolist(), reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return out


def without_text(trace: list[tuple]) -> list[tuple]:
    return [(*row[:-1], {k: v for k, v in row[-1].items() if k != "post_text"}) for row in trace]


# ---------------------------------------------------------------- API conformance
def test_the_gymnasium_id_is_registered():
    assert ENV_IDS == {
        "influencer": ENV_ID,
        "citizen": "townsquare/Citizen-v0",
        "candidate": "townsquare/Candidate-v0",
    }
    assert ENV_ID in gymnasium.registry
    e = gymnasium.make(ENV_ID, scenario=scenario())
    assert isinstance(e.unwrapped, InfluencerEnv)
    assert e.unwrapped.scenario.users == 200


@pytest.mark.parametrize("self_observation", OBS_FLAGS)
@pytest.mark.parametrize("action_space", SPACES)
def test_gymnasium_check_env(action_space, self_observation):
    e = gymnasium.make(
        ENV_ID, scenario=scenario(), action_space=action_space, self_observation=self_observation
    )
    role = e.unwrapped.role
    assert e.observation_space == gymnasium.spaces.Box(-1, 1, (role.obs_size,), np.float32)
    assert e.action_space == gymnasium.spaces.Discrete({"limited": 3, "full": 30}[action_space])
    assert role.obs_size == (5 if self_observation else 3)
    check_env(e.unwrapped, skip_render_check=True)
    e.close()


def test_the_default_scenario_is_the_builtin_one():
    e = InfluencerEnv()
    assert e.scenario.name == "influencer_env"
    assert (e.scenario.users, e.scenario.steps) == (500, 50)
    assert e.scenario.roles.influencer.count == 3
    assert e.scenario.text.backend == "offline"


@pytest.mark.parametrize("action_space", SPACES)
def test_pettingzoo_parallel_api(action_space):
    penv = parallel_env(scenario=scenario(), action_space=action_space)
    assert isinstance(penv, PlatformParallelEnv)
    assert penv.possible_agents == ["influencer_0", "influencer_1", "influencer_2"]
    parallel_api_test(penv, num_cycles=STEPS + 5)


@pytest.mark.parametrize("action_space", SPACES)
def test_pettingzoo_seed_tests(action_space):
    # PettingZoo's parallel seed test stops after one step (any() of a dict of flags), so
    # the whole-episode comparison is test_parallel_episodes_are_reproducible below
    parallel_seed_test(
        lambda: parallel_env(scenario=scenario(), action_space=action_space), num_cycles=STEPS
    )
    seed_test(lambda: env(scenario=scenario(), action_space=action_space), num_cycles=STEPS)


@pytest.mark.parametrize("action_space", SPACES)
def test_pettingzoo_aec_api(action_space):
    api_test(env(scenario=scenario(), action_space=action_space), num_cycles=STEPS + 5)
    raw = raw_env(scenario=scenario(), action_space=action_space)
    assert raw.possible_agents == ["influencer_0", "influencer_1", "influencer_2"]


def test_stable_baselines3_check_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for action_space in SPACES:
        sb3_check_env(make(action_space), warn=True)


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_episode():
    actions = np.random.default_rng(0).integers(0, 30, STEPS).tolist()
    e = make("full")
    first = play(e, 11, actions)
    again = play(e, 11, actions)
    assert first == again  # the same env, twice: texts included
    assert len(first) == STEPS + 1
    other = make("full")
    play(other, 12, actions)  # a different world first
    assert without_text(play(other, 11, actions)) == without_text(first)
    fresh = make("full")
    assert play(fresh, 11, actions) == first  # a fresh env: texts included


def test_post_text_depends_only_on_the_reset_seed():
    actions = [2] * 5
    fresh = play(make(), 11, actions)
    reused = make()
    play(reused, 12, actions)
    again = play(reused, 11, actions)
    assert [row[-1]["post_text"] for row in again] == [row[-1]["post_text"] for row in fresh]


def test_different_seeds_give_different_worlds():
    e = make()
    e.reset(seed=1)
    w1 = e.core.world
    opinion1, in_deg1 = w1.population.opinion.copy(), w1.graph.in_deg.copy()
    e.reset(seed=2)
    w2 = e.core.world
    assert w2 is not w1
    assert not np.array_equal(w2.population.opinion, opinion1)
    assert not np.array_equal(w2.graph.in_deg, in_deg1)
    actions = [2] * STEPS
    assert play(make(), 1, actions) != play(make(), 2, actions)


def test_unseeded_resets_draw_new_worlds():
    e = make()
    e.reset(seed=3)
    seen = set()
    for _ in range(3):
        e.reset()
        seen.add(e.core.world.population.opinion.tobytes())
    assert len(seen) == 3


def test_parallel_episodes_are_reproducible():
    def episode(seed):
        penv = parallel_env(scenario=scenario(), action_space="full")
        obs, infos = penv.reset(seed=seed)
        trace = [({a: o.tolist() for a, o in obs.items()}, infos)]
        rng = np.random.default_rng(5)
        while penv.agents:
            acts = {a: int(rng.integers(30)) for a in penv.agents}
            obs, rew, term, trunc, infos = penv.step(acts)
            trace.append(({a: o.tolist() for a, o in obs.items()}, rew, term, trunc, infos))
        return trace

    first = episode(4)
    assert len(first) == STEPS + 1
    assert episode(4) == first
    assert episode(5) != first


# ---------------------------------------------------------------- behaviour
@pytest.mark.parametrize("action_space", SPACES)
def test_observations_and_infos_along_an_episode(action_space):
    e = make(action_space)
    rng = np.random.default_rng(1)
    obs, info = e.reset(seed=21)
    assert e.observation_space.contains(obs)
    assert set(info) == {
        "followers",
        "start_followers",
        "leader",
        "start_leader",
        "step",
        "post_text",
    }
    assert info["step"] == 0 and info["post_text"] == ""
    assert info["start_followers"] == info["followers"]
    start = info["start_followers"]
    for t in range(1, STEPS + 1):
        action = int(e.action_space.sample()) if action_space == "full" else int(rng.integers(3))
        obs, reward, terminated, truncated, info = e.step(action)
        assert obs.dtype == np.float32 and e.observation_space.contains(obs)
        assert isinstance(reward, float)
        assert info["step"] == t and info["start_followers"] == start
        assert info["followers"] == int(e.core.world.graph.in_deg[e.learner_id])
        assert info["leader"] == (info["followers"] >= e.core.world.graph.in_deg.max())
        mine = learner_posts(e, t - 1)
        texts = [e.core.world.posts.text[int(i)] for i in mine]
        kinds = e.core.world.posts.kind[mine]
        if action_space == "limited":
            assert len(mine) == 1 and info["post_text"]
        if (kinds != PostKind.REPOST).any():
            assert info["post_text"] and info["post_text"] in texts
        else:
            assert info["post_text"] == ""
        assert not terminated
        assert truncated == (t == STEPS)


def test_self_observation_reports_the_last_stance_and_trend():
    e = make("limited")
    e.reset(seed=8)
    sides = np.array([-0.6, 0.0, 0.6], np.float32)
    for t in range(STEPS - 1):
        action = t % 3
        obs, reward, *_ = e.step(action)
        assert obs[3] == sides[action]
        assert obs[4] == pytest.approx(np.tanh(reward / 5.0), abs=1e-6)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 2),
    action_space=st.sampled_from(SPACES),
    action_seed=st.integers(0, 1000),
)
def test_rewards_sum_to_the_follower_change(seed, action_space, action_seed):
    e = make(action_space)
    n = e.action_space.n
    actions = np.random.default_rng(action_seed).integers(0, n, STEPS).tolist()
    trace = play(e, seed, actions)
    followers = [row[-1]["followers"] for row in trace]
    rewards = [row[1] for row in trace[1:]]
    assert rewards == [float(b - a) for a, b in zip(followers, followers[1:], strict=False)]
    assert sum(rewards) == followers[-1] - followers[0]
    assert len(rewards) == STEPS
    assert trace[-1][3] is True and trace[-1][2] is False  # truncated, not terminated


@pytest.mark.parametrize("steps", [1, 7])
def test_the_episode_truncates_at_scenario_steps(steps):
    e = make(scenario=scenario(steps=steps))
    e.reset(seed=0)
    for t in range(1, steps + 1):
        _, _, terminated, truncated, info = e.step(1)
        assert not terminated
        assert truncated == (t == steps)
    assert info["step"] == steps == e.core.world.t


@pytest.mark.parametrize(("action", "stance"), [(0, -0.6), (1, 0.0), (2, 0.6)])
def test_limited_actions_post_their_side(action, stance):
    e = make("limited")
    e.reset(seed=13)
    for t in range(5):
        _, _, _, _, info = e.step(action)
        mine = learner_posts(e, t)
        posts = e.core.world.posts
        assert len(mine) == 1
        pid = int(mine[0])
        assert posts.kind[pid] == PostKind.POST
        assert posts.stance[pid] == stance
        assert posts.topic[pid] == 0
        assert info["post_text"] == posts.text[pid]


@pytest.mark.parametrize(
    ("name", "kind", "stance"),
    [
        ("post con bold", PostKind.POST, -0.8),
        ("post pro measured", PostKind.POST, 0.3),
        ("reply neutral bold", PostKind.REPLY, 0.0),
        ("reply pro bold", PostKind.REPLY, 0.8),
    ],
)
def test_full_actions_write_their_kind_and_stance(name, kind, stance):
    e = make("full")
    e.reset(seed=14)
    a = action_id(e.role, name)
    wrote = 0
    for t in range(8):
        e.step(a)
        mine = learner_posts(e, t)
        posts = e.core.world.posts
        assert len(mine) <= 1
        if len(mine):
            wrote += 1
            assert posts.kind[mine[0]] == kind
            assert posts.stance[mine[0]] == pytest.approx(stance)
    # a post always happens; a reply needs a non-empty feed, empty only at step 0
    assert wrote == (8 if kind == PostKind.POST else 7)


def test_full_repost_and_follow_act_on_the_feed():
    e = make("full")
    e.reset(seed=15)
    learner = int(e.learner_id)
    graph = e.core.world.graph
    e.step(action_id(e.role, "idle neutral measured"))  # step 0: the feed is empty
    reposted = followed = 0
    for t in range(1, 10):
        if t % 2:
            e.step(action_id(e.role, "repost con bold"))
            mine = learner_posts(e, t)
            posts = e.core.world.posts
            assert len(mine) == 1 and posts.kind[mine[0]] == PostKind.REPOST
            parent = int(posts.parent[mine[0]])
            assert posts.stance[mine[0]] == posts.stance[parent]
            reposted += 1
        else:
            before = int(graph.out_deg[learner])
            e.step(action_id(e.role, "follow pro measured"))
            assert len(learner_posts(e, t)) == 0
            assert graph.out_deg[learner] - before in (0, 1)
            followed += int(graph.out_deg[learner]) - before
    assert reposted == 5 and followed >= 1


def test_idle_learner_does_nothing_and_others_keep_posting():
    e = make("full")
    e.reset(seed=16)
    learner = int(e.learner_id)
    world = e.core.world
    out_deg = int(world.graph.out_deg[learner])
    idle = [i for i, n in enumerate(e.role.action_names) if n.startswith("idle")]
    assert len(idle) == 6
    for t in range(STEPS):
        _, _, _, _, info = e.step(idle[t % 6])
        assert info["post_text"] == ""
    assert not np.any(world.posts.author == learner)
    assert world.graph.out_deg[learner] == out_deg
    assert world.detector.rate[learner] == 0.0
    others = np.setdiff1d(world.population.ids_of(Role.INFLUENCER), [learner])
    assert others.size == 2
    for other in others:
        assert (world.posts.author == other).sum() >= STEPS // 2  # scripted, activity 0.9


@pytest.mark.parametrize("learner", [0, 1, 2])
def test_the_learner_index_picks_an_influencer(learner):
    e = make(learner=learner)
    e.reset(seed=17)
    ids = e.core.world.population.ids_of(Role.INFLUENCER)
    assert [e.learner_id] == [int(ids[learner])]
    assert e.core.world.population.activity[ids[learner]] == 1.0


def test_render_ansi():
    e = make(render_mode="ansi")
    assert e.render() is None
    e.reset(seed=0)
    *_, info = e.step(2)
    line = e.render()
    assert line.startswith(f"step    1  followers {info['followers']:>6}")
    assert line.endswith(info["post_text"])
    assert make().render() is None
    with pytest.raises(ValueError, match="ansi"):
        make(render_mode="human")


# ---------------------------------------------------------------- suspension
def test_a_suspended_learner_terminates():
    e = make("limited", scenario=strict_detector())
    obs0, _ = e.reset(seed=3)
    obs, reward, terminated, truncated, info = e.step(2)
    assert terminated is True and truncated is False
    assert e.core.world.population.suspended[e.learner_id]
    assert e.observation_space.contains(obs)
    assert info["step"] == 1 < STEPS
    with pytest.raises(RuntimeError):
        e.step(2)  # the episode is over until the next reset
    e.reset(seed=3)
    assert not e.core.suspended("influencer").any()


def test_parallel_agents_are_removed_when_suspended():
    penv = parallel_env(scenario=strict_detector(), action_space="full")
    role = penv.roles["influencer"]
    post, idle = action_id(role, "post pro bold"), action_id(role, "idle pro measured")
    penv.reset(seed=6)
    obs, rewards, term, trunc, infos = penv.step(
        {"influencer_0": post, "influencer_1": idle, "influencer_2": idle}
    )
    assert term == {"influencer_0": True, "influencer_1": False, "influencer_2": False}
    assert not any(trunc.values())
    assert set(obs) == set(rewards) == set(infos) == set(penv.possible_agents)
    assert penv.agents == ["influencer_1", "influencer_2"]
    with pytest.raises(ValueError, match="influencer_0"):
        penv.step({"influencer_0": idle})
    steps = 1
    while penv.agents:
        obs, rewards, term, trunc, infos = penv.step(dict.fromkeys(penv.agents, idle))
        steps += 1
        assert set(term) == {"influencer_1", "influencer_2"}
        assert not any(term.values())
    assert steps == STEPS and all(trunc.values())
    with pytest.raises(RuntimeError):
        penv.step({})


def test_parallel_all_suspended_ends_the_episode():
    penv = parallel_env(scenario=strict_detector(), action_space="limited")
    penv.reset(seed=6)
    _, _, term, trunc, _ = penv.step(dict.fromkeys(penv.agents, 0))
    assert all(term.values()) and not any(trunc.values())
    assert penv.agents == []


def test_parallel_infos_and_truncation():
    penv = parallel_env(scenario=scenario(), action_space="limited")
    obs, infos = penv.reset(seed=2)
    ids = penv.core.groups["influencer"].users
    for i, a in enumerate(penv.possible_agents):
        assert penv.observation_space(a).contains(obs[a])
        assert infos[a]["followers"] == int(penv.core.world.graph.in_deg[ids[i]])
    totals = dict.fromkeys(penv.possible_agents, 0.0)
    start = {a: infos[a]["followers"] for a in penv.possible_agents}
    for t in range(1, STEPS + 1):
        obs, rewards, term, trunc, infos = penv.step(dict.fromkeys(penv.agents, 2))
        for a in rewards:
            totals[a] += rewards[a]
        assert all(v == (t == STEPS) for v in trunc.values())
    assert penv.agents == []
    assert totals == {a: float(infos[a]["followers"] - start[a]) for a in penv.possible_agents}
    posts = penv.core.world.posts
    for user in ids:
        mine = posts.author == user
        assert mine.sum() == STEPS and set(posts.stance[mine].tolist()) == {0.6}


# ---------------------------------------------------------------- errors
def test_unknown_action_space_is_refused():
    with pytest.raises(ValueError, match="limited, full"):
        gymnasium.make(ENV_ID, scenario=scenario(), action_space="huge")
    with pytest.raises(ValueError, match="'huge'"):
        parallel_env(scenario=scenario(), action_space="huge")


def test_step_before_reset():
    with pytest.raises(RuntimeError, match="reset"):
        make().step(0)
    with pytest.raises(RuntimeError, match="reset"):
        parallel_env(scenario=scenario()).step({"influencer_0": 0})


@pytest.mark.parametrize(
    ("action_space", "action"), [("limited", 3), ("limited", -1), ("full", 30), ("full", 2.5)]
)
def test_out_of_space_actions_are_refused(action_space, action):
    e = make(action_space)
    e.reset(seed=0)
    t = e.core.world.t
    with pytest.raises(ValueError, match="not in"):
        e.step(action)
    assert e.core.world.t == t  # nothing happened
    e.step(0)  # and the env still works
    penv = parallel_env(scenario=scenario(), action_space=action_space)
    penv.reset(seed=0)
    with pytest.raises(ValueError, match="influencer_1"):
        penv.step({"influencer_0": 0, "influencer_1": action})


def test_a_scenario_without_influencers_is_refused():
    data = scenario(roles__influencer__count=0)
    with pytest.raises(ValueError, match=r"roles\.influencer\.count"):
        gymnasium.make(ENV_ID, scenario=data).reset(seed=0)
    with pytest.raises(ValueError, match=r"roles\.influencer\.count"):
        parallel_env(scenario=data)


@pytest.mark.parametrize("learner", [3, 10])
def test_learner_index_out_of_range(learner):
    with pytest.raises(ValueError, match="the scenario has 3 influencer users"):
        gymnasium.make(ENV_ID, scenario=scenario(), learner=learner).reset(seed=0)


@pytest.mark.parametrize("learner", [-1, 1.5, True])
def test_learner_index_that_is_not_an_index(learner):
    with pytest.raises(ValueError, match="is not a user index"):
        gymnasium.make(ENV_ID, scenario=scenario(), learner=learner)


# ---------------------------------------------------------------- learners
def test_ppo_trains_and_saves_a_safetensors_checkpoint_that_rebuilds_exactly(tmp_path):
    import torch
    from safetensors import safe_open
    from stable_baselines3 import PPO

    from townsquare.learn.ppo import PPOConfig, save_ppo, train_ppo
    from townsquare.policies.learned import load_model, read_checkpoint, role_for_checkpoint
    from townsquare.policies.ppo_network import META_KEY

    e = gymnasium.make(ENV_ID, scenario=scenario())
    episodes = max(3, 300 // STEPS)  # a few hundred steps of PPO
    model, records = train_ppo(e, PPOConfig(episodes=episodes, n_steps=64, batch_size=32))
    assert len(records) == episodes
    assert [r.episode for r in records] == list(range(episodes))
    assert model.num_timesteps >= 300
    fresh = PPO("MlpPolicy", e, seed=0, device="cpu")
    trained = dict(model.policy.state_dict())
    moved = [
        not np.allclose(v.numpy(), fresh.policy.state_dict()[k].numpy()) for k, v in trained.items()
    ]
    assert any(moved)  # the updates changed the network
    for r in records:
        assert r.steps == STEPS
        assert r.ret == r.change("followers")
    path = save_ppo(model, tmp_path / "ckpt" / "ppo.safetensors", e.unwrapped.role, PPOConfig())
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()[META_KEY])
        assert set(f.keys()) == set(trained)
    assert meta["role"] == "influencer" and meta["algo"] == "ppo"
    assert meta["n_actions"] == 3 and meta["obs_size"] == 5 and meta["format_version"] == 1
    assert meta["policy"] == {
        "class": "ActorCriticPolicy",
        "net_arch": {"pi": [64, 64], "vf": [64, 64]},
        "activation_fn": "tanh",
        "share_features_extractor": True,
    }
    ckpt = read_checkpoint(path)
    role = role_for_checkpoint(ckpt, "influencer")
    load_model(ckpt, role)
    for name, value in ckpt.model.state_dict().items():
        assert torch.equal(value, trained[name])
    obs = np.random.default_rng(0).uniform(-1, 1, (256, 5)).astype(np.float32)
    want, _ = model.predict(obs, deterministic=True)
    assert len(set(want.tolist())) > 1  # a batch on which the actions differ
    assert np.array_equal(ckpt.decide(obs, role), want)
    first, _ = e.reset(seed=0)
    assert e.action_space.contains(int(ckpt.decide(first[None], role)[0]))


class Recorder(gymnasium.Wrapper):
    """Keeps every observation an action was chosen on."""

    def __init__(self, env):
        super().__init__(env)
        self.decided_on: list[np.ndarray] = []

    def reset(self, **kw):
        obs, info = self.env.reset(**kw)
        self._pending = obs
        return obs, info

    def step(self, action):
        self.decided_on.append(self._pending)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._pending = obs
        return obs, reward, terminated, truncated, info


@pytest.mark.parametrize("self_observation", OBS_FLAGS)
def test_q_learning_visits_only_states_it_met(self_observation):
    e = Recorder(make("limited", self_observation))
    table, records = train_q(e, QConfig(episodes=4, seed=3))
    role = e.unwrapped.role
    assert table.q.shape == table.visits.shape == (role.n_states, 3)
    assert len(records) == 4 and all(r.steps == STEPS for r in records)
    assert [r.ret for r in records] == [r.change("followers") for r in records]
    assert [r.epsilon for r in records] == sorted((r.epsilon for r in records), reverse=True)
    met = set(role.discretise(np.array(e.decided_on)).tolist())
    assert set(np.flatnonzero(table.visits.sum(axis=1)).tolist()) == met
    assert table.visits.sum() == 4 * STEPS
    assert np.all(table.q[table.visits == 0] == 0.0)
    assert table.meta["role"] == "influencer" and table.meta["n_states"] == role.n_states


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_q_table_files_round_trip_exactly(tmp_path, suffix):
    table, _ = train_q(make("full"), QConfig(episodes=2, seed=1))
    assert np.count_nonzero(table.q) > 0
    path = table.save(tmp_path / "sub" / f"q{suffix}")
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            assert set(z.files) == {"q", "visits", "meta"}
            assert json.loads(str(z["meta"])) == table.meta
    back = QTable.load(path)
    assert back.q.dtype == np.float64 and back.visits.dtype == np.int64
    assert np.array_equal(back.q, table.q)
    assert np.array_equal(back.visits, table.visits)
    assert back.meta == table.meta
    states = np.arange(table.q.shape[0])
    assert np.array_equal(back.greedy(states), table.greedy(states))


def test_bad_scenarios_are_refused_when_the_env_is_made():
    with pytest.raises(ValueError, match="scenario.steps"):
        make(scenario=scenario(steps=0))
    with pytest.raises(UserError, match="feed.colour: unknown key"):
        make(scenario=scenario(feed__colour=1))
    with pytest.raises(UserError, match="nonexistent.yaml"):
        make(scenario="nonexistent.yaml")


def test_a_roles_reward_reads_the_steps_events_and_world(monkeypatch):
    """The environment hands the role a `RewardContext` with the step's events and the
    world, so a role can define its incentive from anything the step did."""
    seen = []

    def likes_received(self, context):
        seen.append(context)
        ev = context.events
        authors = context.world.posts.author[ev.like_post]
        return np.array([(authors == u).sum() for u in context.users], np.float64)

    monkeypatch.setattr(InfluencerRole, "reward", likes_received)
    environment = InfluencerEnv()
    environment.reset(seed=3)
    total = 0.0
    for _ in range(5):
        _, reward, term, trunc, _ = environment.step(environment.action_space.sample())
        total += reward
        if term or trunc:
            break
    assert seen and all(c.events is not None and c.world is not None for c in seen)
    assert [c.events.step for c in seen] == list(range(len(seen)))
    assert total >= 0.0
