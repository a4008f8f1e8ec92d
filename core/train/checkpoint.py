"""Atomic training checkpoints: the model checkpoint folder plus the trainer's state.

Layout of `<run>/checkpoint/`::

    weights.safetensors, config.json, template.npz   WSDFModel.save (loadable on its own)
    trainer.safetensors   optimizer moments, Neutral Bank, torch RNG state (tensors only)
    trainer.json          step, epoch, config, training subjects, split, last losses/metrics

The folder is written complete under a hidden temp name in the run folder, then renamed
over the old one, so a kill leaves either the old or the new checkpoint, never a mix. If
the kill lands between the two renames, `find_checkpoint` picks up the set-aside old one.
"""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..cache import atomic_write_bytes, replace_folder
from ..errors import CheckpointError

CHECKPOINT = "checkpoint"
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"
FORMAT = "faceforge-trainer"
VERSION = 1


def save_checkpoint(out_dir: str | Path, model, tensors: dict[str, torch.Tensor],
                    info: dict[str, Any]) -> Path:
    """Write `<out_dir>/checkpoint` atomically; returns its path.

    model : a FaceModel (its `save` writes the model files)
    tensors : trainer state, CPU tensors (`trainer.safetensors`)
    info : JSON-able trainer state (`trainer.json`)
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / CHECKPOINT
    tmp = out_dir / f".{CHECKPOINT}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        model.save(tmp)
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / TRAINER_TENSORS))
        payload = {"format": FORMAT, "version": VERSION, **info}
        atomic_write_bytes(tmp / TRAINER_JSON, json.dumps(payload, indent=1).encode())
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in (*out_dir.glob(f".{CHECKPOINT}.*.tmp"), *out_dir.glob(f".{CHECKPOINT}.*.old")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a kill mid-write (one writer per run)
    return target


def find_checkpoint(out_dir: str | Path) -> Path | None:
    """The run's checkpoint folder, or the old one a kill left set aside mid-swap, or None.

    Raises CheckpointError when `checkpoint/` holds files but no `trainer.json` (damaged: a
    fresh start would silently overwrite it).
    """
    out_dir = Path(out_dir)
    target = out_dir / CHECKPOINT
    if (target / TRAINER_JSON).is_file():
        return target
    olds = sorted(out_dir.glob(f".{CHECKPOINT}.*.old"), key=lambda p: p.stat().st_mtime)
    olds = [p for p in olds if (p / TRAINER_JSON).is_file()]  # a complete one set aside by replace_folder
    if olds:
        return olds[-1]
    if target.is_dir() and any(target.iterdir()):
        raise CheckpointError(target / TRAINER_JSON, f"{TRAINER_JSON} is missing, so the checkpoint "
                              "cannot be resumed; delete the checkpoint folder (or train with "
                              "--restart / resume=False) to start over, or use a new output folder")
    return None


def read_trainer_info(folder: str | Path) -> dict[str, Any]:
    """`trainer.json` of a checkpoint folder (or of a run folder holding `checkpoint/`).

    Raises CheckpointError (its `path` the file) when it is missing, unreadable or lacks the
    step, config and training subjects every trainer checkpoint records.
    """
    folder = Path(folder)
    if not (folder / TRAINER_JSON).is_file() and (folder / CHECKPOINT / TRAINER_JSON).is_file():
        folder = folder / CHECKPOINT
    path = folder / TRAINER_JSON
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(path, f"no {TRAINER_JSON}: not a training checkpoint "
                              "(pass the run folder written by 'faceforge train')", exc) from exc
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise CheckpointError(path, f"{TRAINER_JSON} is unreadable ({exc}); the checkpoint "
                              "is damaged, delete it to start over", exc) from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(path, f"{TRAINER_JSON} is not a FaceForge trainer state (damaged, or "
                              "not written by 'faceforge train'); delete the checkpoint to start over")
    _check_info(path, info)
    return info


def _check_info(path: Path, info: dict[str, Any]) -> None:
    """The fields a resume relies on, with the right types."""
    expected = {"step": int, "config": dict, "subjects": list}
    bad = [k for k, kind in expected.items()
           if not isinstance(info.get(k), kind) or isinstance(info.get(k), bool)]
    if bad or info["step"] < 0:
        raise CheckpointError(path, f"{TRAINER_JSON} lacks a valid {', '.join(bad) or 'step'}; the "
                              "checkpoint is damaged, delete it to start over")


def read_trainer_tensors(folder: str | Path) -> dict[str, torch.Tensor]:
    """`trainer.safetensors` of a checkpoint folder."""
    path = Path(folder) / TRAINER_TENSORS
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(path, f"{TRAINER_TENSORS} is missing or truncated ({exc}); "
                              "delete the checkpoint to start over", exc) from exc


def optimizer_tensors(optimizer: torch.optim.Optimizer, prefix: str = "optim/") -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as flat tensors: `optim/<param index>/<name>`."""
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            if not torch.is_tensor(value):
                value = torch.tensor(value)
            out[f"{prefix}{index}/{name}"] = value
    return out


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                   prefix: str = "optim/") -> None:
    """Restore `optimizer_tensors` output; the hyper-parameters stay those of `optimizer`."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix):].split("/", 1)
            state.setdefault(int(index), {})[name] = value
    current = optimizer.state_dict()
    n_params = sum(len(g["params"]) for g in current["param_groups"])
    if state and max(state) >= n_params:
        raise ValueError(f"optimizer state has parameter {max(state)} but the model has {n_params}")
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})
