"""Differential geometry on triangle meshes: normals, areas, Laplacian, mass, edges, boundaries.

Triangles are (T, 3) int vertex ids, counter-clockwise seen from outside. Functions taking
`vertices` accept (N, 3) or a batch (..., N, 3) in one topology where noted. Sparse operators
are float64 `scipy.sparse.csr_matrix`.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from ..constants import tol
from ..typed import FloatArray, Float32Array, IntArray


def face_areas(vertices: FloatArray, triangles: IntArray) -> Float32Array:
    """Triangle areas, (..., T) float32, mm^2, for vertices (..., N, 3) mm."""
    return (0.5 * np.linalg.norm(_face_cross(vertices, triangles), axis=-1)).astype(np.float32)


def vertex_normals(vertices: FloatArray, triangles: IntArray) -> Float32Array:
    """Area-weighted unit vertex normals, (..., N, 3) float32, for vertices (..., N, 3).

    Vertices in no (non-degenerate) triangle get a zero normal.
    """
    vertices = np.asarray(vertices)
    incidence = _incidence(triangles, vertices.shape[-2])  # (N, T)
    summed = _sparse_apply(incidence, _face_cross(vertices, triangles))  # (..., N, 3)
    norm = np.linalg.norm(summed, axis=-1, keepdims=True)
    unit = np.divide(summed, norm, out=np.zeros_like(summed), where=norm > 0)
    return unit.astype(np.float32)


def cotangent_laplacian(vertices: FloatArray, triangles: IntArray) -> sparse.csr_matrix:
    """Cotangent Laplacian L = D - W, (N, N), positive semi-definite.

    W_ij = (cot a_ij + cot b_ij) / 2 over the angles opposite edge ij, D = diag(W 1). Rows sum
    to zero and x^T L x is the Dirichlet energy of the piecewise-linear x, so
    (L x)_i ~ -area_i * laplace(x)_i (note the sign). Degenerate triangles contribute nothing.
    """
    v = np.asarray(vertices, np.float64)
    tri = np.asarray(triangles)
    n = v.shape[0]
    half_cot = 0.5 * _corner_cotangents(v, tri).ravel()  # angle at corner k faces side (k+1, k+2)
    i, j = tri[:, [1, 2, 0]].ravel(), tri[:, [2, 0, 1]].ravel()
    w = sparse.csr_matrix(
        (np.r_[half_cot, half_cot], (np.r_[i, j], np.r_[j, i])), shape=(n, n)
    )
    return (sparse.diags(np.asarray(w.sum(axis=1)).ravel()) - w).tocsr()


def mass_matrix(vertices: FloatArray, triangles: IntArray) -> sparse.csr_matrix:
    """Barycentric lumped mass, (N, N) diagonal, mm^2: a third of each adjacent triangle's area."""
    tri = np.asarray(triangles)
    third = np.repeat(np.linalg.norm(_face_cross(vertices, tri), axis=-1) / 6.0, 3)
    n = np.asarray(vertices).shape[0]
    return sparse.diags(np.bincount(tri.ravel(), weights=third, minlength=n)).tocsr()


def edges_unique(triangles: IntArray) -> IntArray:
    """Undirected edges, (E, 2) int32, each as (low, high), sorted lexicographically."""
    return np.unique(np.sort(_sides(triangles), axis=1), axis=0).astype(np.int32)


def vertex_adjacency(triangles: IntArray, n: int) -> sparse.csr_matrix:
    """Symmetric (n, n) matrix with 1.0 per edge, so `adj @ x / adj.sum(1)` averages neighbours."""
    e = edges_unique(triangles)
    rows, cols = np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def boundary_loops(triangles: IntArray) -> list[IntArray]:
    """Closed boundary loops, longest first, each (K,) int32 vertex ids in walking order.

    A loop runs along its edges' direction in their triangle (so the surface lies to its left
    for counter-clockwise triangles), without repeating its first vertex. A vertex where several
    holes touch appears in each of them.
    """
    edges = _boundary_edges(triangles).tolist()  # (B, 2) directed
    at_vertex: dict[int, list[int]] = {}
    for e, (a, b) in enumerate(edges):
        at_vertex.setdefault(a, []).append(e)
        at_vertex.setdefault(b, []).append(e)
    used = [False] * len(edges)
    loops = [_walk(edges, at_vertex, used, e) for e in range(len(edges)) if not used[e]]
    return sorted(loops, key=len, reverse=True)


def _walk(
    edges: list[list[int]], at_vertex: dict[int, list[int]], used: list[bool], first: int
) -> IntArray:
    """Follow unused boundary edges from edge `first` until back at its start (or stuck)."""
    start, current = edges[first]
    used[first] = True
    loop = [start]
    while current != start:
        loop.append(current)
        following = next((e for e in at_vertex[current] if not used[e]), None)
        if following is None:  # non-manifold dead end: return the open chain
            break
        used[following] = True
        a, b = edges[following]
        current = b if a == current else a
    return np.array(loop, np.int32)


def _sides(triangles: IntArray) -> IntArray:
    """(3T, 2) directed sides (t0, t1), (t1, t2), (t2, t0) of every triangle."""
    tri = np.asarray(triangles)
    return np.stack([tri, np.roll(tri, -1, axis=1)], axis=-1).reshape(-1, 2)


def _boundary_edges(triangles: IntArray) -> IntArray:
    """(B, 2) sides that belong to exactly one triangle, directed as in that triangle."""
    sides = _sides(triangles)
    _, inverse, counts = np.unique(
        np.sort(sides, axis=1), axis=0, return_inverse=True, return_counts=True
    )
    return sides[counts[inverse.ravel()] == 1]


def _face_cross(vertices: FloatArray, triangles: IntArray) -> FloatArray:
    """(..., T, 3) float64 cross products (b - a) x (c - a); their length is twice the area."""
    v = np.asarray(vertices, np.float64)
    tri = np.asarray(triangles)
    a, b, c = (v[..., tri[:, k], :] for k in range(3))
    return np.cross(b - a, c - a)


def _corner_cotangents(v: FloatArray, tri: IntArray) -> FloatArray:
    """(T, 3) cotangent of the angle at each corner; 0 for degenerate triangles."""
    corners = v[tri]  # (T, 3, 3)
    e1 = np.roll(corners, -1, axis=1) - corners  # corner k -> k+1
    e2 = np.roll(corners, -2, axis=1) - corners  # corner k -> k+2
    dot = np.einsum("tkc,tkc->tk", e1, e2)
    cross = np.linalg.norm(np.cross(e1, e2), axis=-1)
    return np.divide(dot, cross, out=np.zeros_like(dot), where=cross > 2.0 * tol.zero_area)


def _incidence(triangles: IntArray, n: int) -> sparse.csr_matrix:
    """(n, T) vertex-triangle incidence, 1 where the vertex is a corner of the triangle."""
    tri = np.asarray(triangles)
    cols = np.repeat(np.arange(len(tri)), 3)
    return sparse.csr_matrix((np.ones(tri.size), (tri.ravel(), cols)), shape=(n, len(tri)))


def _sparse_apply(matrix: sparse.spmatrix, x: FloatArray) -> FloatArray:
    """Apply (M, K) `matrix` along axis -2 of x (..., K, C) -> (..., M, C)."""
    moved = np.moveaxis(x, -2, 0)  # (K, ..., C)
    out = matrix @ moved.reshape(moved.shape[0], -1)
    return np.moveaxis(out.reshape((matrix.shape[0],) + moved.shape[1:]), 0, -2)
