"""Deformation transfer (Sumner & Popovic 2004) of a source deformation onto another face.

Each triangle's frame is (e1, e2, n / sqrt|n|) with e1, e2 its edges from the first corner
and n their cross product (the paper's fourth vertex). A source deformation gives per-triangle
gradients Q = V' V^-1; the target's deformed vertices x (and fourth vertices) minimise
sum_j |X_j W_j - Q_j|^2, W_j being the inverse of the target's rest frame. The normal
equations depend only on the target's rest shape, so they are factorised once per face and
every expression is then a back-substitution.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ...typed import FloatArray, IntArray


def frames(vertices: FloatArray, triangles: IntArray) -> np.ndarray:
    """(T, 3, 3) float64 frames with columns e1, e2, n / sqrt(|n|); vertices (N, 3) mm."""
    v = vertices.astype(np.float64)
    e1 = v[triangles[:, 1]] - v[triangles[:, 0]]
    e2 = v[triangles[:, 2]] - v[triangles[:, 0]]
    n = np.cross(e1, e2)
    n /= np.sqrt(np.linalg.norm(n, axis=1, keepdims=True))
    return np.stack([e1, e2, n], axis=2)


def source_gradients(rest: FloatArray, deformed: FloatArray, triangles: IntArray) -> np.ndarray:
    """(T, 3, 3) deformation gradients Q_j taking the source rest frames to the deformed ones."""
    return frames(deformed, triangles) @ np.linalg.inv(frames(rest, triangles))


class TransferSolver:
    """Deforms one target face by source gradients; factorised once for that face.

    Parameters
    ----------
    target_rest : (N, 3) mm, the target's undeformed shape
    triangles : (T, 3) int, shared by source and target
    anchors : (K,) vertex ids that every source deformation leaves in place; they fix the
        translation the gradients cannot see
    """

    def __init__(self, target_rest: FloatArray, triangles: IntArray, anchors: IntArray):
        self.n = len(target_rest)
        self.anchors = np.asarray(anchors)
        self.rest = target_rest.astype(np.float64)
        self.a = self._gradient_operator(frames(target_rest, triangles), triangles)
        pin = sp.csr_matrix((np.ones(len(anchors)), (np.arange(len(anchors)), anchors)),
                            shape=(len(anchors), self.a.shape[1]))
        self.pin = pin
        self.lu = splu((self.a.T @ self.a + pin.T @ pin).tocsc())

    def _gradient_operator(self, rest_frames: np.ndarray, triangles: IntArray) -> sp.csr_matrix:
        """(3T, N + T) matrix whose rows give X_j W_j for one coordinate."""
        w = np.linalg.inv(rest_frames)  # (T, 3, 3)
        t = len(triangles)
        cols = np.stack([triangles[:, 0], triangles[:, 1], triangles[:, 2],
                         self.n + np.arange(t)], axis=1)  # (T, 4): v1, v2, v3, fourth
        coef = np.concatenate([-w.sum(axis=1, keepdims=True), w], axis=1)  # (T, 4, 3)
        rows = 3 * np.arange(t)[:, None, None] + np.arange(3)[None, None, :]  # (T, 1, 3)
        rows = np.broadcast_to(rows, coef.shape)
        cols = np.broadcast_to(cols[:, :, None], coef.shape)
        return sp.csr_matrix((coef.ravel(), (rows.ravel(), cols.ravel())),
                             shape=(3 * t, self.n + t))

    def solve(self, gradients: np.ndarray) -> np.ndarray:
        """(N, 3) float64 deformed target vertices for source gradients (T, 3, 3)."""
        b = gradients.transpose(0, 2, 1).reshape(-1, 3)  # rows (j, r), columns coordinate c
        rhs = self.a.T @ b + self.pin.T @ self.rest[self.anchors]
        return self.lu.solve(rhs)[: self.n]
