"""Learned policies in a run: a checkpoint (a Q-table or a PPO network) acting for every
user of its role, through the role module's observation and action definitions.

``learning: frozen`` acts greedily and never changes; ``learning: online`` (Q-tables)
keeps learning during the run from each user's reward (its role's, `LearnerRole.reward`,
summed over the steps between two of its decisions), epsilon-greedy, with the Q-table,
the rewards owed and the per-user memory in the run's checkpoints so `--resume`
continues exactly.

Every checkpoint is data: Q-tables are npz (``allow_pickle=False``) or JSON, PPO networks
are safetensors rebuilt from their JSON metadata (`policies.ppo_network`). Nothing a
user gives us is unpickled, so no checkpoint can run code when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..roles import SPEC_VERSION, LearnerRole, RewardContext, make_role, merge_rows
from ..world import checks
from ..world.actions import ACTION_FIELDS, Actions, Observations, StepContext
from .ppo_network import CheckpointFormatError, load_ppo_policy, read_ppo_meta
from .q_table import QTable
from .registry import CHECKPOINT_SUFFIXES
from .socialbot_network import socialbot_meta

#: why a Stable-Baselines3 zip is refused
ZIP_REFUSED = (
    "SB3 .zip checkpoints are pickles, which can run code when loaded, so townsquare does "
    "not load them; retrain with `townsquare train influencer --algo ppo` "
    "(it writes policy.safetensors)"
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message names both sides."""


@dataclass
class Checkpoint:
    path: Path
    kind: str  # "q", "ppo" or "socialbot" (the two networks of `train socialbot`)
    meta: dict
    table: QTable | None = None
    model: object | None = None  # the rebuilt SB3 ActorCriticPolicy of a PPO checkpoint

    @property
    def role_name(self) -> str:
        return str(self.meta.get("role"))

    def decide(self, vectors: np.ndarray, role: LearnerRole) -> np.ndarray:
        """Greedy actions for observation vectors."""
        if vectors.shape[0] == 0:
            return np.zeros(0, np.int64)
        if self.table is not None:
            return self.table.greedy(role.discretise(vectors))
        if self.kind == "socialbot":
            return self.model.decide(vectors)
        actions, _ = self.model.predict(vectors, deterministic=True)
        return np.asarray(actions, np.int64).reshape(-1)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Open a Q-table (.npz / .json) or a PPO .safetensors written by ``townsquare train``.
    A PPO checkpoint's metadata is read and validated here; its network is built by
    `load_model`."""
    path = Path(path)
    if path.suffix == ".zip":
        raise CheckpointError(f"{path}: {ZIP_REFUSED}")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(
            f"{path}: not a checkpoint (expected a Q-table .npz/.json or a PPO .safetensors)"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.suffix == ".safetensors":
        try:
            if socialbot_meta(path) is not None:
                return Checkpoint(path, "socialbot", make_role("socialbot").describe())
            meta = read_ppo_meta(path)
        except CheckpointFormatError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        return Checkpoint(path, "ppo", meta)
    try:
        table = QTable.load(path)
        _check_table(table)
    except Exception as exc:  # zip, zlib, numpy and JSON errors alike mean a damaged file
        text = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise CheckpointError(f"{path}: not a readable Q-table ({text})") from None
    return Checkpoint(path, "q", table.meta, table=table)


def _check_table(table: QTable) -> None:
    q, visits = table.q, table.visits
    if q.ndim != 2 or q.size == 0:
        raise ValueError(f"q has shape {q.shape}, expected (states, actions)")
    if visits.shape != q.shape:
        raise ValueError(f"visits has shape {visits.shape}, q has {q.shape}")
    if q.dtype.kind != "f":
        raise ValueError(f"q must hold real numbers, not {q.dtype}")
    if not np.isfinite(q).all():
        raise ValueError("q holds NaN or infinite values")
    if visits.dtype.kind not in "iu" or (visits.size and visits.min() < 0):
        raise ValueError(f"visits must hold non-negative whole numbers ({visits.dtype})")
    if not isinstance(table.meta, dict):
        raise ValueError("meta is not a JSON object")


def role_for_checkpoint(ckpt: Checkpoint, expected_role: str) -> LearnerRole:
    """The role definition a checkpoint was trained for, after checking it fits the slot
    it is given (``expected_role``) and today's observation and action layout."""
    meta = ckpt.meta
    if ckpt.role_name != expected_role:
        raise CheckpointError(
            f"{ckpt.path} is a checkpoint for role {ckpt.role_name!r}, "
            f"but it was given to the {expected_role!r} role"
        )
    if meta.get("spec_version") != SPEC_VERSION:
        raise CheckpointError(
            f"{ckpt.path} was written for role layout version {meta.get('spec_version')}, "
            f"this townsquare uses version {SPEC_VERSION}: retrain it"
        )
    try:
        role = make_role(expected_role, meta["action_space"], meta["self_observation"])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{ckpt.path}: {exc}") from None
    checks = [("observation size", meta.get("obs_size"), role.obs_size)]
    checks.append(("number of actions", meta.get("n_actions"), role.n_actions))
    if ckpt.table is not None:
        checks.append(("Q-table rows (states)", ckpt.table.q.shape[0], role.n_states))
        checks.append(("Q-table columns (actions)", ckpt.table.q.shape[1], role.n_actions))
    for what, theirs, ours in checks:
        if theirs != ours:
            raise CheckpointError(
                f"{ckpt.path}: the checkpoint's {what} is {theirs}, but the {expected_role} "
                f"role (action_space={role.action_space_name}, "
                f"self_observation={role.self_observation}) has {ours}"
            )
    return role


