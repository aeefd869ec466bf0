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
    # three-word messages, the shortest the policy line posts (`text.messages.garbled`;
    # shorter ones earn nothing): the reward peaks at one net word of the candidate's own
    # side (a message reaches only voters within epsilon of it), which three words can
    # find; at learning rate 0.01 they learn too slowly for 100 steps
    base = dict(
        model=str(model), overrides=("users=300",), steps=100, batch=16, num_generations=8,
        max_completion_length=3, learning_rate=2e-2, reader="lexicon", panel=1000, seed=seed,
    )  # fmt: skip
    return GRPOSettings(**{**base, **kw})


# seed 0 in `make test`; seeds 1 and 2 (80 s each) in `make reproduce` (slow), which
# together show the rise on three seeds
@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
def test_grpo_on_the_verifiable_reward_raises_it_on_three_seeds(tiny_model, tmp_path, seed):
    result = train_grpo(settings(tiny_model, seed), tmp_path / f"s{seed}")
    first, last = result.first_last()
    print(f"seed {seed}: {first:.4f} -> {last:.4f}")
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
    # it prompts and samples as it was trained: townsquare.json beside the model
    policy = world.policies[2]
    trained = json.loads((out / "model" / "townsquare.json").read_text())
    assert trained == {"role": "candidate", "template": TEMPLATES["candidate"],
                       "max_tokens": 3, "temperature": 1.0, "reader": "lexicon"}  # fmt: skip
    assert (policy.template, policy.max_tokens, policy.temperature) == (
        TEMPLATES["candidate"], 3, 1.0
    )  # fmt: skip
    assert type(policy.reader).__name__ == "LexiconStanceReader"
    for _ in range(3):
        world.step()
    m = policy.metrics()
    assert m["lm_candidate_prompts"] == 6
    # a damaged townsquare.json is one line naming it
    (out / "model" / "townsquare.json").write_text('{"max_tokens": "many"}')
    with pytest.raises(UserError, match=r"roles\.candidate\.policy: .*townsquare.json: damaged"):
        build_world(sc)


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


# slow since 2026-12-07 (47 s), to keep `make test` within CI's 20 minutes; the judge's
# path through training is `make test`'s below (both rewards, a judge going down)
@pytest.mark.slow
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


class FailingJudge(RubricJudge):
    """The stand-in judge, its server going down after ``calls`` requests."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def generate(self, requests):
        from townsquare.text.backend import TextBackendError

        self.calls -= 1
        if self.calls < 0:
            raise TextBackendError("http://judge.invalid/v1: connection refused")
        return super().generate(requests)


def test_a_judge_going_down_leaves_a_checkpoint_that_resumes(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "down"
    s = settings(tiny_model, steps=8)
    with pytest.raises(UserError, match="failed at step 4 of 8") as err:
        train_grpo(s, out, judge_backend=FailingJudge(calls=3))
    assert "\n" not in str(err.value) and "--resume" in str(err.value)
    ckpt = out / "checkpoint"
    state = json.loads((ckpt / "state.json").read_text())
    assert state["done"] == 3 and [r["step"] for r in state["curve"]] == [1, 2, 3]
    # the library's own format: safetensors and JSON, nothing pickled
    files = [p.name for p in ckpt.rglob("*") if p.is_file()]
    assert "optimizer.safetensors" in files and "model.safetensors" in files
    assert not [f for f in files if f.endswith((".pt", ".pth", ".bin", ".pkl"))]
    from safetensors.torch import load_file

    moments = load_file(ckpt / "optimizer.safetensors")
    assert any(k.endswith("::exp_avg") for k in moments)
    assert not (out / "model").exists()  # no finished model claimed
    # the same settings with --resume go on to the end, keeping the steps done and the
    # optimizer's moments
    from townsquare.learn import grpo_checkpoint

    restored = []
    load = grpo_checkpoint.load_moments
    monkeypatch.setattr(
        grpo_checkpoint, "load_moments", lambda *a: restored.append(load(*a)) or restored[-1]
    )
    result = train_grpo(s, out, judge_backend=FailingJudge(calls=100), resume=True)
    assert restored and restored[0] == len({k.split("::")[0] for k in moments}) > 0
    assert [r["step"] for r in result.curve] == list(range(1, 9))
    assert result.curve[:3] == state["curve"]
    assert json.loads((out / "train.json").read_text())["resumed_at_step"] == 3
    assert (out / "model" / "model.safetensors").is_file()
    assert not ckpt.exists()  # a complete run leaves no checkpoint behind


def test_resuming_is_refused_in_one_line_when_it_cannot_go_on(tiny_model, tmp_path):
    out = tmp_path / "r"
    s = settings(tiny_model, steps=4)
    with pytest.raises(UserError, match="holds no GRPO checkpoint"):
        train_grpo(s, out, resume=True)
    with pytest.raises(UserError, match="failed at step 2"):
        train_grpo(s, out, judge_backend=FailingJudge(calls=1))
    with pytest.raises(UserError, match=r"other settings \(learning_rate\)"):
        train_grpo(settings(tiny_model, steps=4, learning_rate=1e-3), out, resume=True)
    with pytest.raises(UserError, match="nothing to resume"):
        train_grpo(settings(tiny_model, steps=1), out, resume=True)
    state = out / "checkpoint" / "state.json"
    state.write_text("{not json")
    with pytest.raises(UserError, match="state.json is damaged"):
        train_grpo(s, out, resume=True)


def test_a_lora_run_resumes_from_its_adapter(tiny_model, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    s = settings(tiny_model, steps=4, lora=4)
    with pytest.raises(UserError, match="failed at step 3"):
        train_grpo(s, out, judge_backend=FailingJudge(calls=2))
    assert (out / "checkpoint" / "adapter" / "adapter_config.json").is_file()
    result = train_grpo(s, out, judge_backend=FailingJudge(calls=100), resume=True)
    assert [r["step"] for r in result.curve] == [1, 2, 3, 4]
    assert not (out / "model" / "adapter_config.json").exists()  # merged


def test_every_save_every_steps_a_checkpoint_is_written(tiny_model, tmp_path):
    from townsquare.learn import grpo_checkpoint

    out = tmp_path / "every"
    seen = []

    def on_step(row):
        path = out / "checkpoint" / "state.json"
        seen.append(json.loads(path.read_text())["done"] if path.exists() else None)

    train_grpo(settings(tiny_model, steps=5, save_every=2), out, on_step)
    # written after steps 2 and 4 (read back at the next step), removed at the end
    assert seen == [None, None, 2, 2, 4]
    assert not (out / "checkpoint").exists()
    assert grpo_checkpoint.schedule_left(1e-2, 10, 4) == pytest.approx(6e-3)


class InterruptingJudge(RubricJudge):
    """The stand-in judge, the user pressing Ctrl-C while it answers its second batch."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def generate(self, requests):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return super().generate(requests)


