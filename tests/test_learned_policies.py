"""Trained policies on a scenario's policy line: `townsquare train`, `evaluate`,
substitution into runs (frozen and online), and every checkpoint error a user can hit."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from cli_checks import invoke
from cli_checks import one_line_error as assert_one_line_error
from townsquare.build import build_world
from townsquare.config import validate
from townsquare.errors import UserError
from townsquare.policies.q_table import QTable
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
    doc["visits"] = [[0, 0, 0]] * 10
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="Q-table rows"):
        build_world(validate(scenario(policy=str(path))))


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("policy.pkl", "is not a policy line"),
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
    with pytest.raises(UserError, match="pickles, which can run code"):
        build_world(validate(scenario(policy=str(tmp_path / "other.zip"))))
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(UserError, match="truncated safetensors file"):
        build_world(validate(scenario(policy=str(fake))))


def test_a_checkpoint_of_another_role_is_refused_by_the_socialbots(tmp_path):
    data = json.loads(json.dumps(SMALL))
    table = QTable.empty(InfluencerRole())
    data["roles"]["socialbot"]["policy"] = str(table.save(tmp_path / "influencer.npz"))
    with pytest.raises(UserError, match="checkpoint for role 'influencer'.*'socialbot' role"):
        build_world(validate(data))


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


def test_train_ppo_writes_policy_safetensors_that_substitutes(tmp_path, env_scenario_file):
    from townsquare.policies.ppo_network import read_ppo_meta

    out = tmp_path / "ppo"
    result = invoke(
        "train", "influencer", "--algo", "ppo", "--scenario", str(env_scenario_file),
        "--episodes", "2", "--out", str(out), "--action-space", "full",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = out / "policy.safetensors"
    assert sorted(p.name for p in out.iterdir()) == [
        ".townsquare-train", "curve.csv", "learning_curve.png", "policy.safetensors", "train.json",
    ]  # fmt: skip
    assert path.read_bytes()[8:9] == b"{"  # a JSON header, no zip, no pickle
    meta = read_ppo_meta(path)
    assert meta["role"] == "influencer" and meta["n_actions"] == 30 and meta["algo"] == "ppo"
    assert json.loads((out / "train.json").read_text())["checkpoint"] == str(path)
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


# ---------------------------------------------------------------- PPO checkpoints
@pytest.fixture(scope="module")
def ppo(tmp_path_factory):
    """A PPO model trained a few hundred steps, and its saved checkpoint."""
    import gymnasium

    import townsquare.envs  # noqa: F401 - registers the environment
    from townsquare.config import builtin_scenarios
    from townsquare.learn.ppo import PPOConfig, save_ppo, train_ppo

    data = yaml.safe_load(builtin_scenarios()["influencer_env"].read_text())
    data.update(users=200, steps=20)
    env = gymnasium.make("townsquare/Influencer-v0", scenario=data)
    cfg = PPOConfig(episodes=15, n_steps=64, batch_size=32)
    model, _ = train_ppo(env, cfg)
    path = save_ppo(
        model, tmp_path_factory.mktemp("ppo") / "policy.safetensors", env.unwrapped.role, cfg
    )
    env.close()
    return model, path


def test_a_loaded_ppo_checkpoint_acts_as_the_trained_model(ppo):
    import torch

    from townsquare.policies.learned import load_model, read_checkpoint, role_for_checkpoint

    model, path = ppo
    ckpt = read_checkpoint(path)
    role = role_for_checkpoint(ckpt, "influencer")
    load_model(ckpt, role)
    obs = np.random.default_rng(3).uniform(-1, 1, (500, role.obs_size)).astype(np.float32)
    want, _ = model.predict(obs, deterministic=True)
    assert len(set(want.tolist())) > 1
    assert np.array_equal(ckpt.decide(obs, role), want)
    with torch.no_grad():
        t = torch.as_tensor(obs)
        ours = ckpt.model.get_distribution(t).distribution.logits
        theirs = model.policy.get_distribution(t).distribution.logits
    assert torch.equal(ours, theirs)


def test_runs_with_a_ppo_policy_line_are_byte_identical(ppo, tmp_path):
    _, path = ppo
    sc = validate(scenario(policy=str(path)))
    for name in ("a", "b"):
        Run.start(sc, tmp_path / name).execute()
    a, b = (tmp_path / "a"), (tmp_path / "b")
    assert (a / "metrics.parquet").read_bytes() == (b / "metrics.parquet").read_bytes()
    world = "checkpoints/world-00000008.npz"
    with np.load(a / world, allow_pickle=False) as wa, np.load(b / world, allow_pickle=False) as wb:
        assert wa.files == wb.files
        for key in wa.files:
            assert wa[key].tobytes() == wb[key].tobytes(), key
    world, _ = build_world(sc)
    for _ in range(3):
        world.step()
    influencers = world.population.ids_of(Role.INFLUENCER)
    n = len(world.posts)
    assert np.isin(world.posts.author[:n], influencers).any()


class Exploit:
    """What a malicious SB3 zip holds: unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted_zip(path, marker):
    """An SB3-style zip whose ``data`` and ``policy.pth`` would run code if unpickled
    (as ``PPO.load`` does). Built here; never loaded."""
    import base64

    payload = pickle.dumps(Exploit(marker))
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>",
                             ":serialized:": base64.b64encode(payload).decode()}}  # fmt: skip
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
        zf.writestr("policy.pth", payload)
        zf.writestr("_stable_baselines3_version", "2.3.0")
    return path


