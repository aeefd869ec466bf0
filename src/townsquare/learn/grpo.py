"""GRPO on rewards the simulator verifies (DeepSeekMath 2024, DeepSeek-R1 2025; MODELS.md
section 5): a language model learns to write a role's posts.

The loop (TRL's ``GRPOTrainer`` does the optimisation):

1. **Prompts are observations.** The role's scenario runs with its scripted policies;
   every ``every`` steps, the learner (the role's ``learner``-th user, as in the
   environments) gives one prompt if it reads that step (its observation filled into
   the role's template, `policies.lm`), together with a copy of the world as it stood
   before that step (`World.fork`).
2. **Completions are posts.** For each prompt the model writes ``num_generations``
   completions (one GRPO group).
3. **The reward is verified.** Each completion's stance is read from its words (a
   stance reader, `text.stance`), and the message is shown to a random panel of
   citizens in a fork of that prompt's world (`learn.verifiable`). A candidate's reward
   is the change of the panel's vote intention toward it, in percentage points
   (`panel_vote_reward`); an influencer's or a socialbot's is the likes and new follows
   it earns per 100 panel members (`panel_engagement_reward`). A group shares its panel
   (the prompt's seed), so its completions are compared on the same citizens.
4. **Records.** Every optimisation step's mean reward, its spread within groups and
   the share of groups whose rewards were all equal (they teach nothing) go to
   ``curve.csv`` and ``learning_curve.png``; the model is saved with
   ``save_pretrained`` (safetensors: no pickle), a folder the policy line takes as
   ``lm:transformers:PATH``.

Needs the ``llm`` extra (TRL, datasets, accelerate, transformers, torch).
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

#: what the judge scores a candidate's message on (issue 14's examples)
CANDIDATE_RUBRIC = (
    ("civility", "the message is civil: no insults, no contempt for opponents"),
    ("specificity", "the message names concrete policies or facts, not slogans"),
    (
        "consistency",
        "the message is consistent with a candidate standing against strong "
        "climate rules (position -0.5 on a scale from -1 against to +1 for)",
    ),
)


#: what the judge scores an influencer's and a socialbot's messages on
ENGAGEMENT_RUBRIC = (
    ("civility", "the message is civil: no insults, no contempt for others"),
    ("specificity", "the message says something concrete about the topic, not a slogan"),
    ("human", "the message reads as written by a person, not by a bot or a template"),
)
#: each role that can learn to write: the scenario its prompts come from (its small
#: built-in environment), what the verifiable reward counts, and the judge's rubric
ROLES = {
    "candidate": ("candidate_env", "votes", CANDIDATE_RUBRIC),
    "influencer": ("influencer_env", "engagement", ENGAGEMENT_RUBRIC),
    # bots that live on at the published catch rate (in influencer_env a flagged bot is
    # suspended at once, and gives a prompt or two)
    "socialbot": ("default", "engagement", ENGAGEMENT_RUBRIC),
}
#: the verifiable reward's unit, by what it counts
UNITS = {
    "votes": "percentage points of vote intention",
    "engagement": "likes and follows per 100 readers",
}


@dataclass(frozen=True)
class GRPOSettings:
    model: str  # a local causal LM folder
    role: str = "candidate"
    scenario: str | None = None  # None: the role's own (`ROLES`)
    overrides: tuple[str, ...] = ()
    learner: int = 0  # which of the role's users learns (in user-id order), as in the envs
    every: int = 5  # steps between the scenario's steps that give prompts
    steps: int = 40  # optimisation steps
    batch: int = 8  # completions per optimisation step (a multiple of num_generations)
    num_generations: int = 4
    max_completion_length: int = 16
    learning_rate: float = 1e-5
    beta: float = 0.0  # KL to the starting model (TRL's default: none)
    temperature: float = 1.0
    panel: int = 100
    horizon: int = 0
    reader: str = "embedding"
    #: the judge's backend (``offline``-less specs of `policies.lm`: transformers:PATH or
    #: openai:MODEL@URL); None: no judge
    judge: str | None = None
    #: the rubric the judge scores (item -> description); default `CANDIDATE_RUBRIC`
    rubric: tuple[tuple[str, str], ...] | None = None
    #: weights of the verifiable reward and the judge's (0: that reward is left out);
    #: None: (1, 1) with a judge, (1, 0) without
    weights: tuple[float, float] | None = None
    #: LoRA rank through peft (0: fine-tune every weight); the adapter is merged into the
    #: saved model, so the policy line loads a plain model folder
    lora: int = 0
    seed: int = 0
    device: str = "cpu"
    #: write a checkpoint every this many steps (0: only when training stops early)
    save_every: int = 0
    extra: dict = field(default_factory=dict)


def check(s: GRPOSettings, judge_given: bool = False) -> None:
    """One-line errors for settings that cannot train (before anything is loaded).
    ``judge_given``: a judge backend comes with the call, not from ``s.judge``."""
    if s.role not in ROLES:
        raise UserError(
            f"--algo grpo: {s.role!r} has no verifiable reward (roles: {', '.join(ROLES)})"
        )
    if s.batch % s.num_generations:
        raise UserError(
            f"--batch {s.batch}: must be a multiple of --num-generations {s.num_generations} "
            "(GRPO compares the completions of one prompt as a group)"
        )
    if s.num_generations < 2:
        raise UserError("--num-generations: at least 2 (a group of one teaches nothing)")
    if s.weights is not None and (
        len(s.weights) != 2 or any(w < 0 for w in s.weights) or not any(s.weights)
    ):
        raise UserError(
            f"--weights {','.join(map(str, s.weights))}: two weights (verifiable, judge), not "
            "negative, not both 0"
        )
    if s.judge is not None:
        from ..policies.lm import parse_spec

        try:
            parse_spec("lm:" + s.judge)
        except ValueError as exc:
            raise UserError(f"--judge {s.judge}: {str(exc).replace('lm:', '')}") from None
    judged = judge_given or s.judge is not None
    if s.weights is not None and s.weights[1] > 0 and not judged:
        raise UserError("--weights: the judge's weight needs a judge (--judge SPEC)")
    if s.lora < 0:
        raise UserError(f"--lora {s.lora}: a rank, 0 (no LoRA) or more")
    if s.steps < 1:
        raise UserError(f"--episodes {s.steps}: at least one GRPO step")
    if s.save_every < 0:
        raise UserError(f"--save-every {s.save_every}: a number of steps, 0 (never) or more")
    model = Path(s.model)
    if not model.is_dir():
        raise UserError(f"--model {s.model}: no such folder")
    if not (model / "config.json").is_file():
        raise UserError(f"--model {s.model}: holds no model (no config.json)")


def scenario_of(s: GRPOSettings) -> str:
    return s.scenario or ROLES[s.role][0]


def reward_kind(s: GRPOSettings) -> str:
    """What the verifiable reward counts: ``votes`` or ``engagement``."""
    return ROLES[s.role][1]


def sample_prompts(s: GRPOSettings):
    """(prompts, worlds, users, template): one prompt per step the learner reads, every
    ``s.every`` steps of the scenario, with the world as it stood before that step, and
    the template the prompts were filled from."""
    from ..build import build_world
    from ..config import load_scenario
    from ..policies.lm import TEMPLATES, learner_role, role_prompts
    from ..text.offline import OfflineGenerator
    from ..world.population import Role

    sc = load_scenario(scenario_of(s), [*s.overrides, f"seed={s.seed}"])
    if reward_kind(s) == "votes" and not sc.election.days:
        raise UserError(f"{sc.name}: holds no election day to win votes in")
    world, sc = build_world(sc)
    members = world.population.ids_of(Role[s.role.upper()])
    if s.learner >= members.size:
        raise UserError(
            f"{sc.name}: has {members.size} {s.role}s; learner {s.learner} is not one of them"
        )
    learner = int(members[s.learner])
    role = learner_role(s.role)  # the role whose observation fills the prompt
    memory = role.new_memory(world.n) if role is not None else None
    generator = OfflineGenerator()
    template = getattr(sc.roles, s.role).lm_template or TEMPLATES[s.role]
    prompts, worlds, users = [], [], []
    for t in range(sc.steps):
        if t % s.every == 0:
            before = world.fork()
            observations = world.begin_step()
            obs = observations.get(Role[s.role.upper()])
            rows = np.flatnonzero(obs.users == learner) if obs is not None else []
            if len(rows):
                prompts += role_prompts(s.role, template, generator, role, memory, obs, rows)
                worlds.append(before)
                users.append(learner)
            world.finish_step()
        else:
            world.step()
    if not prompts:
        raise UserError(f"{sc.name}: its {s.role}s never read a feed, so there is no prompt")
    return prompts, worlds, users, template


class JudgeReward:
    """TRL reward function: the judge's rubric score of each completion, in [0, 1]."""

    __name__ = "judge"

    def __init__(self, judge):
        self.judge = judge
        self.last: list[float] = []

    def __call__(self, prompts, completions, **_) -> list[float]:
        texts = [c if isinstance(c, str) else str(c) for c in completions]
        self.last = self.judge.score([t if t.strip() else "(empty)" for t in texts])
        return self.last


