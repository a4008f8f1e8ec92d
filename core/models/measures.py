"""Per-vertex measures of decoded faces, for heat maps (plain numpy, any `FaceModel`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class NeutralDistance:
    """A face, the same identity's neutral face (z_exp = 0), and how far each vertex moved.

    face, neutral : (N, 3) float32 mm; distance : (N,) float32 mm, |face - neutral| per vertex
    """

    face: np.ndarray
    neutral: np.ndarray
    distance: np.ndarray


def distance_from_neutral(model, z_id: np.ndarray, z_exp: np.ndarray) -> NeutralDistance:
    """Decode (z_id (I,), z_exp (E,)) and (z_id, 0) as one batch of two; see `NeutralDistance`."""
    z_id = np.asarray(z_id, np.float32).reshape(-1)
    z_exp = np.asarray(z_exp, np.float32).reshape(-1)
    faces = np.asarray(model.decode(np.stack([z_id, z_id]), np.stack([z_exp, np.zeros_like(z_exp)])),
                       np.float32)  # (2, N, 3)
    return NeutralDistance(faces[0], faces[1], np.linalg.norm(faces[0] - faces[1], axis=1))
