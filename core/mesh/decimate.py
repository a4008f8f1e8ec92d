"""Quadric-error edge-collapse decimation that keeps a subset of the original vertices.

Garland & Heckbert, "Surface simplification using quadric error metrics", SIGGRAPH 1997, with
the vertex placement restricted to one endpoint of the collapsed edge (as in CoMA's use of
qslim): every coarse vertex is an original vertex at its original position, so down-sampling
is a row selection.

CONVENTIONS: triangles are wound counter-clockwise seen from outside. The boundary is closed
by one virtual cone vertex (id N) whose faces are never output; the link condition
(Dey et al. 1999) on that closed complex then keeps the result manifold and never merges or
closes boundary loops. A boundary vertex is never moved onto an interior one, so coarse
boundaries are made of fine boundary vertices.
"""
from __future__ import annotations

import heapq
import math
from itertools import chain
from typing import NamedTuple

import numpy as np

from ..constants import tol
from ..typed import FloatArray, IntArray

# Boundary-plane quadrics relative to face quadrics (both scale as mm^2). Boundary vertices
# only ever collapse along the boundary anyway; this sets how much the boundary is coarsened
# relative to the interior (10: about 2x per 4x level on the head template, as a curve should).
BOUNDARY_WEIGHT = 10.0
# Weight of each vertex's distance to its own original position (times its area share): a
# tie-breaker where the quadric error is flat, so planar regions decimate evenly, not by id.
REGULARISER = 1e-3
# (min quality, min normal cosine) of the faces a collapse changes, see `_keeps_shape`: strict
# (no sliver worse than a 150-degree isosceles triangle, tilt < 60 degrees), then, only for the
# collapses still needed when none passes, just "not degenerate, not flipped".
SHAPE_LIMITS = ((0.3, 0.5), (0.0, 0.0))


class Decimation(NamedTuple):
    """Result of `decimate`.

    kept : (M,) int64, ascending ids of the original vertices that survive
    triangles : (T', 3) int32, coarse triangles indexing `kept`
    """

    kept: IntArray
    triangles: IntArray


