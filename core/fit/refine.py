"""Non-rigid refinement: per-vertex offsets that let a model fit follow the scan closely.

With correspondences fixed, the offsets d (N, 3) of the vertices x minimize the sparse linear
least-squares energy

    N / W_m sum_v w_v [(n_v . (x_v + d_v - p_v))^2 + a |x_v + d_v - p_v|^2]     (vertices -> scan)
  + N / W_s sum_s w_s [(n_s . (B_s (x + d) - q_s))^2 + a |B_s (x + d) - q_s|^2]  (samples -> mesh)
  + lambda sum_v |(L d)_v|^2 + mu sum_v |d_v|^2

(B_s the barycentric row of sample s's closest model point, L the uniform Laplacian, a = 0.1,
W the weight totals), solved by preconditioned conjugate gradients. Only covered vertices
get a vertex term, so offsets in a scan's holes or missing side come from the smoothness and fade out through mu.
The correspondences are recomputed `iterations` times while lambda shrinks to `smoothness`.
"""
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import cg

from ..mesh.geometry import vertex_adjacency, vertex_normals
from ..typed import Float32Array, FloatArray, IntArray
from .correspond import SurfaceIndex, TemplateSurface, robust_weights

COMPATIBLE = 0.3  # cosine between the normals of matched points
POINT_WEIGHT = 0.1  # share of point-to-point distance added to point-to-plane


@dataclass(frozen=True)
class RefineOptions:
    """smoothness : final Laplacian weight lambda; iterations : correspondence updates; shrink :
    lambda's factor per iteration (it starts at smoothness / shrink**(iterations - 1));
    damping : mu; max_distance : mm, farther matches are ignored; trim : quantile of matches
    kept; sigma : mm, Geman-McClure scale of the match weights."""

    smoothness: float = 1.0
    iterations: int = 3
    shrink: float = 0.5
    damping: float = 1e-3
    max_distance: float = 10.0
    trim: float = 0.9
    sigma: float = 2.0


def refine_offsets(vertices: FloatArray, triangles: IntArray, scan: SurfaceIndex,
                   samples: FloatArray, sample_normals: FloatArray,
                   options: RefineOptions = RefineOptions()) -> Generator[float, None, Float32Array]:
    """Offsets (N, 3) float32 mm for the (N, 3) mm mesh `vertices` towards `scan`.

    scan : the scan in the same frame; samples, sample_normals : (S, 3) points on it and their
    unit normals. Yields the rmse (mm) of the vertex matches after each iteration.
    """
    x = np.asarray(vertices, np.float64)
    tri = np.asarray(triangles, np.int64)
    n = len(x)
    lap = _uniform_laplacian(tri, n)
    smooth = sparse.kron(lap.T @ lap, sparse.identity(3), format="csr")
    surface = TemplateSurface(tri)
    d = np.zeros_like(x)
    for i in range(options.iterations):
        stiffness = options.smoothness / options.shrink ** (options.iterations - 1 - i)
        rows, rhs, w = _vertex_rows(x + d, tri, scan, options)
        s_rows, s_rhs, s_w = _sample_rows(x + d, surface, tri, samples, sample_normals, options)
        data_m = _normal_equations(rows, rhs, w, n * _inverse_total(w))
        data_s = _normal_equations(s_rows, s_rhs, s_w, n * _inverse_total(s_w))
        regular = stiffness * smooth + options.damping * sparse.identity(3 * n)
        # the data rows are written in the refined positions y = x + d: solve for y
        d = _solve(data_m[0] + data_s[0] + regular, data_m[1] + data_s[1] + regular @ x.ravel(),
                   (x + d).ravel()).reshape(n, 3) - x
        yield _rmse(x + d, tri, scan, options)
    return d.astype(np.float32)


def vertex_residual(vertices: FloatArray, triangles: IntArray, scan: SurfaceIndex,
                    max_distance: float) -> Float32Array:
    """(N,) float32 distance (mm) of each vertex to the scan surface, NaN where the scan has no
    data near it: farther than `max_distance`, on the scan's open boundary, or facing away."""
    v = np.asarray(vertices, np.float64)
    near = scan.closest(v, k=3)
    normal, covered = scan_normals(scan, near)
    facing = np.einsum("ij,ij->i", vertex_normals(v, triangles), normal) > COMPATIBLE
    distance = near.distance.astype(np.float64)
    if scan.triangles is None:  # a point cloud: distance to the tangent plane of the nearest point
        distance = np.abs(np.einsum("ij,ij->i", v - near.points, normal))
    ok = covered & facing & (near.distance < max_distance)
    return np.where(ok, distance, np.nan).astype(np.float32)


def scan_normals(scan: SurfaceIndex, near) -> tuple[np.ndarray, np.ndarray]:
    """(Q, 3) scan normals at closest points `near` and (Q,) whether they lie inside the scan.

    On a mesh: the hit triangle's normal; a hit on a triangle touching the open boundary is not
    inside. On a point cloud: the nearest point's normal, always inside.
    """
    if scan.triangles is None:
        return scan.normals[near.triangle], np.ones(len(near.triangle), bool)
    corners = scan.triangles[near.triangle]
    return face_normals(scan.vertices, corners), ~scan.boundary[corners].any(axis=1)


