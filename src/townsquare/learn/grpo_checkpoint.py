"""A GRPO run's checkpoint, in the library's own format: what training had done when it
stopped early (a judge's server down, Ctrl-C, or every ``save_every`` steps), so
``--resume`` goes on from there. Nothing in it is a pickle:

* ``model/``: the weights (``save_pretrained``, safetensors) and the tokenizer; with
  LoRA, ``adapter/`` instead: the peft adapter (safetensors), the base model being
  ``--model``;
* ``optimizer.safetensors``: AdamW's moments and step count of every trained weight,
  keyed by the weight's name;
* ``state.json``: the steps done, the curve so far and the settings they were done with.

A resumed run continues the weights, the moments and the learning-rate schedule; the
prompts of its remaining steps are drawn in an order of their own (the seed and the step
it resumed at), so it is not byte-identical to a run that never stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import UserError

FOLDER = "checkpoint"
#: a checkpoint is written whole into this folder, then swapped for the last one
WRITING = "checkpoint.writing"
OLD = "checkpoint.old"
FILES = ("model", "adapter", "optimizer.safetensors", "state.json")
MOMENTS = ("exp_avg", "exp_avg_sq", "step")
#: settings a resumed run may change: more steps, another device, a judge's server
#: restarted at another address, how often to save
FREE = ("steps", "device", "judge", "save_every")


def _comparable(settings) -> dict:
    """The settings a resumed run must share with the run it resumes."""
    return json.loads(json.dumps(asdict(settings)))


def save(out: Path, trainer, settings, done: int, curve: list[dict]) -> Path:
    """Write the checkpoint of ``done`` steps into ``out/checkpoint``, whole: into
    ``checkpoint.writing`` first, then swapped for the last one, so a machine that dies
    while saving leaves the last checkpoint as it was."""
    import torch
    from safetensors.torch import save_file

    from ..outputs import replace_text

    out = Path(out)
    _remove_folder(out / WRITING)
    folder = out / WRITING
    folder.mkdir(parents=True)
    model = trainer.model
    accelerator = getattr(trainer, "accelerator", None)
    if accelerator is not None:
        model = accelerator.unwrap_model(model)
    if settings.lora:
        model.save_pretrained(folder / "adapter")
    else:
        model.save_pretrained(folder / "model")
        trainer.processing_class.save_pretrained(folder / "model")
    tensors = {}
    optimizer = getattr(trainer, "optimizer", None)
    if optimizer is not None:
        state = getattr(optimizer, "optimizer", optimizer).state  # accelerate wraps it
        for name, param in model.named_parameters():
            for key, value in state.get(param, {}).items():
                if key in MOMENTS:
                    tensors[f"{name}::{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(folder / "optimizer.safetensors"))
    replace_text(
        folder / "state.json",
        json.dumps({"done": int(done), "settings": _comparable(settings), "curve": curve}, indent=1)
        + "\n",
    )
    final = out / FOLDER
    _remove_folder(out / OLD)
    if final.exists():
        final.rename(out / OLD)
    folder.rename(final)
    _remove_folder(out / OLD)
    return final


def load_state(out: Path, settings) -> dict:
    """The checkpoint's ``state.json``, checked against ``settings``; one-line errors."""
    folder = Path(out) / FOLDER
    if not folder.exists() and (Path(out) / OLD / "state.json").is_file():
        # a save that stopped between its two renames: the last whole checkpoint
        (Path(out) / OLD).rename(folder)
    path = folder / "state.json"
    if settings.beta:
        raise UserError(
            "--resume: not with a KL penalty (beta > 0): the reference model would be the "
            "checkpoint's, not the starting model"
        )
    if not path.is_file():
        raise UserError(f"--resume: {folder} holds no GRPO checkpoint (no state.json)")
    try:
        state = json.loads(path.read_text())
        done, saved, curve = int(state["done"]), state["settings"], list(state["curve"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"--resume: {path} is damaged ({exc})") from None
    wanted = _comparable(settings)
    changed = sorted(k for k in wanted if k not in FREE and saved.get(k) != wanted[k])
    if (saved.get("judge") is None) != (wanted.get("judge") is None):
        changed.append("judge")  # another address is fine; adding or dropping one is not
    if changed:
        raise UserError(
            f"--resume: {path} was trained with other settings ({', '.join(changed)}); "
            "resume with the same ones"
        )
    if not 0 <= done < settings.steps:
        raise UserError(
            f"--resume: the checkpoint has {done} of {settings.steps} steps done; "
            "nothing to resume (raise --episodes to train on)"
        )
    if not curve_continues(curve, done):
        raise UserError(f"--resume: {path} is damaged (its curve is not {done} steps long)")
    needed = folder / ("adapter" if settings.lora else "model")
    files = (
        ("adapter_config.json", "adapter_model.safetensors") if settings.lora else ("config.json",)
    )
    missing = [f for f in files if not (needed / f).is_file()]
    if missing:
        raise UserError(f"--resume: {needed / missing[0]} is missing from the checkpoint")
    return {"done": done, "curve": curve, "folder": folder}


def load_moments(folder: Path, model, optimizer) -> int:
    """Put the saved AdamW moments back for every trained weight of ``model``; returns
    how many weights got theirs. One line if the file is damaged or does not fit."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(folder) / "optimizer.safetensors"
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise UserError(f"--resume: {path} is damaged ({exc})") from None
    inner = getattr(optimizer, "optimizer", optimizer)
    # fused and capturable AdamW keep the step count beside the weight
    on_device = any(inner.defaults.get(k) for k in ("fused", "capturable"))
    restored = 0
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        found = {k: tensors.get(f"{name}::{k}") for k in MOMENTS}
        if any(v is None for v in found.values()):
            continue
        for key in ("exp_avg", "exp_avg_sq"):
            if found[key].shape != param.shape:
                raise UserError(
                    f"--resume: {path}: {name} has shape {tuple(found[key].shape)}, the "
                    f"model's is {tuple(param.shape)}"
                )
        inner.state[param] = {
            "step": found["step"].to(param.device if on_device else "cpu", torch.float32),
            "exp_avg": found["exp_avg"].to(param.device, param.dtype),
            "exp_avg_sq": found["exp_avg_sq"].to(param.device, param.dtype),
        }
        restored += 1
    if tensors and not restored:
        raise UserError(f"--resume: {path} holds no moments for this model's weights")
    return restored


def _remove_folder(folder: Path) -> None:
    """Remove a checkpoint folder `save` wrote: only the files it writes, then the
    folder if nothing else is left in it."""
    import shutil

    for name in FILES:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.is_file():
            path.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def remove(out: Path) -> None:
    """Remove the checkpoint once the run is complete: only what `save` wrote."""
    for name in (FOLDER, WRITING, OLD):
        _remove_folder(Path(out) / name)


def schedule_left(learning_rate: float, steps: int, done: int) -> float:
    """The linear schedule's rate at step ``done``: where the resumed run starts, so its
    own linear decay to 0 over the remaining steps follows the original one."""
    return float(learning_rate * (steps - done) / steps) if steps else 0.0


def curve_continues(curve: list[dict], done: int) -> bool:
    """Whether a saved curve has exactly the rows of ``done`` steps."""
    return [int(r["step"]) for r in curve] == list(range(1, done + 1)) and all(
        np.isfinite(float(r["reward"])) for r in curve
    )
