"""The PPO checkpoint, read by a scenario's policy line (`policies.learned`) and written by
`townsquare train --algo ppo` (`townsquare.learn.ppo`).

The checkpoint is data, never code: one ``.safetensors`` file holding the policy
network's tensors (``model.policy.state_dict()``), whose header metadata carries one key,
``townsquare``, a JSON document describing everything needed to rebuild the network:

* the role it was trained for (`LearnerRole.describe`: role, action space,
  self-observation, observation size, number of actions, layout version);
* ``algo: "ppo"``, ``format_version``, the training config (informational);
* ``policy``: SB3's ``ActorCriticPolicy`` layout: ``net_arch`` (``pi`` and ``vf`` hidden
  layer sizes), ``activation_fn`` (a name from `ACTIVATIONS`) and
  ``share_features_extractor``.

Loading reads the header (plain JSON, `read_ppo_meta`), validates it strictly, builds
a fresh ``ActorCriticPolicy`` from it and loads the tensors into it with
``load_state_dict(strict=True)`` after checking every name, shape and dtype
(`load_ppo_policy`). SB3's own ``.zip`` (``PPO.save``/``PPO.load``) is a pickle that can
run code when loaded, so townsquare neither writes nor reads it.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from ..outputs import replace_file
from .strict_json import strict_json

#: the key of the safetensors header metadata that holds townsquare's JSON
META_KEY = "townsquare"
#: bumped when the layout of the metadata or of the tensors changes
FORMAT_VERSION = 1
#: activation functions a checkpoint may name, and their torch.nn class names
ACTIVATIONS = {
    "tanh": "Tanh",
    "relu": "ReLU",
    "elu": "ELU",
    "leaky_relu": "LeakyReLU",
    "gelu": "GELU",
    "silu": "SiLU",
}
#: limits on what a checkpoint may ask us to build
MAX_LAYERS = 8
MAX_UNITS = 4096
MAX_HEADER_BYTES = 1 << 20
#: the training settings a checkpoint records (`learn.ppo.PPOConfig`'s fields: informational,
#: but checked so that a damaged header is not mistaken for a valid one)
CONFIG_KEYS = ("episodes", "learning_rate", "n_steps", "batch_size", "gamma", "ent_coef", "seed")


class CheckpointFormatError(ValueError):
    """A PPO checkpoint file that is not what `save_ppo` writes (no file name in it)."""


def policy_layout(policy) -> dict:
    """The ``policy`` entry of the metadata: what `rebuild_policy` needs."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.torch_layers import FlattenExtractor

    if type(policy) is not ActorCriticPolicy or type(policy.features_extractor) is not (
        FlattenExtractor
    ):
        raise ValueError(
            f"save_ppo saves SB3's MlpPolicy (ActorCriticPolicy with a FlattenExtractor), "
            f"not {type(policy).__name__}"
        )
    arch = policy.net_arch
    if isinstance(arch, dict):
        pi, vf = arch.get("pi", []), arch.get("vf", [])
    else:
        pi = vf = list(arch)
    names = {cls: name for name, cls in ACTIVATIONS.items()}
    act = names.get(policy.activation_fn.__name__)
    if act is None or policy.activation_fn.__module__ != "torch.nn.modules.activation":
        raise ValueError(
            f"activation {policy.activation_fn.__name__} is not one of {', '.join(ACTIVATIONS)}"
        )
    return {
        "class": "ActorCriticPolicy",
        "net_arch": {"pi": [int(n) for n in pi], "vf": [int(n) for n in vf]},
        "activation_fn": act,
        "share_features_extractor": bool(policy.share_features_extractor),
    }


