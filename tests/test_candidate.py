"""The candidate role (intents, reward), its environments, the anchor and the piKL
planner."""

from __future__ import annotations

import json

import duckdb
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import townsquare.envs  # noqa: F401  (registers the ids)
from cli_checks import invoke, one_line_error
from townsquare.build import build_world
from townsquare.config import load_scenario
from townsquare.envs import candidate_v0
from townsquare.policies.anchor import BUILTIN, AnchorError, read_anchor
from townsquare.policies.planner import kl, pikl
from townsquare.roles.candidate import (
    INTENTS,
    MOVE_STEP,
    CandidateRole,
    intent_id,
    message_stance,
    moved_position,
)
from townsquare.world.population import Role

ROLE = CandidateRole()


def test_there_are_eighteen_intents_named_by_their_parts():
    assert len(INTENTS) == ROLE.n_actions == 18
    assert INTENTS[intent_id(1, 2, 1)] == "centre to_base attack"


def test_moves_go_toward_the_centre_without_crossing_it_and_toward_the_base():
    pos = np.array([-0.5, 0.02, 0.5, 0.99])
    side = np.array([-1.0, 1.0, 1.0, 1.0])
    assert moved_position(pos, side, np.zeros(4, int)) == pytest.approx(pos)
    assert moved_position(pos, side, np.ones(4, int)) == pytest.approx([-0.45, 0.0, 0.45, 0.94])
    assert moved_position(pos, side, np.full(4, 2)) == pytest.approx([-0.55, 0.07, 0.55, 1.0])


def test_messages_lean_toward_the_segment_and_attacks_away_from_the_rival():
    pos, side, rival = np.full(3, -0.5), np.full(3, -1.0), np.full(3, 0.5)
    case = message_stance(pos, side, rival, np.arange(3), np.zeros(3, int))
    assert case == pytest.approx([-0.625, -0.375, -0.25])
    attack = message_stance(pos, side, rival, np.arange(3), np.ones(3, int))
    assert attack == pytest.approx([-0.875, -0.625, -0.5])


def race_world(**extra):
    overrides = ["users=400", "steps=12", "election.days=[11]", "election.poll_every=3"]
    overrides += [f"{k}={v}" for k, v in extra.items()]
    return build_world(load_scenario("candidate_env", overrides))


def test_an_intent_becomes_a_post_a_move_and_at_most_one_reply():
    world, _ = race_world()
    obs = world.begin_step()[Role.CANDIDATE]
    memory = ROLE.new_memory(world.n)
    rows = np.arange(len(obs))
    acts = ROLE.to_actions(obs, rows, np.full(rows.size, intent_id(1, 1, 0)), memory)
    assert acts.post.all() and (acts.post_topic == 0).all()
    assert acts.reply.sum(axis=1).max() <= 1
    position = obs.opinion[:, 0]
    assert np.abs(acts.position) == pytest.approx(np.abs(position) - MOVE_STEP)
    hold = ROLE.to_actions(obs, rows, np.full(rows.size, intent_id(0, 0, 1)), memory)
    assert np.isnan(hold.position).all()
    assert not hold.like.any()  # attacks like nothing
    with pytest.raises(ValueError, match="intents must lie in"):
        ROLE.to_actions(obs, rows, np.full(rows.size, 18), memory)


def test_a_moved_platform_is_what_voters_vote_on():
    world, _ = race_world()
    first = int(world.population.ids_of(Role.CANDIDATE)[0])
    before = world.population.opinion[first, 0]
    env_like = world.policies[Role.CANDIDATE]

    class Mover:
        def act(self, obs, rng):
            acts = env_like.act(obs, rng)
            acts.position = np.where(obs.users == first, 0.0, np.nan)
            return acts

    world.policies[Role.CANDIDATE] = Mover()
    world.step()
    assert before != 0.0 and world.population.opinion[first, 0] == 0.0
    assert world.election.positions(world.population)[0] == 0.0


def test_a_position_outside_the_scale_is_refused():
    world, _ = race_world()
    obs = world.begin_step()[Role.CANDIDATE]
    acts = ROLE.to_actions(
        obs, np.arange(len(obs)), np.zeros(len(obs), int), ROLE.new_memory(world.n)
    )
    acts.position = np.full(len(obs), 1.5)
    with pytest.raises(ValueError, match="position must lie in"):
        acts.check(len(obs), obs.feed.shape[1], 1)