def posted_text(role: str, completion: str) -> str | None:
    """What the policy line would post of a completion (`policies.lm`): its text after
    the action tags, or None where it posts nothing (a ``[silent]`` tag, a tag the role
    does not have, unreadable text). Training rewards only what would be posted."""
    from ..policies.lm import TAGS, split_tags
    from ..text.messages import garbled

    tags, text = split_tags(completion)
    if "silent" in tags or any(t not in TAGS.get(role, ()) for t in tags) or garbled(text):
        return None
    return text


class VerifiableReward:
    """TRL reward function: what each completion does to a panel of citizens in a fork
    (see the module docstring), ×100. Called with the dataset's ``prompt_id`` column."""

    __name__ = "verified"

    def __init__(
        self,
        worlds,
        users,
        reader,
        panel: int,
        horizon: int,
        seed: int,
        kind: str = "votes",
        role: str = "candidate",
    ):
        from .verifiable import panel_engagement_reward, panel_vote_reward

        self.role = role
        self.worlds, self.users, self.reader = worlds, users, reader
        self.panel, self.horizon, self.seed = panel, horizon, seed
        self.measure = {"votes": panel_vote_reward, "engagement": panel_engagement_reward}[kind]
        self.last: list[float] = []

    def __call__(self, prompts, completions, prompt_id, **_) -> list[float]:
        texts = [posted_text(self.role, c if isinstance(c, str) else str(c)) for c in completions]
        stances = self.reader.read([t or "" for t in texts], [0] * len(texts))
        out = []
        for pid, stance, text in zip(prompt_id, stances, texts, strict=True):
            pid = int(pid)
            if text is None:  # the policy line would post nothing: it moves no one
                out.append(0.0)
                continue
            share = self.measure(
                self.worlds[pid],
                self.users[pid],
                float(np.clip(stance, -1, 1)),
                self.panel,
                self.horizon,
                seed=self.seed * 1_000_003 + pid,  # one panel per prompt: its group's
            )
            out.append(100.0 * share)  # points, or per 100 readers
        self.last = out
        return out