def write_ppo(policy, path: str | Path, role, config: dict | None = None) -> Path:
    """The policy network's tensors as safetensors, with the JSON metadata (see the
    module docstring) in the header under ``townsquare``."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {
        **role.describe(),
        "algo": "ppo",
        "format_version": FORMAT_VERSION,
        "config": config,
        "policy": policy_layout(policy),
    }
    check_meta(meta)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    # written beside and renamed: a symlink at ``path`` is replaced, not written through
    header = {META_KEY: json.dumps(meta, sort_keys=True)}
    return replace_file(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))


# -- reading: data only ------------------------------------------------------------------
def _json(text: str | bytes, what: str):
    try:
        return strict_json(text, what)
    except ValueError as exc:
        raise CheckpointFormatError(str(exc)) from None


def read_header(path: str | Path) -> dict:
    """The safetensors header of ``path`` (plain JSON after an 8-byte length), checked
    for size and shape only; no tensor is read and nothing is executed."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointFormatError("not a safetensors file (shorter than its header)")
        (size,) = struct.unpack("<Q", head)
        if size == 0 or size > MAX_HEADER_BYTES:
            raise CheckpointFormatError(
                f"not a safetensors file (header length {size} is not in 1..{MAX_HEADER_BYTES})"
            )
        raw = fh.read(size)
        data_size = fh.seek(0, 2) - 8 - size
    if len(raw) < size:
        raise CheckpointFormatError("truncated safetensors file (the header is cut short)")
    header = _json(raw, "the safetensors header")
    if not isinstance(header, dict):
        raise CheckpointFormatError("the safetensors header is not a JSON object")
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__"
        and isinstance(entry, dict)
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and type(entry["data_offsets"][1]) is int
    ]
    if max(ends, default=0) > data_size:
        raise CheckpointFormatError(
            f"truncated safetensors file ({data_size} bytes of tensor data, the header "
            f"describes {max(ends)})"
        )
    return header


def read_ppo_meta(path: str | Path) -> dict:
    """The validated townsquare metadata of a PPO checkpoint (`check_meta`)."""
    header = read_header(path)
    extra = header.get("__metadata__")
    if not isinstance(extra, dict) or not isinstance(extra.get(META_KEY), str):
        raise CheckpointFormatError(
            f"not a townsquare PPO checkpoint (no {META_KEY!r} entry in the header metadata)"
        )
    meta = _json(extra[META_KEY], f"the {META_KEY!r} metadata")
    check_meta(meta)
    return meta


