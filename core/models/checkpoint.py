"""Checkpoint folders: atomic writes and validated reads (no pickles).

A checkpoint is a folder holding `config.json`, `weights.safetensors` and `template.npz`.
Every read failure raises `CheckpointError` whose `path` is the file at fault and whose
message says what to do about it.
"""
from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..cache import replace_folder
from ..errors import CheckpointError
from ..mesh.template import Template

CONFIG, WEIGHTS, TEMPLATE = "config.json", "weights.safetensors", "template.npz"


def write_folder_atomic(folder: str | Path, fill: Callable[[Path], None]) -> None:
    """Let `fill` write a new folder next to `folder`, then move it into place.

    An existing checkpoint at `folder` is replaced only after `fill` has returned (and put
    back if the final rename fails); a folder that is neither empty nor a checkpoint (no
    config.json) is never touched.
    """
    folder = Path(folder)
    if folder.exists() and not (folder.is_dir() and _replaceable(folder)):
        raise FileExistsError(
            f"'{folder}' exists and is not a model checkpoint folder; choose a new or empty "
            "folder so nothing else gets overwritten.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(folder, "tmp")
    tmp.mkdir()  # not mkdtemp: its 0700 mode would stick to the checkpoint
    try:
        fill(tmp)
        replace_folder(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sibling(folder: Path, suffix: str) -> Path:
    """A fresh hidden path next to `folder` (same file system, so renames are atomic)."""
    return folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.{suffix}"


def _replaceable(folder: Path) -> bool:
    return (folder / CONFIG).is_file() or not any(folder.iterdir())


def write_config(path: Path, config: dict[str, Any]) -> None:
    """JSON with numpy scalars and arrays turned into plain numbers and lists."""
    def plain(x: Any) -> Any:
        if isinstance(x, (np.generic, np.ndarray)):
            return x.tolist()
        raise TypeError(f"config value {x!r} of type {type(x).__name__} is not JSON-able")

    path.write_text(json.dumps(config, indent=2, default=plain) + "\n", encoding="utf-8")


def write_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Float tensors to safetensors (moved to the CPU, contiguous)."""
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path))


def read_config(folder: str | Path) -> dict[str, Any]:
    """The parsed config.json of a checkpoint folder, with a string `kind` and int version."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(folder, "no such folder; choose a model checkpoint folder (it "
                              f"holds {CONFIG}, {WEIGHTS} and {TEMPLATE}).")
    path = folder / CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CheckpointError(path, f"{CONFIG} is missing; the folder is not a complete "
                              "checkpoint (copy the whole folder, or re-save the model).", e) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, f"{CONFIG} is unreadable ({e}); restore it from the "
                              "original checkpoint or re-save the model.", e) from e
    if not (isinstance(config, dict) and isinstance(config.get("kind"), str)
            and isinstance(config.get("format_version"), int)):
        raise CheckpointError(path, f"{CONFIG} lacks a model 'kind' or 'format_version'; it "
                              "was not written by FaceForge.")
    return config


def check_version(folder: Path, config: dict[str, Any], supported: int) -> None:
    """Refuse a format version newer than `supported` (or one below 1)."""
    version = config["format_version"]
    if version < 1:
        raise CheckpointError(folder / CONFIG, f"format version {version} is invalid; the file "
                              "was not written by FaceForge or was edited.")
    if version > supported:
        raise CheckpointError(folder / CONFIG, f"it was written by a newer FaceForge (format "
                              f"version {version}, this one reads up to {supported}); update "
                              "FaceForge to open it.")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, on the CPU."""
    if not path.is_file():
        raise CheckpointError(path, f"{path.name} is missing; the checkpoint is incomplete "
                              "(copy the whole folder, or re-save the model).")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"{path.name} is truncated or corrupt ({e}); copy it "
                              "again from the original or re-save the model.", e) from e


def read_template(path: Path, topology_hash: str) -> Template:
    """The checkpoint's template, checked against the topology hash in config.json."""
    if not path.is_file():
        raise CheckpointError(path, f"{path.name} is missing; the checkpoint is incomplete "
                              "(copy the whole folder, or re-save the model).")
    try:
        with path.open("rb") as f:  # np.load leaks the handle of a corrupt zip it opened itself
            template = Template.load(f)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(path, f"{path.name} is truncated or corrupt ({e}); copy it "
                              "again from the original or re-save the model.", e) from e
    if template.topology_hash() != topology_hash:
        raise CheckpointError(path, f"the topology of {path.name} (hash "
                              f"{template.topology_hash()}) is not the one in {CONFIG} "
                              f"({topology_hash}); the files come from different checkpoints, "
                              "so copy the whole folder from one checkpoint.")
    return template
