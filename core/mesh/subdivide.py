"""Loop subdivision (Loop 1987, "Smooth Subdivision Surfaces Based on Triangles") as a sparse
matrix, with per-corner UVs split linearly.

Each step splits triangle t = (a, b, c) into rows 4t..4t+3 of the result:
(a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca), where ab is the new vertex on edge ab.
New vertices keep the old ones first (ids 0..N-1), then one per unique edge.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse

from ..typed import FloatArray, Float32Array, IntArray


class Subdivision(NamedTuple):
    """Result of `loop_subdivide`.

    vertices : (N', 3) float32, mm
    triangles : (T', 3) int32, T' = T * 4**iterations
    uvs : (U', 2) float32, or None
    tri_uvs : (T', 3) int32 per-corner index into `uvs`, or None
    upsample : (N', N) float64 csr_matrix with vertices = upsample @ old_vertices; it depends
        only on the topology, so it subdivides any (N, C) array in that topology, or a batch
        (B, N, 3) reshaped to (N, B * 3) after moving the vertex axis first.
    """

    vertices: Float32Array
    triangles: IntArray
    uvs: Float32Array | None
    tri_uvs: IntArray | None
    upsample: sparse.csr_matrix


def loop_subdivide(
    vertices: FloatArray,
    triangles: IntArray,
    uvs: FloatArray | None = None,
    tri_uvs: IntArray | None = None,
    iterations: int = 1,
) -> Subdivision:
    """Loop-subdivide a triangle mesh `iterations` times.

    Interior rules: edge point 3/8 (a + b) + 1/8 (c + d); vertex (1 - n beta) v + beta sum(nbrs),
    beta = (5/8 - (3/8 + cos(2 pi / n) / 4)^2) / n. Boundary rules (edges with one triangle;
    edges with more than two are treated the same way, as creases): edge midpoint; vertex
    3/4 v + 1/8 (b0 + b1) over its boundary neighbours. UVs are not smoothed: each UV edge gets
    its midpoint, so a seam edge (different UV pairs on its two sides) gets two.

    Parameters
    ----------
    vertices : (N, 3) float, mm
    triangles : (T, 3) int
    uvs, tri_uvs : (U, 2) float and (T, 3) int per-corner UV ids; both or neither
    iterations : number of 1-to-4 splits, >= 0
    """
    tri = np.asarray(triangles, np.int64)
    if tri.ndim != 2 or tri.shape[1] != 3:
        raise ValueError(f"`triangles` must be (T, 3), got shape {tri.shape}")
    if (uvs is None) != (tri_uvs is None):
        raise ValueError("loop_subdivide needs both `uvs` and `tri_uvs`, or neither")
    if tri_uvs is not None and np.shape(tri_uvs) != tri.shape:
        raise ValueError(f"`tri_uvs` {np.shape(tri_uvs)} must match `triangles` {tri.shape}")
    if iterations < 0:
        raise ValueError(f"`iterations` must be >= 0, got {iterations}")
    v = np.asarray(vertices, np.float64)
    upsample = sparse.identity(v.shape[0], format="csr")
    uv = None if uvs is None else np.asarray(uvs, np.float64)
    uv_tri = None if tri_uvs is None else np.asarray(tri_uvs, np.int64)
    for _ in range(iterations):
        edges, side_edge, children = _split(tri, upsample.shape[0])
        upsample = (_loop_matrix(tri, edges, side_edge, upsample.shape[0]) @ upsample).tocsr()
        tri = children
        if uv is not None:
            uv_edges, _, uv_tri = _split(uv_tri, len(uv))
            uv = np.concatenate([uv, uv[uv_edges].mean(axis=1)])
    return Subdivision(
        (upsample @ v).astype(np.float32), tri.astype(np.int32),
        None if uv is None else uv.astype(np.float32),
        None if uv_tri is None else uv_tri.astype(np.int32), upsample,
    )


def _split(tri: IntArray, n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Unique edges (E, 2), the edge id of each side k = (t_k, t_k+1) (T, 3), and the (4T, 3)
    children of the 1-to-4 split, where the new point on edge e gets id n + e."""
    sides = np.stack([tri, np.roll(tri, -1, axis=1)], axis=-1)  # (T, 3, 2)
    edges, inverse = np.unique(np.sort(sides, axis=-1).reshape(-1, 2), axis=0, return_inverse=True)
    side_edge = inverse.reshape(-1, 3)
    a, b, c = tri.T
    ab, bc, ca = (n + side_edge).T
    children = np.stack([
        np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1),
        np.stack([ca, bc, c], 1), np.stack([ab, bc, ca], 1),
    ], axis=1).reshape(-1, 3)
    return edges, side_edge, children


def _loop_matrix(tri: IntArray, edges: IntArray, side_edge: IntArray, n: int) -> sparse.csr_matrix:
    """(n + E, n) Loop weights: the n old vertices, then one point per edge."""
    interior = np.bincount(side_edge.ravel(), minlength=len(edges)) == 2
    adjacency = _symmetric(edges, n)
    boundary = _symmetric(edges[~interior], n)
    valence = np.asarray(adjacency.sum(axis=1)).ravel()
    n_boundary = np.asarray(boundary.sum(axis=1)).ravel()
    on_boundary = n_boundary > 0
    beta = np.divide(
        0.625 - (0.375 + 0.25 * np.cos(2.0 * np.pi / np.maximum(valence, 1))) ** 2, valence,
        out=np.zeros(n), where=(valence > 0) & ~on_boundary,
    )
    boundary_weight = np.divide(0.25, n_boundary, out=np.zeros(n), where=on_boundary)
    own = np.where(on_boundary, 0.75, 1.0 - valence * beta)
    old = (sparse.diags(beta) @ adjacency + sparse.diags(boundary_weight) @ boundary
           + sparse.diags(own))

    end = np.where(interior, 0.375, 0.5)
    ids = np.arange(len(edges))
    opposite = np.roll(tri, -2, axis=1).ravel()  # the vertex facing side k is t_k+2
    far = interior[side_edge.ravel()]
    rows = np.r_[ids, ids, side_edge.ravel()[far]]
    cols = np.r_[edges[:, 0], edges[:, 1], opposite[far]]
    weights = np.r_[end, end, np.full(far.sum(), 0.125)]
    new = sparse.csr_matrix((weights, (rows, cols)), shape=(len(edges), n))
    return sparse.vstack([old, new]).tocsr()


def _symmetric(edges: IntArray, n: int) -> sparse.csr_matrix:
    """(n, n) matrix with 1.0 at (i, j) and (j, i) for every edge."""
    rows, cols = np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