def _int(value, what: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise CheckpointFormatError(f"{what} must be an integer in {lo}..{hi}, not {value!r}")
    return value


def check_meta(meta) -> None:
    """Refuse metadata that `save_ppo` would not write: wrong keys, types or sizes."""
    if not isinstance(meta, dict):
        raise CheckpointFormatError("the metadata is not a JSON object")
    if meta.get("algo") != "ppo":
        raise CheckpointFormatError(f"algo is {meta.get('algo')!r}, expected 'ppo'")
    if meta.get("format_version") != FORMAT_VERSION or type(meta["format_version"]) is not int:
        raise CheckpointFormatError(
            f"format_version is {meta.get('format_version')!r}; this townsquare reads "
            f"version {FORMAT_VERSION}: retrain it"
        )
    keys = {"role", "action_space", "self_observation", "obs_size", "n_actions"}
    keys |= {"spec_version", "algo", "format_version", "config", "policy"}
    if set(meta) != keys:
        wrong = sorted(set(meta) ^ keys)
        raise CheckpointFormatError(f"metadata keys differ from a PPO checkpoint's: {wrong}")
    for key in ("role", "action_space"):
        if not isinstance(meta[key], str):
            raise CheckpointFormatError(f"{key} must be a string, not {meta[key]!r}")
    if type(meta["self_observation"]) is not bool:
        raise CheckpointFormatError("self_observation must be true or false")
    _int(meta["obs_size"], "obs_size", 1, MAX_UNITS)
    _int(meta["n_actions"], "n_actions", 1, MAX_UNITS)
    _int(meta["spec_version"], "spec_version", 0, 2**31)
    cfg = meta["config"]
    if cfg is not None:
        names = set(CONFIG_KEYS)
        if not isinstance(cfg, dict) or set(cfg) != names:
            raise CheckpointFormatError(f"config must be null or an object with {sorted(names)}")
        for key, value in cfg.items():
            if type(value) not in (int, float) or not math.isfinite(value):
                raise CheckpointFormatError(f"config.{key} must be a number, not {value!r}")
    pol = meta["policy"]
    pol_keys = {"class", "net_arch", "activation_fn", "share_features_extractor"}
    if not isinstance(pol, dict) or set(pol) != pol_keys:
        raise CheckpointFormatError(f"policy must be an object with {sorted(pol_keys)}")
    if pol["class"] != "ActorCriticPolicy":
        raise CheckpointFormatError(
            f"policy.class is {pol['class']!r}; only 'ActorCriticPolicy' is rebuilt"
        )
    if not isinstance(pol["activation_fn"], str) or pol["activation_fn"] not in ACTIVATIONS:
        raise CheckpointFormatError(
            f"policy.activation_fn {pol['activation_fn']!r} is not one of {', '.join(ACTIVATIONS)}"
        )
    if type(pol["share_features_extractor"]) is not bool:
        raise CheckpointFormatError("policy.share_features_extractor must be true or false")
    arch = pol["net_arch"]
    if not isinstance(arch, dict) or set(arch) != {"pi", "vf"}:
        raise CheckpointFormatError("policy.net_arch must be an object with 'pi' and 'vf'")
    for key, layers in arch.items():
        if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
            raise CheckpointFormatError(
                f"policy.net_arch.{key} must be a list of at most {MAX_LAYERS} layer sizes"
            )
        for n in layers:
            _int(n, f"policy.net_arch.{key} layer size", 1, MAX_UNITS)


def rebuild_policy(meta: dict, observation_space, action_space):
    """A fresh ``ActorCriticPolicy`` of the layout in ``meta`` (weights not loaded)."""
    import torch
    from stable_baselines3.common.policies import ActorCriticPolicy

    pol = meta["policy"]
    with torch.random.fork_rng(devices=[]):  # initial weights are overwritten; keep RNG
        policy = ActorCriticPolicy(
            observation_space,
            action_space,
            lambda _: 0.0,
            net_arch={k: list(v) for k, v in pol["net_arch"].items()},
            activation_fn=getattr(torch.nn, ACTIVATIONS[pol["activation_fn"]]),
            ortho_init=False,
            share_features_extractor=pol["share_features_extractor"],
        )
    return policy.to("cpu")


def load_ppo_policy(path: str | Path, meta: dict, observation_space, action_space):
    """The policy network of a PPO checkpoint, rebuilt from ``meta`` (`read_ppo_meta`)
    for these spaces, with every tensor checked against it; in evaluation mode."""
    import torch
    from safetensors import safe_open

    policy = rebuild_policy(meta, observation_space, action_space)
    expected = policy.state_dict()
    tensors = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            names = set(f.keys())
            if names != set(expected):
                missing = sorted(set(expected) - names)
                extra = sorted(names - set(expected))
                raise CheckpointFormatError(
                    f"its tensors do not fit the policy it describes (missing {missing}, "
                    f"unexpected {extra})"
                )
            for name in sorted(names):
                tensors[name] = f.get_tensor(name)
    except CheckpointFormatError:
        raise
    except Exception as exc:  # safetensors reports a damaged file in its own error types
        raise CheckpointFormatError(
            f"not a readable safetensors file ({' '.join(str(exc).split())})"
        ) from None
    for name, want in expected.items():
        got = tensors[name]
        if got.dtype != want.dtype or tuple(got.shape) != tuple(want.shape):
            raise CheckpointFormatError(
                f"tensor {name!r} is {str(got.dtype).removeprefix('torch.')} "
                f"{list(got.shape)}, the policy it describes needs "
                f"{str(want.dtype).removeprefix('torch.')} {list(want.shape)}"
            )
        if not bool(torch.isfinite(got).all()):
            raise CheckpointFormatError(f"tensor {name!r} holds non-finite values")
    policy.load_state_dict(tensors, strict=True)
    policy.set_training_mode(False)
    return policy
