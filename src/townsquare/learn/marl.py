"""Training the two-level socialbot with RLlib PPO (new API stack), a policy per level
(ACORN: Le, Tran-Thanh & Lee, WWW 2022, trained with RLlib PPO; MODELS.md section 3).

* ``activity`` (AgentI): `ActivityModule`, an MLP on level 1's features.
* ``target`` (AgentII): `SlotScorer`, one small network shared by the 32 slots that
  scores each candidate from its own features and level 1's, so what it learns about a
  kind of account carries over to any graph, whatever the ids; masked slots get no
  probability. Its value head reads level 1's features and the slots' mean.

`train` builds the algorithm on the environment of `envs.socialbot_rllib`, runs
``iterations`` training iterations (each ``batch`` env steps), records the mean episode
return per agent per iteration, and saves two things:

* ``checkpoint/``: the algorithm in RLlib's own format (``save_to_path``), for RLlib's
  tools. It holds pickles, so townsquare never loads it;
* ``policy.safetensors``: the two policy networks' weights (safetensors, JSON metadata:
  data only), which the policy line and the experiments load (`load_policy`) with torch
  alone, no Ray;
* ``curve.csv`` and ``learning_curve.png``: the mean episode return per agent per
  iteration.

Ray starts locally, with ``workers`` env runners, unless ``address`` names a running
cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..policies.socialbot_network import (
    HIDDEN,
    LEVEL1,
    POLICY_FILE,
    POLICY_FORMAT,
    SLOT,
    SocialbotPolicy,
    activity_net,
    load_policy,
    save_policy,
    slot_logits,
    slot_net,
)
from ..roles import socialbot as sb

try:  # the modules need torch and Ray; `train` says so when they are missing
    import torch
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
    from ray.rllib.core.rl_module.torch import TorchRLModule
except ImportError:  # pragma: no cover - without the distributed extra
    TorchRLModule = object
    ValueFunctionAPI = object


class ActivityModule(TorchRLModule, ValueFunctionAPI):
    """Level 1 in RLlib: `activity_net` and a value head."""

    def setup(self):
        hidden = int(self.model_config.get("hidden", HIDDEN))
        self.policy = activity_net(hidden)
        self.value = torch.nn.Sequential(
            torch.nn.Linear(LEVEL1, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
        )

    def _forward(self, batch, **kwargs):
        return {Columns.ACTION_DIST_INPUTS: self.policy(batch[Columns.OBS])}

    def compute_values(self, batch, embeddings=None):
        return self.value(batch[Columns.OBS]).squeeze(-1)


class SlotScorer(TorchRLModule, ValueFunctionAPI):
    """Level 2 in RLlib: `slot_net` over every slot, and a value head on level 1's
    features and the slots' mean."""

    def setup(self):
        hidden = int(self.model_config.get("hidden", HIDDEN))
        self.policy = slot_net(hidden)
        self.value = torch.nn.Sequential(
            torch.nn.Linear(SLOT + LEVEL1, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
        )

    @staticmethod
    def _split(obs):
        flat = obs["observations"]
        level1 = flat[:, :LEVEL1]
        slots = flat[:, LEVEL1:].reshape(flat.shape[0], sb.SLOTS, SLOT)
        return level1, slots, obs["action_mask"]

    def _forward(self, batch, **kwargs):
        level1, slots, mask = self._split(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: slot_logits(self.policy, level1, slots, mask)}

    def compute_values(self, batch, embeddings=None):
        level1, slots, mask = self._split(batch[Columns.OBS])
        weight = mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        mean_slot = (slots * weight[:, :, None]).sum(dim=1)
        return self.value(torch.cat([mean_slot, level1], dim=-1)).squeeze(-1)


@dataclass(frozen=True)
class MARLSettings:
    iterations: int = 20
    batch: int = 2000  # env steps per training iteration
    minibatch: int = 256
    epochs: int = 5
    lr: float = 3e-4
    gamma: float = 0.99
    workers: int = 0  # env runners besides the local one (0: sample in the driver)
    address: str | None = None
    horizon: int = sb.TRAIN_HORIZON
    graph_users: int = 1500
    detector: str = "builtin"
    seed: int = 0


def config(s: MARLSettings):
    """The RLlib PPO config: two policies, the slot scorer for level 2."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from ..envs.socialbot_rllib import ACTIVITY, TARGET, SocialbotMultiAgentEnv, policy_mapping_fn

    env_config = {"horizon": s.horizon, "graph_users": s.graph_users, "detector": s.detector}
    return (
        PPOConfig()
        .environment(SocialbotMultiAgentEnv, env_config=env_config)
        .env_runners(num_env_runners=s.workers, num_envs_per_env_runner=1)
        .multi_agent(policies={ACTIVITY, TARGET}, policy_mapping_fn=policy_mapping_fn)
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(
                rl_module_specs={
                    ACTIVITY: RLModuleSpec(
                        module_class=ActivityModule, model_config={"hidden": HIDDEN}
                    ),
                    TARGET: RLModuleSpec(module_class=SlotScorer, model_config={"hidden": HIDDEN}),
                }
            )
        )
        .training(
            train_batch_size_per_learner=s.batch,
            minibatch_size=s.minibatch,
            num_epochs=s.epochs,
            lr=s.lr,
            gamma=s.gamma,
        )
        .debugging(seed=s.seed)
    )


def train(s: MARLSettings, out: Path, on_iteration=None) -> list[dict]:
    """Train and save into ``out/checkpoint`` (RLlib's format); returns one row per
    iteration: mean episode return per agent, mean influence ratio, env steps, seconds."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address=s.address,
            num_cpus=None if s.address else max(1, s.workers + 1),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    algo = config(s).build_algo()
    rows: list[dict] = []
    started = time.perf_counter()
    try:
        for i in range(s.iterations):
            result = algo.train()
            runners = result.get("env_runners", {})
            returns = runners.get("agent_episode_returns_mean", {})
            row = {
                "iteration": i + 1,
                "env_steps": int(runners.get("num_env_steps_sampled_lifetime", 0)),
                "episode_return": float(runners.get("episode_return_mean", np.nan)),
                "activity_return": float(returns.get("activity", np.nan)),
                "target_return": float(returns.get("target", np.nan)),
                "episode_len": float(runners.get("episode_len_mean", np.nan)),
                "seconds": time.perf_counter() - started,
            }
            rows.append(row)
            if on_iteration is not None:
                on_iteration(row)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        algo.save_to_path(str((out / "checkpoint").resolve()))
        from ..envs.socialbot_rllib import ACTIVITY, TARGET

        module = algo.get_module
        save_policy(out / POLICY_FILE, module(ACTIVITY).policy, module(TARGET).policy, s.horizon)
    finally:
        algo.stop()
    from .records import write_rows_plot

    write_rows_plot(
        rows, out, "iteration", ["activity_return", "target_return"],
        "RLlib PPO, the socialbot's two levels: mean episode return per agent",
    )  # fmt: skip
    return rows


__all__ = [
    "POLICY_FILE",
    "POLICY_FORMAT",
    "ActivityModule",
    "MARLSettings",
    "SlotScorer",
    "SocialbotPolicy",
    "config",
    "load_policy",
    "train",
]