@dataclass
class GRPOResult:
    curve: list[dict]
    out: Path
    seconds: float

    def first_last(self, share: float = 0.2) -> tuple[float, float]:
        """Mean reward over the first and the last ``share`` of steps."""
        rewards = np.array([row["reward"] for row in self.curve])
        k = max(1, int(round(share * rewards.size)))
        return float(rewards[:k].mean()), float(rewards[-k:].mean())


def make_judge(s: GRPOSettings, backend=None):
    """The judge the settings name (or one over ``backend``, any text backend), or None."""
    from ..text.judge import Judge, Rubric

    if backend is None and s.judge is None:
        return None
    if backend is None:
        from ..policies.lm import make_backend, parse_spec

        try:
            backend = make_backend(parse_spec("lm:" + s.judge))
        except ValueError as exc:
            raise UserError(f"--judge {s.judge}: {exc}".replace("lm:", "")) from None
    rubric = Rubric.from_dict(dict(s.rubric or ROLES[s.role][2]))
    return Judge(backend, rubric)


def _agreement(a: list[float], b: list[float]) -> float:
    """Rank correlation of the two rewards over the step's completions (NaN when either
    is constant): how far the judge agrees with the votes."""
    from scipy.stats import spearmanr

    if len(a) != len(b) or len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training; ``message`` says where its checkpoint is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def train_grpo(
    s: GRPOSettings, out: Path, on_step=None, judge_backend=None, resume: bool = False
) -> GRPOResult:
    """Train, write the model, ``curve.csv``, ``learning_curve.png`` and ``train.json``
    into ``out``. ``judge_backend``: any text backend to judge with instead of the one
    ``s.judge`` names. ``resume``: go on from ``out``'s checkpoint (`grpo_checkpoint`).

    A judge's backend that fails, or Ctrl-C (`TrainingInterrupted`), stops training
    with a checkpoint of the steps done, which ``resume`` continues."""
    check(s, judge_given=judge_backend is not None)
    try:
        import torch
        from datasets import Dataset
        from transformers import (
            AutoModelForCausalLM,
            AutoTokenizer,
            PrinterCallback,
            TrainerCallback,
        )
        from transformers.utils import logging as hf_logging
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as exc:
        raise UserError(
            f"--algo grpo needs the llm extra (pip install -c constraints.txt -e '.[llm]'; "
            f"missing {exc.name})"
        ) from None
    from ..text.backend import TextBackendError
    from ..text.offline import OfflineGenerator
    from ..text.stance import stance_reader
    from . import grpo_checkpoint

    hf_logging.disable_progress_bar()  # the caller's progress bar counts the steps
    out = Path(out)
    resumed = grpo_checkpoint.load_state(out, s) if resume else None
    done = resumed["done"] if resumed else 0
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    prompts, worlds, users, template = sample_prompts(s)
    reader = stance_reader(s.reader, OfflineGenerator())
    votes = VerifiableReward(worlds, users, reader, s.panel, s.horizon, s.seed, kind=reward_kind(s))
    judge = make_judge(s, judge_backend)
    wanted = s.weights if s.weights is not None else (1.0, 1.0 if judge is not None else 0.0)
    rewards, weights = [], []
    if wanted[0] > 0:
        rewards.append(votes)
        weights.append(float(wanted[0]))
    if wanted[1] > 0:
        if judge is None:
            raise UserError("--weights: the judge's weight needs a judge (--judge SPEC)")
        rewards.append(JudgeReward(judge))
        weights.append(float(wanted[1]))
    judge_reward = next((r for r in rewards if isinstance(r, JudgeReward)), None)
    dataset = Dataset.from_dict({"prompt": prompts, "prompt_id": list(range(len(prompts)))})
    # a resumed run draws its remaining prompts (and samples) in an order of its own
    seed = s.seed if not done else (s.seed * 1_000_003 + done) % 2**31
    torch.manual_seed(seed)
    weights_from = str(resumed["folder"] / "model") if resumed and not s.lora else s.model
    try:
        tokenizer = AutoTokenizer.from_pretrained(weights_from)
        model = AutoModelForCausalLM.from_pretrained(weights_from)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise UserError(f"--model {weights_from}: cannot load it ({reason})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    args = GRPOConfig(
        output_dir=str(out / "trainer"),
        per_device_train_batch_size=s.batch,
        num_generations=s.num_generations,
        max_completion_length=s.max_completion_length,
        # linear decay to 0 over all steps: a resumed run starts where it had got to
        learning_rate=grpo_checkpoint.schedule_left(s.learning_rate, s.steps, done),
        beta=s.beta,
        temperature=s.temperature,
        max_steps=s.steps - done,
        logging_steps=1,
        report_to="none",
        save_strategy="no",  # our own checkpoints (grpo_checkpoint): no pickled state
        use_cpu=s.device == "cpu",
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        reward_weights=weights,
    )
    curve: list[dict] = list(resumed["curve"]) if resumed else []

    class Record(TrainerCallback):
        def on_log(self, _args, state, control, logs=None, **kw):
            if logs and "reward" in logs:
                row = {
                    "step": done + int(state.global_step),
                    "reward": float(logs["reward"]),
                    "reward_std": float(logs.get("reward_std", np.nan)),
                    "zero_std_groups": float(logs.get("frac_reward_zero_std", np.nan)),
                    "verified": float(logs.get("rewards/verified/mean", np.nan)),
                    "judge": float(logs.get("rewards/judge/mean", np.nan)),
                    "judge_agreement": (
                        _agreement(votes.last, judge_reward.last)
                        if judge_reward is not None and votes in rewards
                        else float("nan")
                    ),
                }
                curve.append(row)
                if on_step is not None:
                    on_step(row)
                if s.save_every and row["step"] % s.save_every == 0 and row["step"] < s.steps:
                    grpo_checkpoint.save(out, trainer, s, row["step"], curve)

    peft_config = None
    if s.lora and resumed:
        from peft import PeftModel

        adapter = resumed["folder"] / "adapter"
        try:
            model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
        except Exception as exc:  # peft and safetensors raise several kinds
            reason = " ".join(str(exc).split())[:160]
            raise UserError(f"--resume: {adapter} is damaged ({reason})") from None
    elif s.lora:
        from peft import LoraConfig

        # every linear layer: the names differ between model families
        peft_config = LoraConfig(
            r=s.lora, lora_alpha=2 * s.lora, target_modules="all-linear", task_type="CAUSAL_LM"
        )

    class Trainer(GRPOTrainer):
        def create_optimizer(self, *a, **kw):
            optimizer = super().create_optimizer(*a, **kw)
            if resumed:
                grpo_checkpoint.load_moments(resumed["folder"], self.model, optimizer)
            return optimizer

    trainer = Trainer(
        model=model,
        reward_funcs=rewards,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[Record()],
        peft_config=peft_config,
    )
    # the trainer would print every step's log dict: the curve and the caller's progress
    # bar say it instead
    trainer.remove_callback(PrinterCallback)
    try:
        trainer.train()
    except (TextBackendError, KeyboardInterrupt) as exc:
        # the steps whose row is in the curve (a Ctrl-C between an update and its log
        # loses that step's row; the checkpoint then says one step fewer)
        steps_done = len(curve)
        folder = grpo_checkpoint.save(out, trainer, s, steps_done, curve[:steps_done])
        if isinstance(exc, KeyboardInterrupt):
            raise TrainingInterrupted(
                f"interrupted at step {steps_done + 1} of {s.steps}: the {steps_done} steps "
                f"done are saved in {folder}; the same command with --resume goes on"
            ) from None
        reason = " ".join(str(exc).split())[:200]
        raise UserError(
            f"the judge's backend failed at step {steps_done + 1} of {s.steps} ({reason}); "
            f"the {steps_done} steps done are saved in {folder}: the same command with "
            "--resume goes on"
        ) from None
    trained = trainer.model
    if s.lora:
        trained = trained.merge_and_unload()  # a plain model: lm:transformers loads it
    trained.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    _write_generation(out / "model", s, template)
    result = GRPOResult(curve, out, time.perf_counter() - started)
    _write(result, s, len(prompts), given_judge=judge_backend is not None, resumed_at=done)
    grpo_checkpoint.remove(out)
    return result


