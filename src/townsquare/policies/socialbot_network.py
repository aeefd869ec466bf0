"""The trained socialbot's two networks (ACORN's AgentI and AgentII; MODELS.md section 3),
written by `townsquare train socialbot --algo rllib-ppo` (`learn.marl`) and read, with
torch alone, by the experiments and by a scenario's policy line.

* level 1 (``activity``): an MLP on level 1's features -> logits of T, R, A, M;
* level 2 (``target``): one small network shared by the 32 slots, scoring each candidate
  from its own features and level 1's; masked slots get no probability.

The file is ``policy.safetensors``: the tensors, and JSON metadata (``"format":
"townsquare-socialbot/1"``, the hidden width, the training horizon). Nothing in it can
run code when it is loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..roles import socialbot as sb
from .ppo_network import CheckpointFormatError, read_header

POLICY_FILE = "policy.safetensors"
POLICY_FORMAT = "townsquare-socialbot/1"
LEVEL1 = len(sb.LEVEL1_FEATURES)
SLOT = len(sb.SLOT_FEATURES)
HIDDEN = 64
#: the widest network a file may ask for
MAX_HIDDEN = 4096


def activity_net(hidden: int = HIDDEN):
    """Level 1's policy: level 1's features -> logits of the 4 activities."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(LEVEL1, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, 4),
    )


def slot_net(hidden: int = HIDDEN):
    """Level 2's policy: (one slot's features, level 1's) -> that slot's score."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(SLOT + LEVEL1, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, 1),
    )


def slot_logits(net, level1, slots, mask):
    """Scores of (B, SLOTS) slots, masked slots at -1e9."""
    import torch

    paired = torch.cat([slots, level1[:, None, :].expand(-1, slots.shape[1], -1)], dim=-1)
    return net(paired).squeeze(-1).masked_fill(mask <= 0, -1e9)


def save_policy(path: Path, activity, target, horizon: int) -> Path:
    from safetensors.torch import save_file

    tensors = {
        f"activity.{k}": v.detach().cpu().contiguous() for k, v in activity.state_dict().items()
    }
    tensors.update(
        {f"target.{k}": v.detach().cpu().contiguous() for k, v in target.state_dict().items()}
    )
    hidden = activity[0].out_features  # the width it was built with
    meta = {"format": POLICY_FORMAT, "hidden": str(hidden), "horizon": str(int(horizon))}
    save_file(tensors, str(path), metadata=meta)
    return path


def socialbot_meta(path) -> dict | None:
    """The metadata of a socialbot policy file, None if ``path`` is a safetensors file of
    another kind; a `CheckpointFormatError` if it is no safetensors file at all. Reads
    the header only."""
    extra = read_header(path).get("__metadata__")
    if not isinstance(extra, dict) or extra.get("format") != POLICY_FORMAT:
        return None
    return extra


def load_policy(path, greedy_target: bool = False) -> SocialbotPolicy:
    """The bot a ``policy.safetensors`` holds; a `ValueError` naming the file otherwise."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        meta = socialbot_meta(path)
    except (OSError, CheckpointFormatError) as exc:
        raise ValueError(f"{path}: not a safetensors file ({exc})") from None
    if meta is None:
        raise ValueError(
            f"{path}: not a socialbot policy (train one with townsquare train socialbot)"
        )
    hidden = meta.get("hidden", str(HIDDEN))
    if not hidden.isdigit() or not 1 <= int(hidden) <= MAX_HIDDEN:
        raise ValueError(f"{path}: damaged (hidden width {hidden!r})")
    try:
        with safe_open(str(path), framework="pt") as fh:
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (OSError, SafetensorError) as exc:
        raise ValueError(f"{path}: not a safetensors file ({exc})") from None
    activity, target = activity_net(int(hidden)), slot_net(int(hidden))
    try:
        activity.load_state_dict(
            {k[9:]: v for k, v in tensors.items() if k.startswith("activity.")}
        )
        target.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("target.")})
    except RuntimeError as exc:
        raise ValueError(f"{path}: damaged ({' '.join(str(exc).split())[:160]})") from None
    return SocialbotPolicy(activity, target, greedy_target)


class SocialbotPolicy:
    """A trained bot's two levels, loaded from ``policy.safetensors`` with torch alone."""

    def __init__(self, activity, target, greedy_target: bool = False):
        self.activity, self.target = activity.eval(), target.eval()
        self.greedy_target = greedy_target  # AgentI+H: level 2 by largest out-degree

    def turn(self, game: sb.SocialbotGame, rng: np.random.Generator, sample: bool = True):
        """(activity, target user) for the game's next turn."""
        import torch

        with torch.no_grad():
            level1 = torch.as_tensor(game.level1_observation())[None, :]
            logits = self.activity(level1)[0]
            activity = _pick(logits, rng, sample)
            if activity not in sb.INTERACTIVE:
                return activity, -1
            if self.greedy_target:
                return activity, sb.greedy_target(game)
            feats, mask = game.level2_observation()
            scores = slot_logits(
                self.target, level1, torch.as_tensor(feats)[None], torch.as_tensor(mask)[None]
            )[0]
            users = game.slots()
            if not mask.any():
                return activity, -1
            return activity, int(users[_pick(scores, rng, sample)])

    def decide(self, vectors: np.ndarray) -> np.ndarray:
        """Greedy action ids (``activity * SLOTS + slot``) for observation vectors laid
        out as the game's: level 1's features, the slots' features row by row, the slot
        mask (`roles.socialbot_platform.SocialbotRole`, ``Socialbot-v0``)."""
        import torch

        if vectors.shape[0] == 0:
            return np.zeros(0, np.int64)
        x = torch.as_tensor(np.asarray(vectors, np.float32))
        level1 = x[:, :LEVEL1]
        slots = x[:, LEVEL1 : LEVEL1 + sb.SLOTS * SLOT].reshape(-1, sb.SLOTS, SLOT)
        mask = x[:, LEVEL1 + sb.SLOTS * SLOT :]
        with torch.no_grad():
            activity = torch.argmax(self.activity(level1), dim=-1)
            slot = torch.argmax(slot_logits(self.target, level1, slots, mask), dim=-1)
        return (activity * sb.SLOTS + slot).numpy().astype(np.int64)


def _pick(logits, rng: np.random.Generator, sample: bool) -> int:
    import torch

    if not sample:
        return int(torch.argmax(logits))
    p = torch.softmax(logits.double(), dim=-1).numpy()
    return int(rng.choice(p.size, p=p / p.sum()))
