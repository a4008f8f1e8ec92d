"""Trimmed point-to-plane ICP with scale, run for several start poses at once.

CONVENTION: a Pose maps source points (scan units) to the target frame (mm), row vectors:
x' = scale * x @ rotation.T + translation, like `SimilarityTransform`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..mesh.align import SimilarityTransform
from ..typed import FloatArray

COMPATIBLE = 0.3  # min cosine between the normals of a correspondence
_MAX_TURN = 0.3  # rad, largest rotation of one step
_MAX_GROW = 0.1  # largest relative scale change of one step


@dataclass(frozen=True)
class Pose:
    """x_target = scale * x_source @ rotation.T + translation."""

    rotation: FloatArray  # (3, 3)
    translation: FloatArray  # (3,)
    scale: float

    def apply(self, x: FloatArray) -> FloatArray:
        """(..., 3) source points -> target frame, float64."""
        return self.scale * np.asarray(x, np.float64) @ self.rotation.T + self.translation

    def similarity(self) -> SimilarityTransform:
        return SimilarityTransform(self.rotation, self.translation, self.scale)


@dataclass(frozen=True, eq=False)
class Surface:
    """Points (M, 3) with unit normals, per-point weights and a search tree."""

    points: FloatArray
    normals: FloatArray
    weight: FloatArray
    tree: cKDTree

    @classmethod
    def build(cls, points: FloatArray, normals: FloatArray,
              weight: FloatArray | None = None) -> "Surface":
        p = np.asarray(points, np.float64)
        w = np.ones(len(p)) if weight is None else np.asarray(weight, np.float64)
        return cls(p, np.asarray(normals, np.float64), w, cKDTree(p))

    def nearest(self, x: FloatArray, reach: float) -> tuple[FloatArray, FloatArray]:
        """Distance (inf beyond `reach`) and index (clipped to a valid row) of the nearest point
        to each of (..., 3) `x`."""
        dist, idx = self.tree.query(x, distance_upper_bound=reach)
        return dist, np.minimum(idx, len(self.points) - 1)

    def plane_distance(self, x: FloatArray, normals: FloatArray, reach: float) -> FloatArray:
        """(...,) |distance| of points `x` with `normals` to the tangent plane of their nearest
        surface point; inf beyond `reach` or where the normals disagree."""
        dist, idx = self.nearest(x, reach)
        plane = np.abs(np.einsum("...c,...c->...", x - self.points[idx], self.normals[idx]))
        agree = np.einsum("...c,...c->...", normals, self.normals[idx]) > COMPATIBLE
        return np.where(np.isfinite(dist) & agree, plane, np.inf)


def icp(points: FloatArray, normals: FloatArray, target: Surface, poses: list[Pose],
        iterations: int, reach: float, trim: float, scale_range: list[tuple[float, float]],
        valid: FloatArray | None = None) -> list[Pose]:
    """Refine every start pose by trimmed point-to-plane ICP with scale, all at once.

    Parameters
    ----------
    points, normals : (P, 3) source samples and their unit normals, or (K, P, 3): one set per pose
    target : the surface to align to (mm)
    poses : K start poses
    iterations : ICP steps
    reach : mm, correspondences farther than this are ignored
    trim : fraction of the remaining correspondences (closest first) that each step uses
    scale_range : K (low, high) bounds of each pose's scale
    valid : (K, P) bool, samples to use (default all)
    """
    x = np.broadcast_to(np.asarray(points, np.float64), (len(poses),) + np.shape(points)[-2:])
    n = np.broadcast_to(np.asarray(normals, np.float64), x.shape)
    use = np.ones(x.shape[:2], bool) if valid is None else np.asarray(valid, bool)
    rot = np.stack([p.rotation for p in poses])  # (K, 3, 3)
    trans = np.stack([p.translation for p in poses])  # (K, 3)
    scale = np.array([p.scale for p in poses], np.float64)  # (K,)
    low, high = np.asarray(scale_range, np.float64).T
    for _ in range(iterations):
        moved = scale[:, None, None] * x @ rot.transpose(0, 2, 1) + trans[:, None]  # (K, P, 3)
        dist, idx = target.nearest(moved, reach)
        cosine = np.einsum("kpc,kpc->kp", n @ rot.transpose(0, 2, 1), target.normals[idx])
        weight = _trimmed(np.where(use, dist, np.inf), cosine, trim) * target.weight[idx]
        centre, omega, sigma, delta = _step(moved, target.points[idx], target.normals[idx], weight)
        turn = Rotation.from_rotvec(omega).as_matrix()  # (K, 3, 3)
        grow = 1.0 + sigma
        rot = turn @ rot
        trans = grow[:, None] * np.einsum("kij,kj->ki", turn, trans - centre) + centre + delta
        scale = np.clip(scale * grow, low, high)
    return [Pose(rot[k], trans[k], float(scale[k])) for k in range(len(poses))]


def _trimmed(dist: FloatArray, cosine: FloatArray, trim: float) -> FloatArray:
    """(K, P) 0/1 weights: correspondences within reach with agreeing normals, the `trim`
    closest of them."""
    ok = np.isfinite(dist) & (cosine > COMPATIBLE)
    capped = np.where(ok, dist, np.inf)
    kept = np.maximum((ok.sum(axis=1) * trim).astype(int), 1)
    limit = np.take_along_axis(np.sort(capped, axis=1), kept[:, None] - 1, axis=1)
    return (ok & (capped <= limit)).astype(np.float64)


def _step(moved: FloatArray, target: FloatArray, target_n: FloatArray,
          weight: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Weighted least-squares point-to-plane step x' = (1 + sigma)(x - c) + omega x (x - c) + c
    + delta, linearised, for (K, P, 3) points.

    Returns (centre c (K, 3), omega (K, 3) rad, sigma (K,), delta (K, 3)), with capped steps.
    """
    total = np.maximum(weight.sum(axis=1), 1.0)
    centre = np.einsum("kp,kpc->kc", weight, moved) / total[:, None]
    local = moved - centre[:, None]
    residual = np.einsum("kpc,kpc->kp", moved - target, target_n)
    jac = np.concatenate([np.cross(local, target_n), target_n,
                          np.einsum("kpc,kpc->kp", local, target_n)[..., None]], axis=2)  # (K, P, 7)
    normal = np.einsum("kp,kpi,kpj->kij", weight, jac, jac)
    damping = 1e-6 * np.trace(normal, axis1=1, axis2=2) + 1e-9  # no data: a zero step
    rhs = -np.einsum("kp,kpi,kp->ki", weight, jac, residual)
    solution = np.linalg.solve(normal + damping[:, None, None] * np.eye(7), rhs[..., None])[..., 0]
    omega = solution[:, :3]
    angle = np.linalg.norm(omega, axis=1, keepdims=True)
    omega = omega * np.minimum(1.0, _MAX_TURN / np.maximum(angle, 1e-12))
    return centre, omega, np.clip(solution[:, 6], -_MAX_GROW, _MAX_GROW), solution[:, 3:6]
