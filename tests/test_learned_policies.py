"""Trained policies on a scenario's policy line: `townsquare train`, `evaluate`,
substitution into runs (frozen and online), and every checkpoint error a user can hit."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from test_cli import assert_one_line_error, invoke
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.errors import UserError
from townsquare.learn.q_learning import QTable
from townsquare.roles import InfluencerRole
from townsquare.runner import Run
from townsquare.world.population import Role
from townsquare.world.posts import PostKind

SMALL = {
    "name": "subst",
    "users": 400,
    "steps": 8,
    "seed": 1,
    "roles": {
        "influencer": {"count": 4},
        "candidate": {"count": 0},
        "socialbot": {"fraction": 0.02},
    },
    "record": {"flush_every": 4},
}


def fixed_table(path, action: int, **role_kw):
    role = InfluencerRole(**role_kw)
    table = QTable.empty(role)
    table.q[:, action] = 1.0
    return table.save(path)


def scenario(**influencer) -> dict:
    data = json.loads(json.dumps(SMALL))
    data["roles"]["influencer"].update(influencer)
    return data


def test_a_fixed_table_on_the_policy_line_drives_every_influencer(tmp_path):
    path = fixed_table(tmp_path / "pro.npz", 2)
    world, _ = build_world(validate(scenario(policy=str(path))))
    influencers = world.population.ids_of(Role.INFLUENCER)
    for _ in range(5):
        world.step()
    posts = world.posts
    n = len(posts)
    mine = np.isin(posts.author[:n], influencers) & (posts.kind[:n] == PostKind.POST)
    assert mine.sum() > 10
    assert np.allclose(posts.stance[:n][mine], 0.6)
    # the influencers act through the role module only: no likes, follows or reposts
    others = np.isin(posts.author[:n], influencers) & (posts.kind[:n] != PostKind.POST)
    assert not others.any()


def test_learned_runs_are_deterministic_and_resume_exactly_when_learning_online(tmp_path):
    path = fixed_table(tmp_path / "q.npz", 1)
    sc = validate(scenario(policy=str(path), learning="online"))
    whole = Run.start(sc, tmp_path / "whole")
    whole.execute()
    again = Run.start(sc, tmp_path / "again")
    again.execute()
    a = (tmp_path / "whole" / "metrics.parquet").read_bytes()
    assert a == (tmp_path / "again" / "metrics.parquet").read_bytes()
    metrics = pq.read_table(tmp_path / "whole" / "metrics.parquet")
    assert "influencer_learned_reward" in metrics.column_names

    first = Run.start(sc.model_copy(update={"steps": 4}), tmp_path / "split")
    first.execute()
    rest = Run.resume(tmp_path / "split", steps=8)
    rest.execute()
    assert (tmp_path / "split" / "metrics.parquet").read_bytes() == a


def test_online_learning_changes_the_table_and_frozen_does_not(tmp_path):
    path = fixed_table(tmp_path / "q.npz", 1)
    for learning, changed in (("online", True), ("frozen", False)):
        world, _ = build_world(validate(scenario(policy=str(path), learning=learning)))
        policy = world.policies[Role.INFLUENCER]
        before = policy.ckpt.table.q.copy()
        for _ in range(6):
            world.step()
        assert (not np.array_equal(before, policy.ckpt.table.q)) == changed


def test_a_checkpoint_for_another_role_is_refused_naming_both(tmp_path):
    path = fixed_table(tmp_path / "bot.npz", 0)
    table = QTable.load(path)
    table.meta["role"] = "socialbot"
    table.save(path)
    with pytest.raises(UserError, match="'socialbot'.*'influencer'"):
        build_world(validate(scenario(policy=str(path))))


def test_a_checkpoint_with_another_observation_size_is_refused_naming_both(tmp_path):
    path = fixed_table(tmp_path / "q.npz", 0)
    table = QTable.load(path)
    table.meta["obs_size"] = 7
    table.save(path)
    with pytest.raises(UserError, match="observation size is 7.*has 5"):
        build_world(validate(scenario(policy=str(path))))


def test_a_q_table_of_the_wrong_shape_is_refused(tmp_path):
    path = fixed_table(tmp_path / "q.json", 0)
    doc = json.loads(path.read_text())
    doc["q"] = [[0.0, 0.0, 0.0]] * 10
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="Q-table rows"):
        build_world(validate(scenario(policy=str(path))))


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("policy.pkl", "neither 'scripted' nor a checkpoint"),
        ("missing.npz", "checkpoint file not found"),
    ],
)
def test_bad_policy_lines_give_clear_errors(tmp_path, policy, fragment):
    with pytest.raises(UserError, match=fragment):
        build_world(validate(scenario(policy=str(tmp_path / policy))))


def test_unreadable_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable Q-table"):
        build_world(validate(scenario(policy=str(bad))))
    zipped = tmp_path / "other.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("data", "{}")
    with pytest.raises(UserError, match="not a townsquare SB3 checkpoint"):
        build_world(validate(scenario(policy=str(zipped))))


def test_other_roles_have_no_learned_policies_yet():
    data = json.loads(json.dumps(SMALL))
    data["roles"]["socialbot"]["policy"] = "bot.npz"
    with pytest.raises(UserError, match="roles.socialbot.policy"):
        validate(data)


# ---------------------------------------------------------------- the CLI
@pytest.fixture
def env_scenario_file(tmp_path):
    from townsquare.config import builtin_scenarios

    data = yaml.safe_load(builtin_scenarios()["influencer_env"].read_text())
    data.update(users=200, steps=10)
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_train_q_writes_a_checkpoint_curve_and_plot(tmp_path, env_scenario_file):
    out = tmp_path / "q"
    result = invoke(
        "train", "influencer", "--scenario", str(env_scenario_file), "--episodes", "4",
        "--out", str(out), "--no-self-observation",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("policy.npz", "curve.csv", "learning_curve.png", "train.json"):
        assert (out / name).stat().st_size > 0
    lines = (out / "curve.csv").read_text().splitlines()
    assert lines[0].startswith("episode,") and [x.split(",")[0] for x in lines[1:]] == list("0123")
    table = QTable.load(out / "policy.npz")
    assert table.meta["self_observation"] is False and table.q.shape == (6, 3)
    assert table.visits.sum() == 4 * 10
    again = invoke("train", "influencer", "--scenario", str(env_scenario_file), "--episodes", "1",
                   "--out", str(out))  # fmt: skip
    assert_one_line_error(again, "--overwrite")


def test_train_ppo_writes_an_sb3_zip_that_substitutes(tmp_path, env_scenario_file):
    out = tmp_path / "ppo"
    result = invoke(
        "train", "influencer", "--algo", "ppo", "--scenario", str(env_scenario_file),
        "--episodes", "2", "--out", str(out), "--action-space", "full",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = out / "policy.zip"
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("townsquare.json"))
    assert meta["role"] == "influencer" and meta["n_actions"] == 30
    world, _ = build_world(validate(scenario(policy=str(path))))
    for _ in range(3):
        world.step()
    with pytest.raises(UserError, match="learning: online needs a Q-table"):
        build_world(validate(scenario(policy=str(path), learning="online")))


def test_train_errors(env_scenario_file):
    assert_one_line_error(
        invoke("train", "influencer", "--algo", "sgd"), "--algo sgd", "unknown algorithm", "q, ppo"
    )
    assert_one_line_error(invoke("train", "pundit"), "unknown role 'pundit'", "influencer")
    assert_one_line_error(
        invoke("train", "influencer", "--action-space", "huge"), "--action-space huge", "limited"
    )


def test_evaluate_compares_scripted_and_learned_on_paired_seeds(tmp_path):
    path = fixed_table(tmp_path / "neutral.npz", 1)
    sc = tmp_path / "sc.yaml"
    sc.write_text(yaml.safe_dump(SMALL))
    result = invoke("evaluate", str(path), "--scenario", str(sc), "--seeds", "3", "--json")
    assert result.exit_code == 0, result.output
    effect = json.loads(result.output)
    assert effect["seeds"] == [0, 1, 2] and len(effect["per_seed"]) == 3
    diffs = [r["learned"] - r["scripted"] for r in effect["per_seed"]]
    assert effect["difference"] == pytest.approx(np.mean(diffs))
    assert effect["ci_low"] <= effect["difference"] <= effect["ci_high"]
    text = invoke("evaluate", str(path), "--scenario", str(sc), "--seeds", "2")
    assert text.exit_code == 0 and "Cohen's d_z" in text.output.replace("\n", " ")


def test_evaluate_errors(tmp_path):
    assert_one_line_error(
        invoke("evaluate", str(tmp_path / "none.npz")), "checkpoint file not found"
    )
    path = fixed_table(tmp_path / "q.npz", 0)
    table = QTable.load(path)
    table.meta["role"] = "detector"
    table.save(path)
    assert_one_line_error(invoke("evaluate", str(path)), "detector")


def test_train_all_learners_share_one_table(tmp_path, env_scenario_file):
    out = tmp_path / "all"
    result = invoke("train", "influencer", "--learners", "all", "--scenario",
                    str(env_scenario_file), "--episodes", "2", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    table = QTable.load(out / "policy.npz")
    # three influencers, ten steps, two episodes: every agent's transition counts
    assert table.visits.sum() == 3 * 10 * 2
    assert table.meta["learners"] == "all"
    assert_one_line_error(
        invoke("train", "influencer", "--learners", "all", "--algo", "ppo"), "--algo q"
    )
    assert_one_line_error(invoke("train", "influencer", "--learners", "some"), "one or all")
