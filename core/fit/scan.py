"""Raw scans: any mesh or point cloud, cleaned and given consistent outward normals.

A Scan stays in the file's units and frame (rigid.py guesses both). Every step is vectorized so
scans of several million vertices prepare in seconds: NaN/inf vertices, duplicate vertices,
degenerate faces and tiny disconnected parts are dropped; faces are re-wound consistently over
each connected part (a spanning tree of the face graph) and turned to face away from the part's
centroid; point clouds get PCA normals of their nearest neighbours (Hoppe et al. 1992), made
consistent over a spanning tree of nearly parallel neighbours and oriented the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ..errors import ScanError
from ..mesh.io import read_mesh
from ..mesh.template import triangulate
from ..typed import BoolArray, Float32Array, FloatArray, IntArray

MIN_POINTS = 100  # fewer usable points than this cannot be fitted
MIN_PART_AREA = 0.01  # disconnected parts below this fraction of the total area are dropped
NEIGHBOURS = 12  # neighbourhood size of point-cloud normals
_PARALLEL = 0.9  # neighbours' normals must agree this well (|cosine|) to pass on a sign
_CHUNK = 131_072  # points per block when gathering neighbourhoods


@dataclass(frozen=True, eq=False)
class Scan:
    """A cleaned raw scan.

    Attributes
    ----------
    vertices : (P, 3) float32, in the file's units and frame (never rescaled here)
    faces : (T, 3) int32 triangles, or None for a point cloud
    normals : (P, 3) float32 unit vertex normals, pointing outward
    path : the file it came from, if any
    notes : what preparation did, in words a user can read
    """

    vertices: Float32Array
    faces: IntArray | None
    normals: Float32Array
    path: Path | None = None
    notes: tuple[str, ...] = ()


def load_scan(path: str | Path) -> Scan:
    """Read a mesh or point cloud (OBJ, PLY, STL, OFF, GLB) and prepare it.

    Raises MeshReadError for a missing, empty or damaged file and ScanError for an unusable scan.
    """
    mesh = read_mesh(path, allow_nonfinite=True)
    return prepare_scan(mesh.vertices, mesh.faces, Path(path))


def prepare_scan(vertices: FloatArray, faces: IntArray | None = None,
                 path: str | Path | None = None) -> Scan:
    """Clean a raw scan: (P, 3) vertices in any units, (T, 3) or -1 padded (F, 4) faces or None.

    Drops non-finite, duplicate and unused vertices, degenerate and repeated faces and parts under
    `MIN_PART_AREA` of the area; orients normals outward. Raises ScanError when fewer than
    `MIN_POINTS` usable points remain.
    """
    path = None if path is None else Path(path)
    v = np.asarray(vertices, np.float32)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ScanError(f"vertices must be (P, 3), got shape {v.shape}", path)
    tri = None if faces is None else _triangles(faces, len(v), path)
    notes: list[str] = []
    finite = np.isfinite(v).all(axis=1)
    _check_count(int(finite.sum()), path)
    if not finite.all():
        notes.append(f"dropped {np.count_nonzero(~finite)} vertices with NaN or infinite coordinates")
        v, tri = _keep_vertices(v, tri, finite)
    v, tri = _merge_duplicates(v, tri, notes)
    x = v.astype(np.float64)
    cross = None
    if tri is not None:
        x, tri, cross = _clean_faces(x, tri, notes)
    _check_count(len(x), path)
    if tri is None or cross is None:
        normals = _cloud_normals(x)
    else:
        tri, cross = _orient_faces(x, tri, cross, notes)
        normals = _vertex_normals(len(x), tri, cross)
    return Scan(x.astype(np.float32), tri, normals, path, tuple(notes))


def sample_surface(scan: Scan, count: int, seed: int = 0) -> tuple[Float32Array, Float32Array]:
    """Area-uniform samples of the surface: points (M, 3) float32 (scan units) and unit normals.

    Meshes give M = count (normals interpolated from the vertices); point clouds give a random
    subset of min(count, P) vertices.
    """
    rng = np.random.default_rng(seed)
    if scan.faces is None:
        pick = rng.choice(len(scan.vertices), min(count, len(scan.vertices)), replace=False)
        return scan.vertices[pick], scan.normals[pick]
    v = scan.vertices.astype(np.float64)
    corners = scan.faces
    area = np.linalg.norm(_face_cross(v, corners), axis=1)
    cumulative = np.cumsum(area)
    hit = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
    hit = np.minimum(hit, len(corners) - 1)
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    bary = np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1)  # uniform on each triangle
    ids = corners[hit]
    points = np.einsum("mk,mkc->mc", bary, v[ids])
    normals = np.einsum("mk,mkc->mc", bary, scan.normals[ids].astype(np.float64))
    return points.astype(np.float32), _unit(normals).astype(np.float32)


def _check_count(count: int, path: Path | None) -> None:
    if count < MIN_POINTS:
        raise ScanError(f"it has {count} usable (finite) points, fewer than the {MIN_POINTS} a fit "
                        "needs; check that the file holds the scan and re-export it", path)


def _triangles(faces: IntArray, n: int, path: Path | None) -> IntArray:
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] not in (3, 4):
        raise ScanError(f"faces must be (T, 3) triangles or (F, 4) -1 padded polygons, got shape "
                        f"{f.shape}", path)
    tri = triangulate(f)
    if tri.size and (tri.min() < 0 or tri.max() >= n):
        raise ScanError(f"faces reference vertices outside 0..{n - 1} (got {tri.min()}..{tri.max()});"
                        " the file is damaged", path)
    return tri


def _keep_vertices(v: FloatArray, tri: IntArray | None,
                   keep: BoolArray) -> tuple[FloatArray, IntArray | None]:
    """Drop vertices where `keep` is False and every face that uses one."""
    if tri is None:
        return v[keep], None
    new_id = np.cumsum(keep) - 1
    tri = tri[keep[tri].all(axis=1)]
    return v[keep], new_id[tri].astype(np.int32)


def _merge_duplicates(v: Float32Array, tri: IntArray | None,
                      notes: list[str]) -> tuple[Float32Array, IntArray | None]:
    """Merge vertices with bit-identical coordinates; the first occurrence survives."""
    bits = (v + np.float32(0.0)).view(np.uint32)  # + 0 turns -0.0 into 0.0
    order = np.lexsort(bits.T[::-1])
    sorted_bits = bits[order]
    new_group = np.r_[True, (sorted_bits[1:] != sorted_bits[:-1]).any(axis=1)]
    if new_group.all():
        return v, tri
    group = np.cumsum(new_group) - 1
    first = order[new_group]  # a stable sort keeps the lowest index first in each group
    keep = np.zeros(len(v), bool)
    keep[first] = True
    notes.append(f"merged {len(v) - len(first)} duplicate vertices")
    if tri is None:
        return v[keep], None
    survivor = np.empty(len(v), np.int64)
    survivor[order] = first[group]
    return v[keep], (np.cumsum(keep) - 1)[survivor[tri]].astype(np.int32)


def _clean_faces(x: FloatArray, tri: IntArray,
                 notes: list[str]) -> tuple[FloatArray, IntArray | None, FloatArray | None]:
    """Drop degenerate and repeated faces, small parts and unused vertices.

    Returns (vertices, faces or None when none is usable, (T, 3) face cross products or None).
    """
    cross = _face_cross(x, tri)
    twice_area = np.linalg.norm(cross, axis=1)
    extent = float(np.ptp(x, axis=0).max())
    low, mid, high = np.sort(tri, axis=1).T
    order = np.lexsort((high, mid, low))
    repeated = np.zeros(len(tri), bool)
    repeated[order[1:]] = (low[order[1:]] == low[order[:-1]]) & (mid[order[1:]] == mid[order[:-1]]) \
        & (high[order[1:]] == high[order[:-1]])
    bad = (twice_area <= 1e-12 * extent**2) | (low == mid) | (mid == high) | repeated
    if bad.any():
        notes.append(f"dropped {np.count_nonzero(bad)} degenerate or repeated faces")
        tri, cross, twice_area = tri[~bad], cross[~bad], twice_area[~bad]
    if len(tri) == 0:
        notes.append("no usable faces: treated as a point cloud")
        return x, None, None
    keep = _large_parts(len(x), tri, twice_area, notes)
    tri, cross = tri[keep], cross[keep]
    used = np.zeros(len(x), bool)
    used[tri] = True
    if not used.all():
        notes.append(f"dropped {np.count_nonzero(~used)} vertices not used by any face")
        x, tri = _keep_vertices(x, tri, used)
    return x, tri, cross


def _large_parts(n: int, tri: IntArray, twice_area: FloatArray, notes: list[str]) -> BoolArray:
    """(T,) mask of the faces in connected parts holding at least `MIN_PART_AREA` of the area."""
    rows = np.r_[tri[:, 0], tri[:, 1]]
    cols = np.r_[tri[:, 1], tri[:, 2]]
    graph = sparse.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    count, label = csgraph.connected_components(graph, directed=False)
    part = label[tri[:, 0]]
    area = np.bincount(part, weights=twice_area, minlength=count)
    large = area >= MIN_PART_AREA * area.sum()
    small = (area > 0) & ~large
    if small.any():
        share = 100.0 * area[small].sum() / area.sum()
        notes.append(f"dropped {np.count_nonzero(small)} small disconnected parts ({share:.2g}% of "
                     "the area)")
    if np.count_nonzero(large) > 1:
        notes.append(f"kept {np.count_nonzero(large)} disconnected parts")
    return large[part]


def _orient_faces(x: FloatArray, tri: IntArray, cross: FloatArray,
                  notes: list[str]) -> tuple[IntArray, FloatArray]:
    """Wind the faces of each edge-connected part consistently, then outward (away from the
    part's area-weighted centroid on average, i.e. positive volume for a closed part).

    Returns the re-wound (T, 3) int32 faces and their cross products.
    """
    sides = np.stack([tri, np.roll(tri, -1, axis=1)], axis=-1).reshape(-1, 2)  # (3T, 2)
    key = sides.min(axis=1).astype(np.int64) * len(x) + sides.max(axis=1)
    order = np.argsort(key)
    sorted_key = key[order]
    same = sorted_key[1:] == sorted_key[:-1]
    alone_before = np.r_[True, ~same[:-1]]
    alone_after = np.r_[~same[1:], True]
    pair = np.flatnonzero(same & alone_before & alone_after)  # edges shared by exactly two faces
    a, b = order[pair], order[pair + 1]
    flip = sides[a, 0] == sides[b, 0]  # same direction in both faces: inconsistent winding
    parity, part = _tree_parity(len(tri), a // 3, b // 3, flip)
    centre = (x[tri[:, 0]] + x[tri[:, 1]] + x[tri[:, 2]]) / 3.0
    centroid = _part_means(part, centre, np.linalg.norm(cross, axis=1))
    sign = np.where(parity, -1.0, 1.0)
    outward = np.bincount(part, weights=sign * np.einsum("tc,tc->t", cross, centre - centroid))
    turn = parity != (outward[part] < 0)
    if turn.any():
        notes.append(f"re-oriented {np.count_nonzero(turn)} faces so normals point outward")
    tri = np.where(turn[:, None], tri[:, [0, 2, 1]], tri).astype(np.int32)
    return tri, np.where(turn[:, None], -cross, cross)


def _vertex_normals(n: int, tri: IntArray, cross: FloatArray) -> Float32Array:
    """(n, 3) float32 area-weighted unit vertex normals from the faces' cross products."""
    summed = np.zeros((n, 3))
    for c in range(3):
        summed[:, c] = sum(np.bincount(tri[:, k], weights=cross[:, c], minlength=n) for k in range(3))
    return _unit(summed).astype(np.float32)


def _tree_parity(n: int, i: IntArray, j: IntArray, flip: BoolArray) -> tuple[BoolArray, IntArray]:
    """Signs that satisfy `flip` along a spanning forest of the graph with edges (i, j).

    Returns (parity (n,) bool: whether node k is flipped relative to its tree's root, and the
    (n,) connected-part label). Each part's root is tied to a virtual node n, the whole forest is
    walked breadth first, and the flips are summed up to the root by pointer jumping.
    """
    low, high = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
    _, first = np.unique(low * n + high, return_index=True)  # one copy of each edge (no sums)
    i, j, flip = low[first], high[first], flip[first]
    count, part = csgraph.connected_components(
        sparse.csr_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n)), directed=False)
    roots = np.unique(part, return_index=True)[1]
    code = np.where(flip, 2, 1).astype(np.int8)  # the edge's value in the tree says if it flips
    rows = np.r_[i, j, np.full(count, n)]
    cols = np.r_[j, i, roots]
    data = np.r_[code, code, np.ones(count, np.int8)]
    graph = sparse.csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
    tree = csgraph.breadth_first_tree(graph, n, directed=True).tocoo()
    up = np.arange(n + 1)
    parity = np.zeros(n + 1, bool)
    up[tree.col] = np.where(tree.row == n, tree.col, tree.row)  # roots point at themselves
    parity[tree.col] = tree.data == 2
    while np.any(up != up[up]):  # afterwards every `up` is a root and parity spans the path
        parity = parity ^ parity[up]
        up = up[up]
    return parity[:n], part