def test_the_candidate_environment_passes_the_gymnasium_checker():
    env = gym.make(
        "townsquare/Candidate-v0", scenario=load_scenario("candidate_env", ["users=300"])
    )
    check_env(env.unwrapped)
    env.close()


def test_every_candidate_learning_passes_the_pettingzoo_api_test():
    env = candidate_v0.parallel_env(
        load_scenario("candidate_env", ["users=300", "steps=15", "election.days=[14]"])
    )
    parallel_api_test(env, num_cycles=20)
    assert sorted(env.possible_agents) == ["candidate_0", "candidate_1"]


def test_the_return_is_the_poll_changes_plus_the_vote_share():
    env = candidate_v0.CandidateEnv(
        load_scenario(
            "candidate_env",
            ["users=400", "steps=20", "election.days=[19]", "election.poll_every=4"],
        )
    )
    env.reset(seed=3)
    total, shares = 0.0, []
    while True:
        _, reward, term, trunc, info = env.step(0)
        total += reward
        if info["poll_share"] >= 0 and (not shares or shares[-1] != info["poll_share"]):
            shares.append(info["poll_share"])
        if term or trunc:
            break
    assert info["vote_share"] > 0
    assert total == pytest.approx(shares[-1] - shares[0] + info["vote_share"])


def test_moving_to_the_median_voter_wins_more_votes_than_holding_a_flank():
    def share(intent: int) -> float:
        out = []
        for seed in range(3):
            env = candidate_v0.CandidateEnv(load_scenario("candidate_env", ["users=600"]))
            env.reset(seed=seed)
            while True:
                _, _, term, trunc, info = env.step(intent)
                if term or trunc:
                    break
            out.append(info["vote_share"])
        return float(np.mean(out))

    assert share(intent_id(1, 1, 0)) > share(intent_id(0, 2, 0)) + 0.05


# -- the anchor ------------------------------------------------------------------------
def test_the_builtin_anchor_reads_and_gives_every_intent_some_probability():
    anchor = read_anchor(BUILTIN, ROLE.feature_names, ROLE.action_names)
    tau = anchor.probabilities(np.random.default_rng(0).uniform(-1, 1, (50, ROLE.obs_size)))
    assert tau.shape == (50, 18)
    assert tau.sum(axis=1) == pytest.approx(np.ones(50))
    assert tau.min() >= anchor.floor / 18 - 1e-12
    # the scripted candidates never move their platform
    moves = [i for i, name in enumerate(INTENTS) if "hold" not in name]
    assert tau[:, moves].max() == pytest.approx(anchor.floor / 18)


def anchor_file(tmp_path, **changes):
    data = json.loads(read_anchor(BUILTIN, ROLE.feature_names, ROLE.action_names).to_json())
    data.update(changes)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"format": "x"}, "not a townsquare anchor"),
        ({"version": 2}, "version"),
        ({"intents": ["a"]}, "other intents"),
        ({"features": ["a"]}, "other observations"),
        ({"classes": [0, 0, 1]}, "distinct"),
        ({"classes": [0, 1, 99]}, "classes must lie"),
        ({"coef": [[1.0]]}, "wrong shape"),
        ({"floor": 0.0}, "floor"),
        ({"floor": 1e-320}, "floor"),
        ({"floor": "0.5"}, "floor must hold JSON numbers"),
        ({"coef": "x"}, "coef must hold JSON numbers"),
        ({"classes": [0.7, 1.7, 13.7]}, "classes must hold JSON integers"),
        ({"classes": [True, False, 1]}, "classes must hold JSON integers"),
        ({"version": True}, "version"),
        ({"coef": [[1e308] * 8] * 3}, "within"),
        ({"intercept": [1e9, 0, 0]}, "within"),
    ],
)
def test_a_bad_anchor_file_is_refused_naming_it(tmp_path, changes, fragment):
    path = anchor_file(tmp_path, **changes)
    with pytest.raises(AnchorError, match=fragment) as info:
        read_anchor(path, ROLE.feature_names, ROLE.action_names)
    assert path in str(info.value)


def test_an_anchor_that_is_not_strict_json_is_refused(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"format": "townsquare-anchor", "floor": NaN}')
    with pytest.raises(AnchorError, match="not strict JSON"):
        read_anchor(str(path), ROLE.feature_names, ROLE.action_names)
    with pytest.raises(AnchorError, match="not a file"):
        read_anchor(str(tmp_path / "missing.json"), ROLE.feature_names, ROLE.action_names)
    with pytest.raises(AnchorError, match="not a file"):
        read_anchor(str(tmp_path), ROLE.feature_names, ROLE.action_names)


