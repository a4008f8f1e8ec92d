"""Meshes in, neutral out: encode a mesh file in the model's topology and compare.

`encode_file` runs in a worker: read -> check the vertex count -> encode -> decode the
reconstruction and the neutralized face (same identity, zero expression code).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceforge.core.errors import TopologyMismatchError
from faceforge.core.mesh.io import FORMATS, read_mesh

MESH_FILTER = "Meshes (" + " ".join(f"*{s}" for s in FORMATS) + ")"


@dataclass(frozen=True, eq=False)
class Comparison:
    """A loaded mesh and what the model makes of it.

    input, reconstruction, neutral : (N, 3) float32 mm
    z_id, z_exp : (I,), (E,) float32 codes of the input
    """

    path: Path
    input: np.ndarray
    reconstruction: np.ndarray
    neutral: np.ndarray
    z_id: np.ndarray
    z_exp: np.ndarray

    @property
    def error(self) -> np.ndarray:
        """(N,) distance input <-> reconstruction per vertex, mm."""
        return np.linalg.norm(self.input - self.reconstruction, axis=1)

    def summary(self) -> str:
        """One line: file name and the reconstruction error statistics."""
        e = self.error
        return (f"{self.path.name}: error mean {e.mean():.2f} mm, 95 % {np.percentile(e, 95):.2f} mm, "
                f"max {e.max():.2f} mm")


def encode_file(session, path: str | Path) -> Comparison:
    """Read `path` and encode it with the session's model (runs in a worker thread).

    Raises MeshReadError, NonFiniteError or TopologyMismatchError with the file's name.
    """
    path = Path(path)
    mesh = read_mesh(path)
    if len(mesh.vertices) != session.n_vertices:
        raise TopologyMismatchError(path, session.n_vertices, len(mesh.vertices))
    z_id, z_exp = session.model.encode(mesh.vertices[None])
    recon, _ = session.decode(z_id[0], z_exp[0])
    neutral, _ = session.decode(z_id[0], np.zeros_like(z_exp[0]))
    return Comparison(path, mesh.vertices, recon, neutral, z_id[0].astype(np.float32),
                      z_exp[0].astype(np.float32))