def test_ctrl_c_on_the_command_line_saves_a_checkpoint_and_resume_finishes(
    tiny_model, tmp_path, monkeypatch
):
    import townsquare.learn.grpo as grpo

    made, judge = grpo.make_judge, InterruptingJudge()  # one judge: Ctrl-C comes once
    monkeypatch.setattr(grpo, "make_judge", lambda s, backend=None: made(s, judge))
    out = tmp_path / "cli"

    def grpo_cli(*extra):
        return invoke("train", "candidate", "--algo", "grpo", "--model", tiny_model,
                      "--judge", "openai:judge@http://127.0.0.1:9/v1", "--episodes", "4",
                      "--set", "users=300", "--out", out, *extra)  # fmt: skip

    stopped = grpo_cli()
    assert stopped.exit_code == 130, stopped.output
    assert "interrupted at step 2 of 4" in stopped.output and "--resume" in stopped.output
    assert json.loads((out / "checkpoint" / "state.json").read_text())["done"] == 1
    # a new run into the folder would lose the checkpoint: refused unless asked for
    one_line_error(grpo_cli(), "holds a stopped run")
    finished = grpo_cli("--resume")
    assert finished.exit_code == 0, finished.output
    assert (out / "model" / "config.json").is_file() and not (out / "checkpoint").exists()
    one_line_error(grpo_cli(), "exists; pass --overwrite")


def test_the_reward_counts_only_what_the_policy_line_would_post():
    from townsquare.learn.grpo import posted_text

    assert posted_text("candidate", "[to_centre] lower taxes now") == "lower taxes now"
    assert posted_text("candidate", "[silent] lower taxes now") is None
    assert posted_text("candidate", "[follow] lower taxes now") is None  # not its tag
    assert posted_text("citizen", "[to_centre] lower taxes now") is None
    assert posted_text("candidate", "[to_centre] cut taxes") is None  # two words left
    assert posted_text("influencer", "plain words for all") == "plain words for all"


def test_resume_refuses_what_it_cannot_continue_faithfully(tiny_model, tmp_path):
    out = tmp_path / "r"
    with pytest.raises(UserError, match="failed at step 2"):
        train_grpo(settings(tiny_model, steps=3), out, judge_backend=FailingJudge(calls=1))
    # a KL penalty's reference would be the checkpoint's model
    with pytest.raises(UserError, match="beta > 0"):
        train_grpo(settings(tiny_model, steps=3, beta=0.1), out, resume=True)
    # a judge may move to another address, not appear or vanish
    with pytest.raises(UserError, match=r"other settings \(judge\)"):
        train_grpo(settings(tiny_model, steps=3, judge="openai:j@http://127.0.0.1:9/v1"), out,
                   resume=True)  # fmt: skip
    # a save that stopped between its two renames leaves the last whole checkpoint
    (out / "checkpoint").rename(out / "checkpoint.old")
    result = train_grpo(settings(tiny_model, steps=3), out, judge_backend=RubricJudge(),
                        resume=True)  # fmt: skip
    assert [r["step"] for r in result.curve] == [1, 2, 3]
    assert not any(p.name.startswith("checkpoint") for p in out.iterdir())
    with pytest.raises(UserError, match="at least one GRPO step"):
        check(settings(tiny_model, steps=0))


def test_a_damaged_lora_checkpoint_is_one_line(tiny_model, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    s = settings(tiny_model, steps=3, lora=4)
    with pytest.raises(UserError, match="failed at step 2"):
        train_grpo(s, out, judge_backend=FailingJudge(calls=1))
    weights = out / "checkpoint" / "adapter" / "adapter_model.safetensors"
    weights.write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="adapter is damaged") as err:
        train_grpo(s, out, judge_backend=RubricJudge(), resume=True)
    assert "\n" not in str(err.value)
    weights.unlink()
    with pytest.raises(UserError, match="adapter_model.safetensors is missing"):
        train_grpo(s, out, judge_backend=RubricJudge(), resume=True)


def test_a_model_trained_for_another_role_is_refused_on_the_policy_line(tmp_path, tiny_model):
    import shutil

    from townsquare.build import build_world
    from townsquare.config import load_scenario

    folder = tmp_path / "m"
    shutil.copytree(tiny_model, folder)
    (folder / "townsquare.json").write_text(json.dumps({"role": "influencer"}))
    sc = load_scenario(
        "candidate_env", ["users=300", f"roles.candidate.policy=lm:transformers:{folder}"]
    )
    with pytest.raises(UserError, match="trained for the influencer role, not the candidate"):
        build_world(sc)