def _write_generation(folder: Path, s: GRPOSettings, template: str) -> None:
    """``townsquare.json`` beside the model: the policy line prompts and samples it as
    it was trained (`policies.lm.trained_settings`)."""
    from ..outputs import replace_text
    from ..policies.lm import TRAINED

    settings = {
        "role": s.role,
        "template": template,
        "max_tokens": s.max_completion_length,
        "temperature": s.temperature,
        "reader": s.reader,
    }
    replace_text(folder / TRAINED, json.dumps(settings, indent=1) + "\n")


def _write(
    result: GRPOResult, s: GRPOSettings, prompts: int, given_judge: bool, resumed_at: int = 0
) -> None:
    from ..outputs import replace_file, replace_text

    out = result.out

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(
                fh,
                ["step", "reward", "reward_std", "zero_std_groups", "verified", "judge",
                 "judge_agreement"],
            )  # fmt: skip
            writer.writeheader()
            writer.writerows(result.curve)

    replace_file(out / "curve.csv", write_csv)
    first, last = result.first_last()
    replace_text(
        out / "train.json",
        json.dumps(
            {
                **asdict(s),
                "scenario": scenario_of(s),
                "reward": reward_kind(s),
                "reward_unit": UNITS[reward_kind(s)],
                "judge": "a backend given in Python" if given_judge else s.judge,
                "algo": "grpo",
                "prompts": prompts,
                "seconds": round(result.seconds, 2),
                "resumed_at_step": resumed_at or None,
                "reward_first_20pct": first,
                "reward_last_20pct": last,
                "checkpoint": str(out / "model"),
            },
            indent=2,
        )
        + "\n",
    )
    _plot(result, s, out / "learning_curve.png")


