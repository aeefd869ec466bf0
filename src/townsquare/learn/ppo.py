"""PPO for a single learner, through Stable-Baselines3 (the ``rl`` extra).

The checkpoint is SB3's own zip with one file added, ``townsquare.json`` (the role,
action space, observation size: `LearnerRole.describe`), which SB3 ignores and
townsquare's loader reads first to refuse a checkpoint made for another role or
observation.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .q_learning import EpisodeRecord

META_NAME = "townsquare.json"


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
    except ImportError as exc:  # pragma: no cover - exercised without the rl extra
        raise ImportError(
            f"PPO needs the rl extra (pip install -c constraints.txt -e '.[rl]'; missing {exc.name})"
        ) from exc
    return PPO, BaseCallback


def train_ppo(
    env, cfg: PPOConfig, on_episode: Callable[[EpisodeRecord], None] | None = None
) -> tuple[object, list[EpisodeRecord]]:
    """Train PPO for ``cfg.episodes`` episodes of ``env``. Returns the SB3 model and one
    record per finished episode. Each episode meets a fresh world (the environment draws
    a new world seed at every reset)."""
    PPO, BaseCallback = _sb3()
    horizon = env.unwrapped.scenario.steps
    records: list[EpisodeRecord] = []
    starts: list[int] = []

    class Episodes(BaseCallback):
        def _on_step(self) -> bool:
            info = self.locals["infos"][0]
            done = bool(self.locals["dones"][0])
            if not starts or len(starts) == len(records):
                starts.append(info["followers"] - int(self.locals["rewards"][0]))
            if done:
                rec = EpisodeRecord(
                    len(records),
                    info["followers"],
                    starts[len(records)],
                    float(info["followers"] - starts[len(records)]),
                    info["step"],
                    info["leader"],
                    0.0,
                )
                records.append(rec)
                if on_episode is not None:
                    on_episode(rec)
            return len(records) < cfg.episodes

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
    model.learn(total_timesteps=cfg.episodes * horizon + cfg.n_steps, callback=Episodes())
    return model, records


def save_ppo(model, path: str | Path, role, cfg: PPOConfig | None = None) -> Path:
    """SB3's zip, plus ``townsquare.json`` describing the role it was trained for."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    meta = {**role.describe(), "algo": "ppo", "config": asdict(cfg) if cfg else None}
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(META_NAME, json.dumps(meta, indent=1))
    return path