def test_a_crafted_sb3_zip_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = crafted_zip(tmp_path / "evil.zip", marker)
    sc = tmp_path / "sc.yaml"
    sc.write_text(yaml.safe_dump(SMALL))
    fragments = ("evil.zip", "pickles, which can run code", "--algo ppo", "policy.safetensors")
    assert_one_line_error(invoke("evaluate", str(evil), "--scenario", str(sc)), *fragments)
    result = invoke("run", str(sc), "--set", f"roles.influencer.policy={evil}",
                    "--out", str(tmp_path / "run"))  # fmt: skip
    assert_one_line_error(result, "roles.influencer.policy", *fragments)
    # the same bytes under the checkpoint suffix are not safetensors either
    renamed = tmp_path / "evil.safetensors"
    renamed.write_bytes(evil.read_bytes())
    assert_one_line_error(invoke("evaluate", str(renamed), "--scenario", str(sc)), "evil")
    assert not marker.exists()


def _rewrite(src, dst, meta=None, raw=None, tensors=None):
    """Copy a checkpoint, editing its metadata (``meta(dict)``, or ``raw`` text) and its
    tensors (``tensors(dict)``)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as f:
        text = f.metadata()["townsquare"]
        state = {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(text)
    if meta is not None:
        meta(doc)
    if tensors is not None:
        tensors(state)
    save_file(state, str(dst), metadata={"townsquare": raw if raw is not None else json.dumps(doc)})
    return dst


def _set(**kw):
    return lambda doc: doc.update(kw)


def _truncate(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _garbage(src, dst):
    dst.write_bytes(np.random.default_rng(0).bytes(4000))
    return dst


def _extra(state):
    import torch

    state["backdoor.weight"] = torch.zeros(2, 2)


TAMPERED = {
    "truncated": (_truncate, "truncated"),
    "random bytes": (_garbage, "not a safetensors file"),
    "metadata not JSON": (
        lambda s, d: _rewrite(s, d, raw="{'role': influencer"),
        "not strict JSON",
    ),
    "metadata a list": (lambda s, d: _rewrite(s, d, raw="[1, 2]"), "not a JSON object"),
    "another role": (lambda s, d: _rewrite(s, d, _set(role="pundit")), "pundit"),
    "another obs size": (lambda s, d: _rewrite(s, d, _set(obs_size=7)), "observation size is 7"),
    "another algo": (lambda s, d: _rewrite(s, d, _set(algo="dqn")), "algo is 'dqn'"),
    "newer format": (lambda s, d: _rewrite(s, d, _set(format_version=2)), "format_version"),
    "unknown key": (lambda s, d: _rewrite(s, d, _set(code="import os")), "metadata keys"),
    "unknown activation": (
        lambda s, d: _rewrite(s, d, lambda m: m["policy"].update(activation_fn="os.system")),
        "activation_fn 'os.system' is not one of",
    ),
    "huge network": (
        lambda s, d: _rewrite(s, d, lambda m: m["policy"]["net_arch"].update(pi=[10**9])),
        "layer size",
    ),
    "another class": (
        lambda s, d: _rewrite(s, d, lambda m: m["policy"].update({"class": "builtins.eval"})),
        "policy.class",
    ),
    "another net_arch": (
        lambda s, d: _rewrite(s, d, lambda m: m["policy"]["net_arch"].update(pi=[32, 32])),
        "'mlp_extractor.policy_net.0.weight' is float32 [64, 5]",
    ),
    "extra tensor": (lambda s, d: _rewrite(s, d, tensors=_extra), "unexpected ['backdoor.weight']"),
    "missing tensor": (
        lambda s, d: _rewrite(s, d, tensors=lambda t: t.pop("action_net.bias")),
        "missing ['action_net.bias']",
    ),
    "shape changed": (
        lambda s, d: _rewrite(
            s, d, tensors=lambda t: t.update({"action_net.weight": t["action_net.weight"][:2]})
        ),  # fmt: skip
        "'action_net.weight' is float32 [2, 64]",
    ),
    "dtype changed": (
        lambda s, d: _rewrite(
            s, d, tensors=lambda t: t.update({"value_net.bias": t["value_net.bias"].double()})
        ),  # fmt: skip
        "'value_net.bias' is float64",
    ),
    "not finite": (
        lambda s, d: _rewrite(s, d, tensors=lambda t: t["value_net.bias"].fill_(float("nan"))),
        "non-finite",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_ppo_checkpoint_is_a_one_line_error(ppo, tmp_path, case):
    make, fragment = TAMPERED[case]
    path = make(ppo[1], tmp_path / "policy.safetensors")
    sc = tmp_path / "sc.yaml"
    sc.write_text(yaml.safe_dump(SMALL))
    result = invoke("evaluate", str(path), "--scenario", str(sc), "--seeds", "1")
    assert_one_line_error(result, str(path), fragment)
    with pytest.raises(UserError, match="roles.influencer.policy"):
        build_world(validate(scenario(policy=str(path))))


def test_the_ppo_checkpoint_records_the_training_settings_there_are():
    # the checkpoint format (policies) names PPOConfig's fields without importing learn
    from dataclasses import fields

    from townsquare.learn.ppo import PPOConfig
    from townsquare.policies.ppo_network import CONFIG_KEYS

    assert set(CONFIG_KEYS) == {f.name for f in fields(PPOConfig)}


@pytest.mark.parametrize(
    ("meta", "fragment"),
    [
        ('{"role": "influencer", "role": "socialbot"}', "duplicate key 'role'"),
        ('{"role": "influencer", "x": NaN}', "NaN is not JSON"),
        ("{not json", "is not strict JSON"),
    ],
)
def test_a_ppo_header_is_read_as_strictly_as_a_q_table(tmp_path, meta, fragment):
    import torch
    from safetensors.torch import save_file

    from townsquare.policies.ppo_network import META_KEY, CheckpointFormatError, read_ppo_meta

    path = tmp_path / "odd.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={META_KEY: meta})
    with pytest.raises(CheckpointFormatError, match=fragment):
        read_ppo_meta(path)
