"""GRPO on the verifiable reward (learn/grpo.py), with a tiny model built here."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

from cli_checks import invoke, one_line_error  # noqa: E402
from townsquare.errors import UserError  # noqa: E402
from townsquare.learn.grpo import GRPOSettings, check, train_grpo  # noqa: E402
from townsquare.policies.lm import TEMPLATES  # noqa: E402
from townsquare.text.offline import OfflineGenerator  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer GPT-2 over a word-level vocabulary of the climate pack's claims and the
    candidate's prompt: no download."""
    from townsquare.text.tiny import tiny_causal_lm

    pack = OfflineGenerator().pack_for(0)
    corpus = [*pack.pro_claims, *pack.con_claims, *TEMPLATES.values()]
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny_policy"), corpus)


def settings(model, seed=0, **kw):
    # two-word messages: the reward peaks at one net word of the candidate's own side
    # (a message reaches only voters within epsilon of it), which two words can find
    base = dict(
        model=str(model), overrides=("users=300",), steps=100, batch=16, num_generations=8,
        max_completion_length=2, learning_rate=1e-2, reader="lexicon", panel=1000, seed=seed,
    )  # fmt: skip
    return GRPOSettings(**{**base, **kw})


def test_grpo_on_the_verifiable_reward_raises_it_on_three_seeds(tiny_model, tmp_path):
    for seed in (0, 1, 2):
        result = train_grpo(settings(tiny_model, seed), tmp_path / f"s{seed}")
        first, last = result.first_last()
        assert last > first + 0.01 and last > 1.5 * first, (seed, first, last)


def test_grpo_writes_its_model_curve_and_summary(tiny_model, tmp_path):
    out = tmp_path / "run"
    result = train_grpo(settings(tiny_model, steps=6), out)
    with open(out / "curve.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == list(range(1, 7)) == [r["step"] for r in result.curve]
    summary = json.loads((out / "train.json").read_text())
    assert summary["algo"] == "grpo" and summary["prompts"] >= 1
    assert (out / "model" / "config.json").is_file()
    assert (out / "model" / "model.safetensors").is_file()
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    # the trained model drives the candidates' posts through the policy line
    from townsquare.build import build_world
    from townsquare.config import load_scenario

    sc = load_scenario(
        "candidate_env",
        ["users=300", "steps=3", "election.days=[2]",
         f"roles.candidate.policy=lm:transformers:{out / 'model'}"],
    )  # fmt: skip
    world, _ = build_world(sc)
    for _ in range(3):
        world.step()
    m = world.policies[2].metrics()
    assert m["lm_candidate_prompts"] == 6


@pytest.mark.parametrize(("role", "users"), [("influencer", 300), ("socialbot", 1000)])
def test_influencers_and_socialbots_train_on_the_engagement_they_earn(
    tiny_model, tmp_path, role, users
):
    out = tmp_path / role
    result = train_grpo(
        settings(tiny_model, role=role, steps=5, overrides=(f"users={users}",)), out
    )
    summary = json.loads((out / "train.json").read_text())
    assert summary["reward"] == "engagement" and summary["role"] == role
    assert summary["scenario"] == {"influencer": "influencer_env", "socialbot": "default"}[role]
    verified = np.array([r["verified"] for r in result.curve])
    # likes and follows per 100 readers: a share of the panel, never negative
    assert verified.size == 5 and (verified > 0).all() and (verified <= 200).all()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"batch": 6}, "multiple of --num-generations 4"),
        ({"num_generations": 1, "batch": 4}, "at least 2"),
        ({"role": "citizen"}, "no verifiable reward"),
        ({"model": "/no/such/folder"}, "no such folder"),
    ],
)
def test_settings_that_cannot_train_are_one_line(tiny_model, change, fragment):
    s = settings(tiny_model, batch=8, num_generations=4)
    with pytest.raises(UserError, match=fragment):
        check(GRPOSettings(**{**s.__dict__, **change}))


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(UserError, match="holds no model"):
        check(GRPOSettings(model=str(tmp_path)))