def boundary_edges(triangles: IntArray) -> IntArray:
    """(B, 2) int64 directed edges (a, b) whose twin (b, a) belongs to no triangle.

    Raises ValueError when an edge is used twice in the same direction (non-manifold edge
    or inconsistent winding).
    """
    tri = np.asarray(triangles, dtype=np.int64)
    half = tri[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    key = half[:, 0] * (tri.max() + 1) + half[:, 1]
    unique, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        bad = half[np.isin(key, unique[counts > 1])][0]
        raise ValueError(
            f"triangles must form an oriented manifold: {int((counts > 1).sum())} directed "
            f"edges are used twice (e.g. {bad[0]}->{bad[1]}); fix the winding or split "
            "non-manifold edges before building a hierarchy."
        )
    twin = half[:, 1] * (tri.max() + 1) + half[:, 0]
    return half[~np.isin(twin, unique)]


def decimate(vertices: FloatArray, triangles: IntArray, factor: float = 4.0) -> Decimation:
    """Collapse edges by increasing quadric error until about N / `factor` vertices remain.

    Parameters
    ----------
    vertices : (N, 3) float, mm
    triangles : (T, 3) int, an oriented manifold, possibly with boundary
    factor : reduction ratio, > 1

    Returns
    -------
    Decimation
        Stops early (fewer collapses) only when no valid collapse is left.
    """
    if factor <= 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    verts = np.asarray(vertices, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    mesh = _Collapser(verts, tri)
    mesh.run(math.ceil(len(verts) / factor))
    return mesh.result()


def _quadrics(verts: FloatArray, tri: IntArray, boundary: IntArray) -> FloatArray:
    """(N, 4, 4) area-weighted face-plane, boundary-constraint and regulariser quadrics."""
    p0, p1, p2 = verts[tri[:, 0]], verts[tri[:, 1]], verts[tri[:, 2]]
    cross = np.cross(p1 - p0, p2 - p0)
    norm = np.linalg.norm(cross, axis=1, keepdims=True)
    unit = np.divide(cross, norm, out=np.zeros_like(cross), where=norm > 0)
    planes = np.hstack([unit, -(unit * p0).sum(1, keepdims=True)])  # (T, 4)
    quad = 0.5 * norm[:, :, None] * planes[:, :, None] * planes[:, None, :]  # (T, 4, 4)
    out = np.zeros((len(verts), 4, 4))
    for k in range(3):
        np.add.at(out, tri[:, k], quad)
    # Boundary: a plane through each boundary edge, perpendicular to its face.
    face_of = _face_of_edges(tri, boundary)
    a, b = verts[boundary[:, 0]], verts[boundary[:, 1]]
    side = np.cross(b - a, unit[face_of])
    side_norm = np.linalg.norm(side, axis=1, keepdims=True)
    side = np.divide(side, side_norm, out=np.zeros_like(side), where=side_norm > 0)
    planes = np.hstack([side, -(side * a).sum(1, keepdims=True)])
    weight = BOUNDARY_WEIGHT * ((b - a) ** 2).sum(1)
    quad = weight[:, None, None] * planes[:, :, None] * planes[:, None, :]
    np.add.at(out, boundary[:, 0], quad)
    np.add.at(out, boundary[:, 1], quad)
    # Regulariser: distance to the vertex's own position, weighted by its share of the area.
    weight = REGULARISER * np.bincount(tri.ravel(), np.repeat(norm[:, 0] / 6, 3), len(verts))
    out[:, :3, :3] += weight[:, None, None] * np.eye(3)
    out[:, :3, 3] -= weight[:, None] * verts
    out[:, 3, :3] -= weight[:, None] * verts
    out[:, 3, 3] += weight * (verts ** 2).sum(1)
    return out


def _vertex_normals(verts: FloatArray, tri: IntArray) -> FloatArray:
    """(N, 3) unit area-weighted vertex normals (zero for unreferenced vertices)."""
    p = verts[tri]  # (T, 3, 3)
    cross = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    out = np.zeros_like(verts)
    for k in range(3):
        np.add.at(out, tri[:, k], cross)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


def _face_of_edges(tri: IntArray, edges: IntArray) -> IntArray:
    """(B,) index of the triangle holding each directed edge."""
    half = tri[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    n = tri.max() + 1
    order = np.argsort(half[:, 0] * n + half[:, 1])
    pos = np.searchsorted(half[order, 0] * n + half[order, 1], edges[:, 0] * n + edges[:, 1])
    return order[pos] // 3


class _Collapser:
    """Mutable half-collapse state: faces as lists, vertex->face sets, quadrics, a lazy heap.

    Heap entries are (cost, u, v, version[u], version[v]) for "move u onto v"; a vertex's
    version changes whenever its quadric changes or it dies, which invalidates its entries.
    """

    def __init__(self, verts: FloatArray, tri: IntArray):
        n = len(verts)
        boundary = boundary_edges(tri)
        cone = np.column_stack([boundary[:, 1], boundary[:, 0], np.full(len(boundary), n)])
        self.n, self.n_real_faces = n, len(tri)
        self.points = [tuple(p) for p in verts.tolist()]
        self.rest_normals = [tuple(p) for p in _vertex_normals(verts, tri).tolist()]
        self.homog = np.hstack([verts, np.ones((n, 1))])
        self.quadrics = _quadrics(verts, tri, boundary)
        self.faces = np.vstack([tri, cone]).tolist()
        self.face_alive = [True] * len(self.faces)
        self.vertex_faces: list[set[int]] = [set() for _ in range(n + 1)]
        for f, face in enumerate(self.faces):
            for v in face:
                self.vertex_faces[v].add(f)
        self.alive = np.ones(n, dtype=bool)
        on_boundary = np.zeros(n, dtype=bool)
        on_boundary[boundary.ravel()] = True
        self.on_boundary = on_boundary.tolist()
        self.version = [0] * n
        self.heap: list[tuple[float, int, int, int, int]] = []
        self.limits = SHAPE_LIMITS[0]

    def run(self, target: int) -> None:
        """Collapse until `target` vertices remain or no valid collapse is left.

        Each pass rebuilds the heap, so edges rejected earlier are retried; when a pass
        collapses nothing, the next (looser) `SHAPE_LIMITS` apply.
        """
        n_alive = self.n
        for limits in SHAPE_LIMITS:
            self.limits, before = limits, -1
            while target < n_alive != before:
                before = n_alive
                self._push_all()
                while self.heap and n_alive > target:
                    _, u, v, ver_u, ver_v = heapq.heappop(self.heap)
                    fresh = ver_u == self.version[u] and ver_v == self.version[v]
                    if fresh and self._collapse(u, v):
                        n_alive -= 1

    def result(self) -> Decimation:
        kept = np.flatnonzero(self.alive)
        remap = np.full(self.n, -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        faces = np.array(self.faces[:self.n_real_faces], dtype=np.int64)
        tri = remap[faces[self.face_alive[:self.n_real_faces]]]
        return Decimation(kept.astype(np.int64), tri.astype(np.int32))

    def _push_all(self) -> None:
        """Rebuild the heap from every live edge (also retries edges rejected earlier)."""
        faces = np.array(self.faces, dtype=np.int64)[self.face_alive]
        half = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
        u, v = half[(half < self.n).all(1)].T  # both directions of every real edge
        on_boundary = np.array(self.on_boundary)
        allowed = ~on_boundary[u] | on_boundary[v]
        u, v = u[allowed], v[allowed]
        cost = np.einsum("ki,kij,kj->k", self.homog[v], self.quadrics[u] + self.quadrics[v],
                         self.homog[v])
        version = np.array(self.version)
        self.heap = list(zip(cost.tolist(), u.tolist(), v.tolist(), version[u].tolist(),
                             version[v].tolist()))
        heapq.heapify(self.heap)

    def _push_edges(self, v: int, ring: list[int]) -> None:
        """Push both collapse directions of the edges (v, w), w in `ring`."""
        both = self.quadrics[v] + self.quadrics[ring]  # (k, 4, 4)
        to_w = np.einsum("ki,kij,kj->k", self.homog[ring], both, self.homog[ring])
        to_v = np.einsum("i,kij,j->k", self.homog[v], both, self.homog[v])
        ver_v = self.version[v]
        for w, cost_vw, cost_wv in zip(ring, to_w.tolist(), to_v.tolist()):
            if self.on_boundary[w] or not self.on_boundary[v]:
                heapq.heappush(self.heap, (cost_vw, v, w, ver_v, self.version[w]))
            if self.on_boundary[v] or not self.on_boundary[w]:
                heapq.heappush(self.heap, (cost_wv, w, v, self.version[w], ver_v))

    def _ring(self, v: int) -> set[int]:
        ring = set(chain.from_iterable(self.faces[f] for f in self.vertex_faces[v]))
        ring.discard(v)
        return ring

    def _collapse(self, u: int, v: int) -> bool:
        """Move u onto v if the link condition holds and `_keeps_shape`; True when done."""
        shared = self.vertex_faces[u] & self.vertex_faces[v]
        if len(shared) != 2:
            return False
        opposite = set(chain.from_iterable(self.faces[f] for f in shared)) - {u, v}
        ring_u, ring_v = self._ring(u), self._ring(v)
        if ring_u & ring_v != opposite or len(ring_u | ring_v) == 4:  # 4: a tetrahedron
            return False
        moved = list(self.vertex_faces[u] - shared)
        if not self._keeps_shape(u, v, [f for f in moved if f < self.n_real_faces]):
            return False
        for f in shared:
            self.face_alive[f] = False
            for w in self.faces[f]:
                self.vertex_faces[w].discard(f)
        for f in moved:
            face = self.faces[f]
            face[face.index(u)] = v
            self.vertex_faces[v].add(f)
        self.vertex_faces[u].clear()
        self.alive[u] = False
        self.quadrics[v] += self.quadrics[u]
        self.version[u] += 1
        self.version[v] += 1
        self._push_edges(v, [w for w in self._ring(v) if w != self.n])
        return True

    def _keeps_shape(self, u: int, v: int, faces: list[int]) -> bool:
        """Whether moving u onto v keeps every face in `faces` well shaped and oriented.

        With `limits` = (min quality, min cosine), a face must stay non-degenerate, may not
        tilt to a cosine <= min cosine in one collapse, nor end up facing away from the input
        surface at its corners (tilts would otherwise accumulate), nor drop below min quality
        unless it already was and gets no worse. Quality is 4 sqrt(3) area / sum(edge^2):
        1 for equilateral, 0 for degenerate.
        """
        min_quality, min_cos = self.limits
        for f in faces:
            ids = self.faces[f]
            old, old_quality = _normal_quality([self.points[w] for w in ids])
            ids = [v if w == u else w for w in ids]
            new, new_quality = _normal_quality([self.points[w] for w in ids])
            surface = [sum(c) for c in zip(*(self.rest_normals[w] for w in ids))]
            if (new_quality <= 0 or new_quality < min(min_quality, old_quality)
                    or _dot(new, surface) <= 0
                    or _dot(old, new) <= min_cos * math.sqrt(_dot(old, old) * _dot(new, new))):
                return False
        return True


Point = tuple[float, float, float]


def _normal_quality(corners: list[Point]) -> tuple[Point, float]:
    """Unnormalised normal (length twice the area) and shape quality of a triangle.

    Plain floats: several times faster than numpy on a single triangle.
    """
    p, q, r = corners
    ax, ay, az = q[0] - p[0], q[1] - p[1], q[2] - p[2]
    bx, by, bz = r[0] - p[0], r[1] - p[1], r[2] - p[2]
    normal = (ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx)
    cx, cy, cz = bx - ax, by - ay, bz - az
    edges = ax * ax + ay * ay + az * az + bx * bx + by * by + bz * bz + cx * cx + cy * cy + cz * cz
    double_area = math.sqrt(_dot(normal, normal))
    if double_area <= 2 * tol.zero_area:
        return normal, 0.0
    return normal, 2 * math.sqrt(3) * double_area / edges


def _dot(a: Point, b: Point) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