def test_train_bc_clones_the_scripted_candidates(tmp_path):
    def clone(out):
        args = ("--algo", "bc", "--scenario", "candidate_env", "--episodes", "2")
        return invoke("train", "candidate", *args, "--out", out)

    out = tmp_path / "bc"
    result = clone(out)
    assert result.exit_code == 0, result.output
    anchor = read_anchor(str(out / "anchor.json"), ROLE.feature_names, ROLE.action_names)
    assert anchor.source["seeds"] == [0, 1] and anchor.source["samples"] == 2 * 2 * 40
    assert clone(tmp_path / "bc2").exit_code == 0
    assert (out / "anchor.json").read_bytes() == (tmp_path / "bc2" / "anchor.json").read_bytes()
    one_line_error(invoke("train", "influencer", "--algo", "bc", "--out", tmp_path / "x"), "bc")
    one_line_error(
        invoke("train", "candidate", "--algo", "bc", "--out", out), "exists", "--overwrite"
    )


@pytest.mark.slow
def test_the_builtin_anchor_is_what_train_bc_writes(tmp_path):
    from importlib import resources

    out = tmp_path / "bc"
    assert (
        invoke("train", "candidate", "--algo", "bc", "--episodes", "5", "--out", out).exit_code == 0
    )
    builtin = resources.files("townsquare.policies").joinpath("candidate_anchor.json").read_bytes()
    assert (out / "anchor.json").read_bytes() == builtin


# -- piKL ------------------------------------------------------------------------------
def test_pikl_is_the_argmax_for_a_tiny_lambda_and_the_anchor_for_a_huge_one():
    tau = np.array([0.7, 0.2, 0.1])
    q = np.array([0.50, 0.52, 0.51])
    assert pikl(tau, q, 1e-9) == pytest.approx([0, 1, 0])
    assert pikl(tau, q, 1e9) == pytest.approx(tau)
    kls = [float(kl(pikl(tau, q, lam), tau)) for lam in (0.001, 0.01, 0.1, 1.0)]
    assert all(a > b for a, b in zip(kls, kls[1:], strict=False))
    assert kl(tau, tau) == pytest.approx(0.0)


def planner_world(**extra):
    settings = {
        "roles.candidate.policy": "planner",
        "roles.candidate.rollouts": 2,
        "roles.candidate.horizon": 3,
        "roles.candidate.plan_every": 4,
        "roles.candidate.planners": 1,
        **extra,
    }
    return race_world(**settings)


def test_the_planner_logs_every_decision_and_plays_pi():
    world, sc = planner_world()
    planner = world.policies[Role.CANDIDATE]
    planner_id = int(world.population.ids_of(Role.CANDIDATE)[0])
    plans = []
    for _ in range(sc.steps):
        events = world.step()
        plans += events.plans
        for plan in events.plans:
            # the intent chosen is the one the candidate played in that step
            assert planner.memory.last_intent[planner_id] == int(np.argmax(plan["chosen"]))
    assert len(plans) == 3  # steps 0, 4, 8; one planner
    for plan in plans:
        assert (plan["candidate"] == planner_id).all()
        assert list(plan["intent"]) == list(INTENTS)
        assert plan["pi"].sum() == pytest.approx(1.0) and plan["tau"].sum() == pytest.approx(1.0)
        assert plan["chosen"].sum() == 1
        assert ((plan["q"] >= 0) & (plan["q"] <= 1)).all()
    assert np.isfinite(planner.metrics()["planner_kl"])


def test_a_tiny_lambda_chooses_the_best_rollout():
    world, sc = planner_world(**{"roles.candidate.lambda": 1e-9})
    plan = world.step().plans[0]
    # intents can tie on Q (two write the same message stance): any best one will do
    assert plan["q"][plan["chosen"]][0] == plan["q"].max()


def test_rollouts_leave_the_world_untouched():
    world, _ = planner_world()
    for _ in range(3):
        world.step()
    before, meta = world.state()
    before = {k: v.copy() for k, v in before.items()}  # state() hands out live arrays
    planner = world.policies[Role.CANDIDATE]
    candidates = world.population.ids_of(Role.CANDIDATE)
    q = planner.values(world.fork(), int(candidates[0]), candidates[:1], np.random.default_rng(0))
    assert q.shape == (18,)
    after, meta_after = world.state()
    assert meta == meta_after
    assert before.keys() == after.keys()
    for name in before:
        nan_ok = before[name].dtype.kind == "f"
        assert np.array_equal(before[name], after[name], equal_nan=nan_ok), name


