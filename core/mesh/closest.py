"""Closest points on a triangle surface, as barycentric coordinates that can be reused as a
sparse (P, N) matrix for any vertex array in the same topology."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy import sparse

from ..constants import tol
from ..typed import FloatArray, Float32Array, IntArray
from .geometry import face_areas


@dataclass(frozen=True, eq=False)
class ClosestPoints:
    """Per query point, the nearest surface point.

    Attributes
    ----------
    points : (P, 3) float32, mm, equal to the barycentric combination of `triangle`'s corners
    distance : (P,) float32, mm, from the query to `points`
    triangle : (P,) int32, index into the triangles passed in
    barycentric : (P, 3) float32, weights of the triangle's corners, in [0, 1], summing to 1
    """

    points: Float32Array
    distance: Float32Array
    triangle: IntArray
    barycentric: Float32Array


def closest_points(vertices: FloatArray, triangles: IntArray, points: FloatArray) -> ClosestPoints:
    """Nearest points on the surface (N, 3) `vertices` mm, (T, 3) `triangles` to (P, 3) `points`.

    Uses trimesh's r-tree search; triangles with area below `tol.zero_area` are skipped.
    """
    v = np.asarray(vertices, np.float64)
    tri = np.asarray(triangles, np.int64)
    query = np.asarray(points, np.float64).reshape(-1, 3)
    if len(query) == 0:
        return ClosestPoints(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
                             np.zeros(0, np.int32), np.zeros((0, 3), np.float32))
    kept = np.flatnonzero(face_areas(v, tri) > tol.zero_area)
    if kept.size == 0:
        raise ValueError(f"the mesh has no triangle with area above {tol.zero_area:g} mm^2")
    mesh = trimesh.Trimesh(v, tri[kept], process=False, validate=False)
    nearest, _, local = trimesh.proximity.closest_point(mesh, query)
    hit = kept[local]
    corners = v[tri[hit]]  # (P, 3, 3)
    bary = np.clip(trimesh.triangles.points_to_barycentric(corners, nearest), 0.0, 1.0)
    bary /= bary.sum(axis=1, keepdims=True)
    on_surface = np.einsum("pk,pkc->pc", bary, corners)
    return ClosestPoints(
        on_surface.astype(np.float32),
        np.linalg.norm(query - on_surface, axis=1).astype(np.float32),
        hit.astype(np.int32), bary.astype(np.float32),
    )


def barycentric_matrix(
    triangles: IntArray, tri_index: IntArray, bary: FloatArray, n_vertices: int
) -> sparse.csr_matrix:
    """(P, N) float64 matrix M with M @ vertices = the surface points, for any (N, C) array.

    triangles : (T, 3) int; tri_index : (P,) int into `triangles`; bary : (P, 3) float weights.
    """
    corners = np.asarray(triangles)[np.asarray(tri_index)]  # (P, 3)
    rows = np.repeat(np.arange(len(corners)), 3)
    weights = np.asarray(bary, np.float64).ravel()
    return sparse.csr_matrix((weights, (rows, corners.ravel())), shape=(len(corners), n_vertices))
