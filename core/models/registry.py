"""Load any model checkpoint: dispatch on the `kind` in its config.json (`MODEL_KINDS`)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from . import wsdf  # noqa: F401  (registers "wsdf" in MODEL_KINDS)
from .base import MODEL_KINDS, FaceModel
from .checkpoint import CONFIG, read_config


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> FaceModel:
    """The model saved in `folder`, on `device`; raises `CheckpointError` for a bad folder."""
    kind = read_config(folder)["kind"]
    if kind not in MODEL_KINDS:
        raise CheckpointError(Path(folder) / CONFIG, f"unknown model kind '{kind}' (this "
                              f"FaceForge reads: {', '.join(sorted(MODEL_KINDS))}); update "
                              "FaceForge or choose another checkpoint.")
    return MODEL_KINDS[kind].load(folder, device)


def default_model_folder() -> Path | None:
    """The shipped default model (`faceforge.resources` models/default), if this install has one."""
    from importlib.resources import files

    folder = Path(str(files("faceforge.resources"))) / "models" / "default"
    return folder if (folder / CONFIG).is_file() else None


def load_default_model(device: str | torch.device = "cpu") -> FaceModel:
    """The shipped default model in one call; raises `CheckpointError` when it is missing."""
    folder = default_model_folder()
    if folder is None:
        raise CheckpointError(Path("resources/models/default") / CONFIG,
                              "this install ships no default model; train one with "
                              "'faceforge train --config resources/train/default.yaml ...' (README)")
    return load_model(folder, device)