def _cloud_normals(v: FloatArray) -> Float32Array:
    """Unit normals of a point cloud: PCA of NEIGHBOURS nearest neighbours, made consistent
    breadth first over neighbour pairs whose normals are nearly parallel (so sharp creases do
    not propagate a wrong sign), each connected part pointing away from its centroid."""
    x = np.asarray(v, np.float64)
    k = min(NEIGHBOURS, len(x))
    _, nbr = cKDTree(x).query(x, k=k)
    normals = np.empty_like(x)
    for start in range(0, len(x), _CHUNK):
        block = x[nbr[start:start + _CHUNK]]  # (B, k, 3)
        centred = block - block.mean(axis=1, keepdims=True)
        _, vectors = np.linalg.eigh(np.einsum("bki,bkj->bij", centred, centred))
        normals[start:start + _CHUNK] = vectors[:, :, 0]  # smallest eigenvalue
    i = np.repeat(np.arange(len(x)), k - 1)
    j = nbr[:, 1:].ravel()
    cosine = np.einsum("ec,ec->e", normals[i], normals[j])
    reliable = np.abs(cosine) > _PARALLEL
    parity, part = _tree_parity(len(x), i[reliable], j[reliable], cosine[reliable] < 0)
    normals[parity] *= -1
    away = np.einsum("pc,pc->p", normals, _unit(x - _part_means(part, x, np.ones(len(x)))))
    normals[np.bincount(part, weights=away)[part] < 0] *= -1
    return normals.astype(np.float32)


def _part_means(part: IntArray, x: FloatArray, weight: FloatArray) -> FloatArray:
    """(P, 3): for each row, the `weight`-weighted mean of the rows of `x` in the same part."""
    total = np.bincount(part, weights=weight)
    sums = np.stack([np.bincount(part, weights=weight * x[:, k]) for k in range(3)], axis=1)
    return (sums / np.maximum(total, 1e-300)[:, None])[part]


def _face_cross(x: FloatArray, tri: IntArray) -> FloatArray:
    """(T, 3) float64 (b - a) x (c - a): the face normal times twice the area."""
    a = x[tri[:, 0]]
    e, f = x[tri[:, 1]] - a, x[tri[:, 2]] - a
    return np.stack([e[:, 1] * f[:, 2] - e[:, 2] * f[:, 1], e[:, 2] * f[:, 0] - e[:, 0] * f[:, 2],
                     e[:, 0] * f[:, 1] - e[:, 1] * f[:, 0]], axis=1)


def _unit(x: FloatArray) -> FloatArray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