def _plot(result: GRPOResult, s: GRPOSettings, path: Path) -> Path:
    """Top: the mean reward, its spread within groups and the judge's score per step.
    Bottom: the share of groups that teach nothing (all rewards equal) and, with both
    rewards, the judge's rank agreement with the verifiable one."""
    from matplotlib.figure import Figure

    from ..outputs import replace_file

    steps = [r["step"] for r in result.curve]
    fig = Figure(figsize=(7, 5.5), dpi=110)
    ax, low = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    ax.plot(steps, [r["reward"] for r in result.curve], label="mean reward")
    ax.plot(steps, [r["reward_std"] for r in result.curve], ":", label="spread within groups")
    judged = [r["judge"] for r in result.curve]
    if not np.isnan(judged).all():
        ax.plot(steps, judged, "--", label="judge's score")
    ax.set_ylabel(f"reward ({UNITS[reward_kind(s)]}; judge: 0-1)", fontsize=8)
    ax.set_title(f"GRPO for the {s.role} on the verifiable reward", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    low.plot(
        steps, [r["zero_std_groups"] for r in result.curve], color="C3",
        label="groups with equal rewards (teach nothing)",
    )  # fmt: skip
    agreement = [r["judge_agreement"] for r in result.curve]
    if not np.isnan(agreement).all():
        low.plot(steps, agreement, ".", color="C4", label="judge's agreement (rank corr.)")
    low.axhline(0, color="0.6", lw=0.6)
    low.set_ylim(-1.05, 1.05)
    low.set_xlabel("GRPO step")
    low.set_ylabel("share / correlation", fontsize=8)
    low.grid(True, alpha=0.3)
    low.legend(fontsize=7)
    fig.tight_layout()
    return replace_file(path, fig.savefig)