def test_train_candidate_grpo_on_the_command_line(tiny_model, tmp_path):
    out = tmp_path / "cli"
    result = invoke(
        "train", "candidate", "--algo", "grpo", "--model", tiny_model, "--episodes", "4",
        "--set", "users=300", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "model" / "config.json").is_file()
    assert "lm:transformers:" in result.output
    one_line_error(
        invoke(
            "train",
            "candidate",
            "--algo",
            "grpo",
            "--model",
            tmp_path / "none",
            "--out",
            tmp_path / "x",
        ),  # fmt: skip
        "--model",
        "no such folder",
    )
    one_line_error(
        invoke("train", "candidate", "--algo", "grpo", "--out", tmp_path / "y"), "--model"
    )


class RubricJudge:
    """A stand-in judge backend: answers the judge's prompt with JSON scores computed
    from the judged text (consistency: the share of its words from the con claims,
    the candidate's side). What a served model would return, without one."""

    name, model = "rubric-judge", "x"

    def __init__(self):
        pack = OfflineGenerator().pack_for(0)
        pro = {w for c in pack.pro_claims for w in c.lower().split()}
        self.con = {w for c in pack.con_claims for w in c.lower().split()} - pro

    def generate(self, requests):
        import re

        out = []
        for r in requests:
            text = re.search(r'"""(.*)"""', r.prompt, re.DOTALL).group(1)
            words = text.lower().split() or [""]
            share = sum(w in self.con for w in words) / len(words)
            out.append(
                json.dumps({"civility": 5, "specificity": 5, "consistency": round(10 * share)})
            )
        return out


def test_grpo_on_the_judge_alone_raises_its_score(tiny_model, tmp_path):
    result = train_grpo(
        settings(tiny_model, steps=60, weights=(0.0, 1.0)), tmp_path / "judge",
        judge_backend=RubricJudge(),
    )  # fmt: skip
    judged = np.array([r["judge"] for r in result.curve])
    k = len(judged) // 5
    assert judged[-k:].mean() > judged[:k].mean() + 0.05
    assert np.isnan([r["verified"] for r in result.curve]).all()


def test_both_rewards_are_logged_with_their_agreement(tiny_model, tmp_path):
    result = train_grpo(
        settings(tiny_model, steps=4), tmp_path / "both", judge_backend=RubricJudge()
    )
    row = result.curve[-1]
    assert np.isfinite(row["verified"]) and np.isfinite(row["judge"])
    assert np.isnan(row["judge_agreement"]) or -1 <= row["judge_agreement"] <= 1
    with open(tmp_path / "both" / "curve.csv") as fh:
        assert "judge_agreement" in fh.readline()


def test_a_judge_weight_without_a_judge_is_one_line(tiny_model, tmp_path):
    with pytest.raises(UserError, match="needs a judge"):
        train_grpo(settings(tiny_model, steps=2, weights=(0.0, 1.0)), tmp_path / "x")
    with pytest.raises(UserError, match="--weights"):
        check(settings(tiny_model, weights=(0.0, 0.0)))


def test_grpo_judge_options_on_the_command_line(tiny_model, tmp_path):
    def grpo(out, *args):
        return invoke("train", "candidate", "--algo", "grpo", "--model", tiny_model, *args,
                      "--set", "users=300", "--episodes", "2", "--out", out)  # fmt: skip

    one_line_error(grpo(tmp_path / "a", "--weights", "x"), "--weights x")
    one_line_error(grpo(tmp_path / "b", "--weights", "0,1"), "needs a judge")
    one_line_error(grpo(tmp_path / "c", "--judge", "nonsense"), "--judge nonsense")


def test_grpo_with_lora_saves_a_merged_model_the_policy_line_loads(tiny_model, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    train_grpo(settings(tiny_model, steps=3, lora=4), out)
    assert (out / "model" / "model.safetensors").is_file()
    assert not (out / "model" / "adapter_config.json").exists()  # merged, not an adapter
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(out / "model")
    original = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert merged.num_parameters() == original.num_parameters()
    changed = [
        name
        for (name, a), (_, b) in zip(
            merged.state_dict().items(), original.state_dict().items(), strict=True
        )
        if not torch.equal(a, b)
    ]
    assert changed  # the trained adapter went into the weights
    with pytest.raises(UserError, match="--lora -1"):
        check(settings(tiny_model, lora=-1))