def test_a_planner_with_nobody_left_to_vote_plays_its_anchor():
    world, sc = planner_world()
    world.population.suspended[world.population.role == Role.CITIZEN] = True
    plan = world.step().plans[0]
    assert (plan["q"] == 0).all()
    assert plan["pi"] == pytest.approx(plan["tau"])


def test_only_candidates_move_a_platform():
    world, _ = race_world()
    citizen_policy = world.policies[Role.CITIZEN]

    class Mover:
        def act(self, obs, rng):
            acts = citizen_policy.act(obs, rng)
            acts.position = np.zeros(len(obs))
            return acts

    world.policies[Role.CITIZEN] = Mover()
    with pytest.raises(ValueError, match="only candidates move a platform"):
        world.step()


def test_planning_is_deterministic_and_resumes_exactly():
    def run(split: bool):
        world, sc = planner_world()
        rows = []
        for t in range(sc.steps):
            if split and t == 6:
                arrays, meta = world.state()
                world, _ = planner_world()
                world.load_state(arrays, meta)
            ev = world.step()
            rows.append((ev.metrics["position_c0"], [p["q"].tolist() for p in ev.plans]))
        return rows

    assert run(False) == run(True)


def test_a_planning_run_fills_the_plans_table(tmp_path):
    sc = load_scenario(
        "candidate_env",
        [
            "users=300",
            "steps=10",
            "election.days=[9]",
            "record.events=all",
            "roles.candidate.policy=planner",
            "roles.candidate.rollouts=1",
            "roles.candidate.horizon=2",
            "roles.candidate.plan_every=5",
        ],
    )
    path = tmp_path / "sc.yaml"
    path.write_text(sc.resolved_yaml())
    out = tmp_path / "run"
    assert invoke("run", path, "--out", out, "-q").exit_code == 0
    with duckdb.connect(str(out / "events.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*), sum(chosen::INT) FROM plans").fetchone()
    assert rows == (18 * 2 * 2, 2 * 2)  # two decisions of two candidates
    assert "lambda: 0.01" in (out / "config.yaml").read_text()


@pytest.mark.parametrize(("algo", "policy"), [("q", "policy.npz"), ("ppo", "policy.safetensors")])
def test_a_trained_candidate_drops_into_an_election(tmp_path, algo, policy):
    """The PPO (and Q-learning) baseline: `train candidate` in its race, then the
    checkpoint drives the candidates of a scenario with an election."""
    out = tmp_path / algo
    result = invoke(
        "train", "candidate", "--algo", algo, "--episodes", "2", "--out", out,
        "--set", "users=300",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "use it: townsquare run election" in result.output
    train = json.loads((out / "train.json").read_text())
    assert (train["role"], train["scenario"], train["action_space"]) == (
        "candidate",
        "candidate_env",
        "intents",
    )
    sc = load_scenario(
        "candidate_env",
        ["users=300", "steps=6", "election.days=[5]", f"roles.candidate.policy={out / policy}"],
    )
    world, _ = build_world(sc)
    for _ in range(6):
        events = world.step()
    assert events.election.vote is not None
    # the checkpoint decides intents: every candidate posts once a step on topic 0
    candidates = world.population.ids_of(Role.CANDIDATE)
    posts = np.isin(events.post_author, candidates) & (events.post_kind == 0)
    assert posts.sum() == candidates.size


def test_candidates_learn_beside_other_roles_in_platform_v0():
    from townsquare.envs import platform_v0

    env = platform_v0.parallel_env(
        load_scenario("candidate_env", ["users=300", "steps=10", "election.days=[9]"]),
        learners={"candidate": "all", "influencer": "all", "citizen": 5},
    )
    parallel_api_test(env, num_cycles=12)
    observations, _ = env.reset(seed=1)
    assert {a for a in observations if a.startswith("candidate_")} == {
        "candidate_0",
        "candidate_1",
    }
    assert env.action_space("candidate_0").n == 18
    assert env.observation_space("candidate_0").shape == (8,)


def test_evaluate_refuses_a_candidate_checkpoint_in_one_line(tmp_path):
    out = tmp_path / "q"
    assert invoke("train", "candidate", "--episodes", "1", "--out", out,
                  "--set", "users=300").exit_code == 0  # fmt: skip
    result = invoke("evaluate", out / "policy.npz", "--scenario", "candidate_env", "--seeds", "2")
    one_line_error(result, "evaluate: a checkpoint on the candidates' line", "Candidate-v0")
