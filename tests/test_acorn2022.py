"""`townsquare reproduce acorn2022 --quick` and `train socialbot --algo rllib-ppo`
(learn/marl.py, experiments/acorn2022.py), on small graphs written here."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from cli_checks import invoke, one_line_error  # noqa: E402
from townsquare.experiments import acorn2022 as a  # noqa: E402
from townsquare.world.influence import hub_and_spoke_communities  # noqa: E402


@pytest.fixture(scope="module")
def test_graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphs")
    for k in range(3):
        g = hub_and_spoke_communities(np.random.default_rng(100 + k), 400)
        src = np.repeat(np.arange(g.n), g.out_degree)
        lines = [f"# nodes: {g.n}"] + [f"{u} {v}" for u, v in zip(src, g.targets, strict=True)]
        (folder / f"g{k}.edgelist").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def quick(test_graphs, tmp_path_factory):
    out = tmp_path_factory.mktemp("acorn") / "quick"
    result = invoke("reproduce", "acorn2022", "--quick", "--test-graphs", test_graphs,
                    "--out", out)  # fmt: skip
    return result, out


def test_quick_trains_then_tests_every_arm_on_every_graph(quick):
    result, out = quick
    assert result.exit_code == 0, result.output
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(a.COLUMNS)
    assert {(r["graph"], r["arm"]) for r in rows} == {
        (f"g{k}", arm) for k in range(3) for arm in a.ARMS
    }
    for r in rows:
        assert 0 <= float(r["influence_ratio"]) and 0 < int(r["survived"]) <= 120
    scripted = [r for r in rows if r["arm"] == "scripted"]
    assert all(r["detected"] == "True" and r["survived"] == "20" for r in scripted)
    answers = json.loads((out / "answers.json").read_text())
    assert answers["training"]["iterations"] == 4
    assert "influence_vs_agent_i_h" in answers and "survival_vs_scripted" in answers
    assert (out / "train" / "policy.safetensors").is_file()
    assert (out / "arms.png").read_bytes()[:4] == b"\x89PNG"
    assert "learned - AgentI+H" in result.output


def test_quick_plays_the_trained_bot_on_the_platform(quick):
    from townsquare.experiments import bots_on_platform as bp

    result, out = quick
    with open(out / "platform.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(bp.COLUMNS)
    assert {(r["scenario"], r["arm"]) for r in rows} == {
        (sc, arm) for sc in ("default", "learned") for arm in bp.ARMS
    }
    for r in rows:
        assert float(r["bot_activities"]) > 0 and 0 <= int(r["facts_inside"]) <= 9
    answers = json.loads((out / "answers.json").read_text())
    assert [r["arm"] for r in answers["platform"]][-2:] == [
        "learned - scripted_detector",
        "learned - scripted",
    ]
    assert (out / "platform.png").read_bytes()[:4] == b"\x89PNG"
    assert "platform, default, learned bots - scripted" in result.output


def test_the_trained_policy_loads_without_ray_and_refuses_other_files(quick, tmp_path):
    from townsquare.learn.marl import load_policy
    from townsquare.roles import socialbot as sb
    from townsquare.roles.detector import detector_from

    _, out = quick
    policy = load_policy(out / "train" / "policy.safetensors")
    game = sb.SocialbotGame(
        hub_and_spoke_communities(np.random.default_rng(0), 300), detector_from("builtin"), 30
    )
    activity, target = policy.turn(game, np.random.default_rng(0))
    assert activity in range(4) and (target == -1) == (activity not in sb.INTERACTIVE)
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"nothing")
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_policy(bad)
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, np.float32)}, str(bad), metadata={"format": "other"})
    with pytest.raises(ValueError, match="not a socialbot policy"):
        load_policy(bad)


def test_bad_input_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(
        invoke(
            "reproduce", "acorn2022", "--quick", "--test-graphs", empty, "--out", tmp_path / "o"
        ),
        "holds no edge lists",
    )
    one_line_error(
        invoke("reproduce", "jin2024", "--test-graphs", empty, "--out", tmp_path / "p"),
        "--test-graphs applies to acorn2022",
    )
    one_line_error(
        invoke("train", "citizen", "--algo", "rllib-ppo", "--out", tmp_path / "q"),
        "trains the socialbot",
    )


def test_train_socialbot_with_rllib_ppo_writes_its_policy_and_curve(tmp_path):
    out = tmp_path / "bot"
    result = invoke("train", "socialbot", "--algo", "rllib-ppo", "--episodes", "2", "--out", out)
    assert result.exit_code == 0, result.output
    with open(out / "curve.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert int(rows[-1]["env_steps"]) >= 4000
    assert (out / "policy.safetensors").is_file() and (out / "checkpoint").is_dir()
    assert json.loads((out / "train.json").read_text())["algo"] == "rllib-ppo"
    one_line_error(
        invoke("train", "socialbot", "--algo", "rllib-ppo", "--episodes", "1", "--out", out),
        "--overwrite",
    )