def load_model(ckpt: Checkpoint, role: LearnerRole) -> None:
    """Rebuild the network of a PPO checkpoint for ``role``'s spaces and load its
    tensors; any tensor that does not fit is a `CheckpointError`."""
    if ckpt.model is not None or ckpt.kind == "q":
        return
    if ckpt.kind == "socialbot":
        from .socialbot_network import load_policy

        try:
            ckpt.model = load_policy(ckpt.path)
        except ImportError as exc:
            raise CheckpointError(
                f"{ckpt.path}: socialbot policies need torch (the rl extra; missing {exc.name})"
            ) from None
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        return
    try:
        import safetensors  # noqa: F401
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise CheckpointError(
            f"{ckpt.path}: PPO checkpoints need the rl extra "
            f"(pip install -c constraints.txt -e '.[rl]'; missing {exc.name})"
        ) from None
    try:
        ckpt.model = load_ppo_policy(
            ckpt.path, ckpt.meta, role.observation_space(), role.action_space()
        )
    except CheckpointFormatError as exc:
        raise CheckpointError(f"{ckpt.path}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"{ckpt.path}: cannot read it ({exc.strerror or exc})") from None


class LearnedPolicy:
    """Every user of a role acts by one checkpoint (see module docstring). Where the role
    decides only part of what its users do (`LearnerRole.decides`, e.g. the citizen's
    post), the rest of each row is the scenario's scripted policy for the role
    (``background``)."""

    def __init__(
        self,
        ckpt: Checkpoint,
        role: LearnerRole,
        n_users: int,
        learning: str = "frozen",
        alpha: float = 0.1,
        gamma: float = 0.95,
        epsilon: float = 0.05,
        background=None,
    ):
        if learning == "online" and ckpt.table is None:
            raise CheckpointError(
                f"{ckpt.path}: learning: online needs a Q-table; a PPO checkpoint runs "
                "frozen (train it further with `townsquare train`)"
            )
        if set(role.decides) != set(ACTION_FIELDS) and background is None:
            raise ValueError(f"the {role.name} role decides part of a row: give a background")
        load_model(ckpt, role)
        self.ckpt, self.role, self.learning = ckpt, role, learning
        self.background = background
        self.alpha, self.gamma, self.epsilon = alpha, gamma, epsilon
        self.memory = role.new_memory(n_users)
        self.prev_state = np.full(n_users, -1, np.int64)
        self.prev_action = np.full(n_users, -1, np.int64)
        # reward earned since each user's last decision, summed step by step (`learn`)
        self.pending = np.zeros(n_users)
        self.gained = 0.0

    def act(self, obs: Observations, rng: np.random.Generator) -> Actions:
        rows = np.arange(len(obs))
        base = self.background.act(obs, rng) if self.background is not None else None
        vectors = self.role.observe(obs, rows, self.memory)
        if self.learning == "online":
            actions = self._learn_and_choose(obs, vectors, rng)
        else:
            actions = self.ckpt.decide(vectors, self.role)
        chosen = self.role.to_actions(obs, rows, actions, self.memory)
        return chosen if base is None else merge_rows(base, rows, chosen, self.role.decides)

    def learn(self, context: StepContext) -> None:
        """After every step, online: what each user that has decided earned in it, by
        its role's reward, added to what it is owed at its next decision."""
        if self.background is not None and hasattr(self.background, "learn"):
            self.background.learn(context)
        if self.learning != "online":
            return
        users = np.flatnonzero(self.prev_state >= 0)
        if users.size == 0:
            return
        self.pending[users] += self.role.reward(
            RewardContext(users, self.memory, context.events, context.world, context.step)
        )

    def _learn_and_choose(self, obs, vectors, rng) -> np.ndarray:
        table = self.ckpt.table
        users = obs.users
        states = self.role.discretise(vectors)
        seen = self.prev_state[users] >= 0
        if seen.any():
            u = users[seen]
            reward = self.pending[u]
            table.update(
                self.prev_state[u],
                self.prev_action[u],
                reward,
                states[seen],
                np.zeros(u.size, bool),
                self.alpha,
                self.gamma,
            )
            self.gained += float(reward.sum())
            self.pending[u] = 0.0
        actions = table.act(states, self.epsilon, rng)
        self.prev_state[users] = states
        self.prev_action[users] = actions
        return actions

    def metrics(self) -> dict[str, float]:
        out = self.background.metrics() if hasattr(self.background, "metrics") else {}
        if self.learning == "online":
            out[f"{self.role.name}_learned_reward"] = self.gained
        return out

    def state(self) -> dict[str, np.ndarray]:
        out = {f"memory.{k}": v for k, v in self.memory.state().items()}
        out["prev_state"], out["prev_action"] = self.prev_state, self.prev_action
        out["pending"] = self.pending
        out["gained"] = np.array(self.gained)
        if self.learning == "online":
            out["q"], out["visits"] = self.ckpt.table.q, self.ckpt.table.visits
        return out

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore `state` after checking every value (a ``ValueError`` naming the array
        if one is wrong); nothing changes unless all are right."""
        n = self.prev_state.shape[0]
        memory = self.memory.checked(arrays, "memory.")
        prev_state = checks.array(arrays, "prev_state", np.int64, (n,))
        checks.within("prev_state", prev_state, -1, self.role.n_states - 1)
        prev_action = checks.array(arrays, "prev_action", np.int64, (n,))
        checks.within("prev_action", prev_action, -1, self.role.n_actions - 1)
        checks.refuse("prev_action", (prev_state < 0) != (prev_action < 0), "without a state")
        pending = checks.array(arrays, "pending", np.float64, (n,))
        checks.within("pending", pending)
        gained = checks.scalar_float(arrays, "gained")
        if self.learning == "online":
            table = self.ckpt.table
            q = checks.array(arrays, "q", np.float64, table.q.shape)
            checks.within("q", q)
            visits = checks.array(arrays, "visits", np.int64, table.visits.shape)
            checks.within("visits", visits, 0)
            table.q, table.visits = q, visits
        self.memory.load_state(memory)
        self.prev_state, self.prev_action, self.gained = prev_state, prev_action, gained
        self.pending = pending


def learned_policy(
    role_name: str, path: str, n_users: int, learning: str, background=None
) -> LearnedPolicy:
    """The policy a scenario line ``roles.ROLE.policy: PATH`` asks for; ``background``
    acts for what the role does not decide."""
    ckpt = read_checkpoint(path)
    role = role_for_checkpoint(ckpt, role_name)
    if set(role.decides) == set(ACTION_FIELDS):
        background = None
    return LearnedPolicy(ckpt, role, n_users, learning, background=background)
