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
