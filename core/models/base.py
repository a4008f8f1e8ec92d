"""The interface every face model implements, and loading a model from its checkpoint.

A checkpoint is a folder with `weights.safetensors` (tensors only) and `config.json` (model
kind, sizes, template topology hash, normalization, training data summary, metrics). The
template itself is stored next to them as `template.npz`. Nothing is ever unpickled.
"""
from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..mesh.template import Template

MODEL_KINDS: dict[str, type["FaceModel"]] = {}


class FaceModel(abc.ABC):
    """A generative face model with separate identity and expression codes.

    Vertices are (B, N, 3) float32 in mm in the model's template topology; codes are
    (B, id_dim) and (B, exp_dim) float32. Arrays in, arrays out: numpy in gives numpy out,
    torch in gives torch out (on the model's device).
    """

    kind: ClassVar[str]
    template: Template
    id_dim: int
    exp_dim: int
    metadata: dict[str, Any]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "__abstractmethods__", None) and hasattr(cls, "kind"):
            MODEL_KINDS[cls.kind] = cls

    @abc.abstractmethod
    def encode(self, vertices):
        """(z_id, z_exp): the posterior means for (B, N, 3) mm vertices."""

    @abc.abstractmethod
    def decode(self, z_id, z_exp):
        """(B, N, 3) mm vertices for codes (B, id_dim), (B, exp_dim)."""

    def neutralize(self, vertices):
        """(B, N, 3) mm: each face with its identity kept and expression code zero."""
        z_id, z_exp = self.encode(vertices)
        return self.decode(z_id, z_exp * 0)

    @abc.abstractmethod
    def save(self, folder: str | Path) -> None:
        """Write the checkpoint folder atomically."""

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> "FaceModel":
        """Read a checkpoint folder written by `save`."""


def as_tensor(x, device: torch.device) -> tuple[torch.Tensor, bool]:
    """(float32 tensor on `device`, whether the input was numpy)."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device), True
    return x.to(device=device, dtype=torch.float32), False
