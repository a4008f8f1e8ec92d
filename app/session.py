"""A loaded model with what the editor derives from it: semantics, triangles, slider bases.

`load_session` runs in a worker (it imports torch and reads the checkpoint).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from faceforge.core.document import State
from faceforge.core.models.measures import distance_from_neutral
from faceforge.core.models.semantics import PriorAxes

SLIDER_DIRECTIONS = 10  # identity sliders: the main axes of the identity prior
HEATMAPS = ("none", "neutral")  # what the editor's face can be coloured by (see `Session.decode_frame`)


@dataclass(frozen=True, eq=False)
class Frame:
    """A decoded face: vertices (N, 3) float32 mm, decode time (ms), heat map (N,) float32 mm or None."""

    vertices: np.ndarray
    ms: float
    heat: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Session:
    """One model as the editor uses it."""

    folder: Path
    model: Any  # FaceModel
    semantics: Any  # Semantics | None
    triangles: np.ndarray  # (T, 3) int64
    basis: PriorAxes  # the identity sliders' axes

    @property
    def name(self) -> str:
        """A short label: the run folder's name."""
        return self.folder.parent.name if self.folder.name == "checkpoint" else self.folder.name

    @property
    def n_vertices(self) -> int:
        return self.model.template.n_vertices

    @cached_property
    def topology(self) -> tuple[int, str]:
        """(vertex count, connectivity hash) of the template: equal for models whose codes could carry over."""
        return self.n_vertices, self.model.template.topology_hash()

    @property
    def arkit_units(self) -> list[str]:
        """ARKit slider names (empty without semantics)."""
        return list(self.semantics.arkit_units) if self.semantics is not None else []

    def new_state(self) -> State:
        """Mean identity, neutral expression."""
        return State(self.basis.mean, np.zeros(self.model.exp_dim), np.zeros(len(self.arkit_units)))

    def decode(self, z_id: np.ndarray, z_exp: np.ndarray) -> tuple[np.ndarray, float]:
        """((N, 3) float32 mm, milliseconds) for one pair of codes."""
        start = time.perf_counter()
        v = self.model.decode(z_id[None], z_exp[None])[0]
        return np.asarray(v, np.float32), (time.perf_counter() - start) * 1000

    def decode_frame(self, z_id: np.ndarray, z_exp: np.ndarray, heat: str = "none") -> Frame:
        """The face of (I,), (E,) codes; `heat` "neutral" adds each vertex's distance (mm) from
        the same identity's neutral face (`core.models.measures.distance_from_neutral`)."""
        if heat == "none":
            return Frame(*self.decode(z_id, z_exp))
        if heat != "neutral":
            raise ValueError(f"unknown heat map {heat!r}; choose one of {HEATMAPS}")
        start = time.perf_counter()
        measured = distance_from_neutral(self.model, z_id, z_exp)
        return Frame(measured.face, (time.perf_counter() - start) * 1000, measured.distance)

    def expression_code(self, preset: str, intensity: float, arkit: np.ndarray) -> np.ndarray:
        """(E,) z_exp: the preset category scaled by `intensity`, plus the ARKit sliders' code."""
        z = self.semantics.expression(arkit)
        return (z + self.semantics.category(preset, intensity)) if preset else z


def load_session(folder: str | Path) -> Session:
    """Load a checkpoint folder and its semantics (runs in a worker thread)."""
    import torch

    from faceforge.core.models.registry import load_model
    from faceforge.core.models.semantics import Semantics

    # One intra-op thread for the editor's small jobs: a 2-thread OpenMP decode waits on its
    # partner thread (30-50 ms per frame on a busy 2-core machine, 2 ms with one), and idle
    # spinning partners slow the software renderer. Training runs in its own process.
    torch.set_num_threads(1)
    folder = Path(folder)
    model = load_model(folder)
    semantics = Semantics.load(folder)
    basis = semantics.identity_prior.axes() if semantics is not None else PriorAxes.identity(model.id_dim)
    return Session(folder, model, semantics, model.template.triangles().astype(np.int64), basis)