def face_normals(vertices: FloatArray, triangles: IntArray) -> np.ndarray:
    """(T, 3) float64 unit normals of (T, 3) triangles of (N, 3) vertices (0 if degenerate)."""
    v = np.asarray(vertices, np.float64)
    a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
    cross = np.cross(b - a, c - a)
    norm = np.linalg.norm(cross, axis=1, keepdims=True)
    return np.divide(cross, norm, out=np.zeros_like(cross), where=norm > 0)


def _uniform_laplacian(triangles: IntArray, n: int) -> sparse.csr_matrix:
    """(n, n) L = I - D^-1 A: each vertex minus the mean of its neighbours."""
    adjacency = vertex_adjacency(triangles, n)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return (sparse.identity(n) - sparse.diags(1.0 / np.maximum(degree, 1)) @ adjacency).tocsr()


def _vertex_rows(v: FloatArray, tri: IntArray, scan: SurfaceIndex, o: RefineOptions):
    """Rows (R, 3N), targets (R,) and weights (R,) of the vertex -> scan matches, in the
    unknowns y = x + d (the refined positions)."""
    near = scan.closest(v, k=3)
    normal, covered = scan_normals(scan, near)
    keep = covered & (near.distance < o.max_distance) & \
        (np.einsum("ij,ij->i", vertex_normals(v, tri), normal) > COMPATIBLE)
    w = robust_weights(near.distance, keep, o.trim, o.sigma)
    ids = np.flatnonzero(w > 0)
    return _match_rows(ids[:, None], np.ones((len(ids), 1)), normal[ids],
                       near.points[ids].astype(np.float64), w[ids], len(v))


def _sample_rows(v: FloatArray, surface: TemplateSurface, tri: IntArray, samples: FloatArray,
                 sample_normals: FloatArray, o: RefineOptions):
    """Rows of the sample -> mesh matches: barycentric combinations of three vertices."""
    hit = surface.closest(v, samples)
    face_n = face_normals(v, tri[hit.triangle])
    keep = (hit.distance < o.max_distance) & \
        (np.einsum("ij,ij->i", face_n, sample_normals) > COMPATIBLE)
    w = robust_weights(hit.distance, keep, o.trim, o.sigma)
    ids = np.flatnonzero(w > 0)
    return _match_rows(tri[hit.triangle[ids]], hit.barycentric[ids].astype(np.float64),
                       face_n[ids], np.asarray(samples, np.float64)[ids], w[ids], len(v))


def _match_rows(corners: IntArray, bary: FloatArray, normal: FloatArray,
                target: FloatArray, weight: FloatArray, n: int):
    """Rows for (M, K) corner ids with (M, K) weights b: the point-to-plane row
    n . (sum_k b_k y_k) = n . p and three point-to-point rows (weighted POINT_WEIGHT)."""
    m, k = corners.shape
    r = np.arange(m)
    plane = sparse.csr_matrix(
        ((bary[:, :, None] * normal[:, None, :]).ravel(),
         (np.repeat(r, 3 * k), (3 * corners[:, :, None] + np.arange(3)).ravel())),
        shape=(m, 3 * n))
    rows = [plane] + [sparse.csr_matrix(
        (bary.ravel(), (np.repeat(r, k), (3 * corners + c).ravel())), shape=(m, 3 * n))
        for c in range(3)]
    rhs = [np.einsum("ij,ij->i", normal, target)] + [target[:, c] for c in range(3)]
    weights = [weight] + [POINT_WEIGHT * weight] * 3
    return sparse.vstack(rows).tocsr(), np.concatenate(rhs), np.concatenate(weights)


def _inverse_total(w: FloatArray) -> float:
    total = float(np.sum(w))
    return 1.0 / total if total > 0 else 0.0


def _normal_equations(rows: sparse.csr_matrix, rhs: FloatArray, weight: FloatArray,
                      scale: float) -> tuple[sparse.csr_matrix, FloatArray]:
    """(A^T W A, A^T W b) times `scale`."""
    weighted = rows.T @ sparse.diags(scale * weight)
    return (weighted @ rows).tocsr(), weighted @ rhs


def _solve(hessian: sparse.csr_matrix, rhs: FloatArray, start: FloatArray) -> FloatArray:
    """Solve the symmetric positive definite system by Jacobi-preconditioned conjugate gradients
    (~30x faster than a sparse LU here), from `start`, to 1e-9 relative residual."""
    jacobi = sparse.diags(1.0 / hessian.diagonal())
    y, _ = cg(hessian, rhs, x0=start, rtol=1e-9, maxiter=10 * len(rhs), M=jacobi)
    return y


def _rmse(v: FloatArray, tri: IntArray, scan: SurfaceIndex, o: RefineOptions) -> float:
    residual = vertex_residual(v, tri, scan, o.max_distance)
    ok = np.isfinite(residual)
    return float(np.sqrt(np.mean(residual[ok] ** 2))) if ok.any() else float("nan")
