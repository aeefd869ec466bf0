"""PPO for a single learner, through Stable-Baselines3 (the ``rl`` extra). The checkpoint
it writes, and how a run reads it back without unpickling anything, is
`townsquare.policies.ppo_network`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..policies.ppo_network import write_ppo
from .records import EpisodeRecord, columns_of


@dataclass
class PPOConfig:
    episodes: int = 200
    learning_rate: float = 3e-4
    n_steps: int = 500
    batch_size: int = 100
    gamma: float = 0.95
    ent_coef: float = 0.01
    seed: int = 0


def _sb3():
    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.logger import Logger
    except ImportError as exc:  # pragma: no cover - exercised without the rl extra
        raise ImportError(
            f"PPO needs the rl extra (pip install -c constraints.txt -e '.[rl]'; missing {exc.name})"
        ) from exc
    return PPO, BaseCallback, Logger


def train_ppo(
    env, cfg: PPOConfig, on_episode: Callable[[EpisodeRecord], bool | None] | None = None
) -> tuple[object, list[EpisodeRecord]]:
    """Train PPO for ``cfg.episodes`` episodes of ``env``. Returns the SB3 model and one
    record per finished episode. Each episode meets a fresh world (the environment draws
    a new world seed at every reset). An ``on_episode`` that returns False stops
    training after that episode (SB3's ``learn`` returns with the model as it is)."""
    PPO, BaseCallback, Logger = _sb3()
    horizon = env.unwrapped.scenario.steps
    records: list[EpisodeRecord] = []
    stopped = False
    episode_return = 0.0

    class Episodes(BaseCallback):
        def _on_step(self) -> bool:
            # the environment reports where the episode started and the rewards are
            # summed as they come: nothing is inferred from what a reward means
            nonlocal stopped, episode_return
            info = self.locals["infos"][0]
            episode_return += float(self.locals["rewards"][0])
            if bool(self.locals["dones"][0]):
                names = env.unwrapped.role.info_columns
                rec = EpisodeRecord(
                    len(records),
                    episode_return,
                    info["step"],
                    0.0,
                    {k: info[f"start_{k}"] for k in names},
                    columns_of(info, names),
                )
                episode_return = 0.0
                records.append(rec)
                if on_episode is not None and on_episode(rec) is False:
                    stopped = True
            return not stopped and len(records) < cfg.episodes

    env.reset(seed=cfg.seed)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=cfg.learning_rate,
        n_steps=cfg.n_steps,
        batch_size=cfg.batch_size,
        gamma=cfg.gamma,
        ent_coef=cfg.ent_coef,
        seed=cfg.seed,
        device="cpu",
        verbose=0,
    )
    # without a logger of its own, SB3 makes an empty SB3-<time> folder in the system's
    # temporary directory on every call; the episodes are reported through the callback
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(total_timesteps=cfg.episodes * horizon + cfg.n_steps, callback=Episodes())
    return model, records


def save_ppo(model, path: str | Path, role, cfg: PPOConfig | None = None) -> Path:
    """The trained network as a `policies.ppo_network` checkpoint for ``role``."""
    return write_ppo(model.policy, path, role, asdict(cfg) if cfg else None)
