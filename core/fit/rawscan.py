"""Raw-looking scans with known ground truth, made from meshes in the template topology.

A template-topology mesh (the ground truth) is smoothed by two levels of Loop subdivision whose
control points are solved so that the surface passes through every ground-truth vertex; each of
its triangles is then split linearly finer than the target spacing (a triangle soup), and the
whole is re-meshed by vertex clustering on a randomly rotated grid whose cell size is searched so
the scan has about `density` vertices. Each scan vertex is the mean of the points in its cell, so
the topology and the vertex positions are new. Before the re-mesh, optional damage and clutter:
geodesic holes on the face, one side cropped by a plane near a cheek, shoulders, or a cap that
hides the top of the head. After it: noise along the normals, then a random similarity (units,
scale jitter, any rotation, translation) into the scan's frame.

CONVENTIONS: the model frame is the template's (mm, Y up, the face looks down +Z); row vectors.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import splu
from scipy.spatial.transform import Rotation

from ..errors import TopologyMismatchError
from ..mesh.align import SimilarityTransform
from ..mesh.geometry import boundary_loops, face_areas, vertex_normals
from ..mesh.io import write_obj, write_ply
from ..mesh.subdivide import loop_subdivide
from ..mesh.template import Template
from ..typed import BoolArray, Float32Array, FloatArray, IntArray

UNITS = {"mm": 1.0, "cm": 0.1, "m": 0.001}  # scan units per mm
EXTRAS = (None, "shoulders", "cap")
HOLE_REGIONS = ("cheeks", "forehead", "nose", "chin", "brows", "jaw")  # not the lips: thin
LOOP_LEVELS = 2  # smoothing of the ground truth (the default head: 3,260 -> 51k vertices)
CELL_FILL = 1.6  # occupied grid cells ~ CELL_FILL * area / cell^2 (first guess of the search)
DENSE_PER_CELL = 1.5  # before clustering, triangle sides are at most cell / DENSE_PER_CELL
MAX_SPLIT = 64  # a triangle splits into at most MAX_SPLIT^2 pieces
MAX_GRID = 2**27  # cells up to which a bounding-box occupancy array replaces np.unique
EXTRA_STEP_MM = 4.0  # grid step of the shoulders and brim before the split
CAP_GAP_MM = 6.0  # the cap's shell sits this far outside the head
CAP_ABOVE_BROWS_MM = 25.0  # the cap's rim, above the highest brow vertex
SHOULDER_RADII_MM = (175.0, 70.0, 110.0)  # half-axes (x, y, z) of the shoulder dome


@dataclass(frozen=True)
class RawScanSpec:
    """How to make a raw scan. Lengths in mm, angles in degrees."""

    density: int = 50_000  # target vertex count of the scan (within a few percent)
    noise_mm: float = 0.2  # std of the displacement along the vertex normals
    holes: int = 0  # geodesic discs cut out of the face
    hole_radius_mm: float = 8.0
    crop_side: bool = False  # drop one side of the head beyond a random plane near a cheek
    extras: str | None = None  # "shoulders" or "cap": geometry the fit must ignore
    units: str = "mm"  # "mm", "cm" or "m"
    rotation_deg: float = 180.0  # angle about a random axis, uniform in [0, rotation_deg]
    translation_mm: float = 300.0  # length of the random translation, uniform in [0, this]
    scale_jitter: float = 0.05  # scale uniform in 1 +- this (on top of the units)
    seed: int = 0

    def __post_init__(self):
        if self.units not in UNITS:
            raise ValueError(f"units must be one of {', '.join(UNITS)}, got {self.units!r}")
        if self.extras not in EXTRAS:
            raise ValueError(f"extras must be one of {EXTRAS}, got {self.extras!r}")
        if self.density < 500 or self.holes < 0 or self.noise_mm < 0 or not 0 <= self.scale_jitter < 1:
            raise ValueError(f"need density >= 500, holes >= 0, noise_mm >= 0 and 0 <= scale_jitter < 1; "
                             f"got {self.density}, {self.holes}, {self.noise_mm}, {self.scale_jitter}")


@dataclass(frozen=True, eq=False)
class RawScan:
    """A synthetic raw scan and its ground truth.

    Attributes
    ----------
    vertices : (P, 3) float32, in the scan's units and frame
    faces : (T, 3) int32, counter-clockwise seen from outside
    transform : model frame (mm) -> scan frame, so `transform.inverse()` maps results back
    truth : (N, 3) float32 mm, model frame: the template-topology mesh the scan was made from
    visible : (N,) bool, ground-truth vertices whose surface is in the scan (not cropped,
        holed or under the cap)
    extra : (P,) bool, scan vertices that belong to the shoulders or the cap
    hole_centres : (H, 3) float32 mm, model frame, on the ground-truth surface
    crop : (point (3,), unit normal (3,)) mm, model frame: the plane whose positive side was
        dropped, or None
    spec : what was asked for
    """

    vertices: Float32Array
    faces: IntArray
    transform: SimilarityTransform
    truth: Float32Array
    visible: BoolArray
    extra: BoolArray
    hole_centres: Float32Array
    crop: tuple[Float32Array, Float32Array] | None
    spec: RawScanSpec

    def to_model_frame(self, points: FloatArray) -> Float32Array:
        """(..., 3) scan-frame points -> model frame, mm."""
        return self.transform.inverse().apply(np.asarray(points, np.float32))


def make_raw_scan(vertices: FloatArray, template: Template, spec: RawScanSpec = RawScanSpec()) -> RawScan:
    """A raw-looking scan of `vertices` ((N, 3) mm, model frame, in `template`'s topology)."""
    truth = np.asarray(vertices, np.float32)
    if truth.shape != (template.n_vertices, 3):
        raise TopologyMismatchError(None, template.n_vertices, len(truth))
    rng = np.random.default_rng(spec.seed)
    head, head_faces = _smooth_surface(truth, template.triangles())
    extras, hidden = _extras(head, head_faces, truth, template, spec.extras)
    crop = _crop_plane(truth, template, rng) if spec.crop_side else None
    centres = _hole_centres(truth, template, ~hidden[:len(truth)], crop, spec.holes, rng)
    radius = spec.hole_radius_mm
    distance = np.minimum(_geodesic_distance(head, head_faces, centres, 2 * radius), 2 * radius)
    coarse, coarse_faces, extra = _join([(head, head_faces, ~hidden)] + extras)
    distance = np.concatenate([distance, np.full(len(coarse) - len(head), 2 * radius)])
    cell = math.sqrt(CELL_FILL * float(face_areas(coarse, coarse_faces).sum()) / spec.density)
    points, faces, source, bary = _split_triangles(coarse, coarse_faces, cell / DENSE_PER_CELL)
    drop = np.einsum("pk,pk->p", bary, distance[coarse_faces[source]]) < radius
    if crop is not None:
        drop |= (points - crop[0]) @ crop[1] > 0
    scan, scan_faces, where = _remesh(points, faces[~drop[faces].any(axis=1)], spec.density, cell, rng)
    scan = _add_noise(scan, scan_faces, spec.noise_mm, rng)
    transform = _pose(spec, rng)
    visible = ~hidden[:len(truth)] & (distance[:len(truth)] >= radius)
    if crop is not None:
        visible &= (truth - crop[0]) @ crop[1] <= 0
    kept = where >= 0
    return RawScan(
        vertices=transform.apply(scan).astype(np.float32), faces=scan_faces.astype(np.int32),
        transform=transform, truth=truth, visible=visible,
        extra=np.bincount(where[kept], extra[coarse_faces[source[kept], 0]], len(scan)) > 0,
        hole_centres=truth[centres].reshape(-1, 3),
        crop=None if crop is None else (crop[0].astype(np.float32), crop[1].astype(np.float32)), spec=spec,
    )


def write_raw_scan(path: str | Path, scan: RawScan) -> None:
    """Write the scan's mesh as .ply (binary) or .obj, atomically, in its own units and frame."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".ply", ".obj"):
        raise ValueError(f"write_raw_scan writes .ply or .obj, got '{path}'")
    (write_ply if suffix == ".ply" else write_obj)(path, scan.vertices, scan.faces)


def _smooth_surface(truth: FloatArray, triangles: IntArray) -> tuple[FloatArray, IntArray]:
    """Interpolating Loop subdivision (LOOP_LEVELS levels): (M, 3) float64 mm points whose first N
    are exactly `truth`, and (T', 3) int64 triangles. Control points solve upsample[:N] @ c = truth."""
    sub = loop_subdivide(truth, triangles, iterations=LOOP_LEVELS)
    control = splu(sub.upsample[:len(truth)].tocsc()).solve(np.asarray(truth, np.float64))
    return sub.upsample @ control, sub.triangles.astype(np.int64)


def _split_triangles(points: FloatArray, triangles: IntArray, edge: float
                     ) -> tuple[FloatArray, IntArray, IntArray, Float32Array]:
    """Split each triangle linearly into k^2, k = ceil(longest side / `edge`) (at most MAX_SPLIT).

    The result is a triangle soup (each triangle's points are its own; neighbours of another k
    meet in T-junctions, which vertex clustering closes): (M, 3) points, (T', 3) int64 triangles,
    (M,) source triangle and (M, 3) float32 barycentric weights of every point.
    """
    corners = points[triangles]
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=-1).max(axis=1)
    splits = np.clip(np.ceil(longest / edge), 1, MAX_SPLIT).astype(np.int64)
    out: list[tuple] = []
    offset = 0
    for k in np.unique(splits):
        ids = np.flatnonzero(splits == k)
        bary, local = _split_pattern(int(k))
        starts = offset + len(bary) * np.arange(len(ids))
        out.append((np.einsum("qk,tkc->tqc", bary, corners[ids]).reshape(-1, 3),
                    (local + starts[:, None, None]).reshape(-1, 3),
                    np.repeat(ids, len(bary)), np.tile(bary, (len(ids), 1))))
        offset += len(ids) * len(bary)
    return tuple(np.concatenate(column) for column in zip(*out))


@functools.lru_cache(maxsize=None)
def _split_pattern(k: int) -> tuple[Float32Array, IntArray]:
    """The k x k split of one triangle (a, b, c): (Q, 3) barycentric weights of its points and
    (k^2, 3) triangles over them, wound like (a, b, c)."""
    i, j = (x.ravel() for x in np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij"))
    inside = i + j <= k
    i, j = i[inside], j[inside]
    index = np.full((k + 2, k + 2), -1)
    index[i, j] = np.arange(len(i))
    up, down = i + j < k, i + j < k - 1
    faces = np.concatenate([
        np.stack([index[i, j], index[i + 1, j], index[i, j + 1]], 1)[up],
        np.stack([index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]], 1)[down],
    ])
    return np.stack([k - i - j, i, j], 1).astype(np.float32) / k, faces


def _extras(head: FloatArray, head_faces: IntArray, truth: FloatArray, template: Template, kind: str | None
            ) -> tuple[list[tuple[FloatArray, IntArray, BoolArray]], BoolArray]:
    """The extra parts of a scan, as [(points, triangles, keep)], and the head points they hide."""
    hidden = np.zeros(len(head), bool)
    if kind is None:
        return [], hidden
    if kind == "cap":
        (points, faces), hidden = _cap(head, head_faces, truth, template)
    else:
        points, faces = _shoulders(truth, template.triangles())
    return [(points, faces, np.ones(len(points), bool))], hidden


def _crop_plane(truth: FloatArray, template: Template, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """A plane through a point between the nose tip and one cheekbone, facing that side +- 20 deg."""
    side = str(rng.choice(["l", "r"]))
    names = ["nose_tip", f"cheekbone_{side}"]
    if any(n not in template.landmarks for n in names):
        raise ValueError(f"crop_side needs the landmarks {names} in the template")
    nose, cheek = (truth[template.landmarks[n]].astype(np.float64) for n in names)
    point = nose + rng.uniform(0.4, 1.0) * (cheek - nose)
    tilt = Rotation.from_rotvec(np.deg2rad(20.0) * rng.uniform(-1, 1, 3) / math.sqrt(3))
    return point, tilt.apply([math.copysign(1.0, cheek[0] - nose[0]), 0.0, 0.0])


def _hole_centres(truth: FloatArray, template: Template, usable: BoolArray, crop, count: int,
                  rng: np.random.Generator) -> IntArray:
    """(H,) vertex ids of hole centres: face-region vertices still in the scan."""
    if count == 0:
        return np.zeros(0, np.int64)
    ids = np.unique(np.concatenate([template.regions[r] for r in HOLE_REGIONS if r in template.regions]))
    ids = ids[usable[ids]]
    if crop is not None:
        ids = ids[(truth[ids] - crop[0]) @ crop[1] < 0]
    if len(ids) < count:
        raise ValueError(f"only {len(ids)} face vertices can host a hole, {count} holes asked for")
    return np.sort(rng.choice(ids, count, replace=False))


def _geodesic_distance(points: FloatArray, triangles: IntArray, sources: IntArray, limit: float) -> FloatArray:
    """(M,) shortest edge-path distance (mm) from the nearest source vertex; inf beyond `limit`.

    Only faces with a corner within `limit` (straight line) of a source can be on such a path.
    """
    if len(sources) == 0:
        return np.full(len(points), np.inf)
    near = np.zeros(len(points), bool)
    for source in points[sources]:
        near |= ((points - source) ** 2).sum(axis=1) < limit**2
    tri = triangles[near[triangles].any(axis=1)]
    sides = np.stack([tri, np.roll(tri, -1, axis=1)], axis=-1).reshape(-1, 2)
    length = np.linalg.norm(points[sides[:, 0]] - points[sides[:, 1]], axis=1)
    graph = sparse.csr_matrix((length, (sides[:, 0], sides[:, 1])), shape=(len(points),) * 2)
    return csgraph.dijkstra(graph, directed=False, indices=sources, limit=limit, min_only=True)


def _cap(points: FloatArray, triangles: IntArray, truth: FloatArray, template: Template
         ) -> tuple[tuple[FloatArray, IntArray], BoolArray]:
    """A cap: the head above a rim (CAP_ABOVE_BROWS_MM over the brows) offset CAP_GAP_MM outward,
    plus a brim reaching forward; returns ((points, triangles), the head points it hides)."""
    rim = truth[template.regions["brows"], 1].max() + CAP_ABOVE_BROWS_MM
    hidden = points[:, 1] > rim
    covered = triangles[hidden[triangles].all(axis=1)]
    ids = np.unique(covered)
    shell = points[ids] + CAP_GAP_MM * vertex_normals(points, triangles)[ids]
    remap = np.full(len(points), -1)
    remap[ids] = np.arange(len(ids))
    brim = _brim(truth[np.abs(truth[:, 1] - rim) < 5.0], rim)
    parts = [(shell, remap[covered]), brim]
    return _join([(p, f, np.ones(len(p), bool)) for p, f in parts])[:2], hidden


def _brim(ring: FloatArray, height: float) -> tuple[FloatArray, IntArray]:
    """A half-elliptic band around the front of the head's cross-section `ring` at `height` mm,
    60 mm deep at the front, drooping 10 mm."""
    centre = ring.mean(axis=0)
    inner = np.abs(ring[:, [0, 2]] - centre[[0, 2]]).max(axis=0) + CAP_GAP_MM
    n_phi, n_t = _steps(math.pi * inner.max()), _steps(60.0)
    phi, t = np.meshgrid(np.linspace(0, math.pi, n_phi), np.linspace(0, 1, n_t), indexing="ij")
    x = centre[0] + (inner[0] + 5 * t) * np.cos(phi)
    z = centre[2] + (inner[1] + 60 * t) * np.sin(phi)
    points = np.stack([x, height - 2 - 10 * t, z], axis=-1).reshape(-1, 3)
    return points, _grid_triangles(n_phi, n_t)


def _shoulders(truth: FloatArray, triangles: IntArray) -> tuple[FloatArray, IntArray]:
    """The top of a torso (an ellipsoid dome) under the neck, with a hole the neck passes through."""
    neck = truth[min(boundary_loops(triangles), key=lambda loop: truth[loop, 1].mean())]
    radii = np.array(SHOULDER_RADII_MM)
    centre = np.array([neck[:, 0].mean(), neck[:, 1].min() - 0.75 * radii[1], neck[:, 2].mean()])
    theta_max = math.radians(75.0)
    n_theta, n_phi = _steps(theta_max * radii.max()), _steps(2 * math.pi * radii.max() * math.sin(theta_max))
    theta, phi = np.meshgrid(np.linspace(0, theta_max, n_theta), np.linspace(0, 2 * math.pi, n_phi), indexing="ij")
    unit = np.stack([np.sin(theta) * np.cos(phi), np.cos(theta), np.sin(theta) * np.sin(phi)], axis=-1)
    points = (centre + radii * unit).reshape(-1, 3)
    faces = _grid_triangles(n_theta, n_phi)
    half_axes = np.ptp(neck[:, [0, 2]], axis=0) / 2 + 3.0
    inside = (((points[:, [0, 2]] - centre[[0, 2]]) / half_axes) ** 2).sum(axis=1) < 1
    return points, faces[~inside[faces].any(axis=1)]


def _steps(length: float) -> int:
    """Grid points along `length` mm at EXTRA_STEP_MM."""
    return max(2, math.ceil(length / EXTRA_STEP_MM) + 1)


def _grid_triangles(rows: int, cols: int) -> IntArray:
    """(2 (rows-1) (cols-1), 3) int64 triangles of a rows x cols grid of points in row-major order."""
    i, j = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    a = (i * cols + j).ravel()
    b, c, d = a + 1, a + cols + 1, a + cols
    return np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def _join(parts: list[tuple[FloatArray, IntArray, BoolArray]]) -> tuple[FloatArray, IntArray, BoolArray]:
    """Concatenate (points, triangles, keep) parts into one mesh without the faces touching a
    dropped point; the third output flags the points of every part but the first."""
    offsets = np.cumsum([0] + [len(p) for p, _, _ in parts])
    points = np.concatenate([p for p, _, _ in parts])
    keep = np.concatenate([k for _, _, k in parts])
    faces = np.concatenate([f + o for (_, f, _), o in zip(parts, offsets)])
    return points, faces[keep[faces].all(axis=1)], np.arange(len(points)) >= offsets[1]


def _remesh(points: FloatArray, triangles: IntArray, density: int, cell: float,
            rng: np.random.Generator) -> tuple[FloatArray, IntArray, IntArray]:
    """Vertex clustering on a randomly rotated and shifted grid, with about `density` output
    vertices; `cell` (mm) is the first guess of the cell size.

    Returns (V, 3) float64 cell means, (F, 3) int64 triangles without degenerate or repeated
    faces, and (M,) the output vertex of every input point (-1 for points left out).
    """
    used = np.zeros(len(points), bool)
    used[triangles] = True
    kept = points[used]
    grid = kept @ Rotation.random(random_state=rng).as_matrix().T, rng.uniform(0, 1, 3)
    triangles = (np.cumsum(used) - 1)[triangles]
    cell = _cell_size(triangles, density, cell, grid)
    keys, size = _cell_keys(cell, grid)
    cells = np.flatnonzero(_occupied(keys, size)) if size <= MAX_GRID else np.unique(keys)
    of_point = np.searchsorted(cells, keys)
    tri = of_point[triangles]
    tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 2] != tri[:, 0])]
    s, n = np.sort(tri, axis=1), len(cells)
    tri = tri[np.sort(np.unique((s[:, 0] * n + s[:, 1]) * n + s[:, 2], return_index=True)[1])]
    in_mesh = np.zeros(n, bool)
    in_mesh[tri] = True
    new_id = np.cumsum(in_mesh) - 1
    member = in_mesh[of_point]
    sums = np.stack([np.bincount(of_point[member], kept[member, k], n) for k in range(3)], axis=1)
    means = sums[in_mesh] / np.bincount(of_point[member], minlength=n)[in_mesh, None]
    where = np.full(len(points), -1)
    where[used] = np.where(member, new_id[of_point], -1)
    return means, new_id[tri], where


def _cell_size(triangles: IntArray, density: int, cell: float, grid: tuple[FloatArray, FloatArray]) -> float:
    """The cell size (mm) whose clustering keeps `density` vertices within 1%, from a first guess:
    secant steps on log(count) against log(cell) (the count falls about as cell^-2)."""
    slope, last = -2.0, None
    for _ in range(8):
        keys, size = _cell_keys(cell, grid)
        keys = keys[triangles]
        solid = keys[(keys[:, 0] != keys[:, 1]) & (keys[:, 1] != keys[:, 2]) & (keys[:, 2] != keys[:, 0])]
        count = int(_occupied(solid, size).sum()) if size <= MAX_GRID else len(np.unique(solid))
        if abs(count / density - 1) < 0.01:
            break
        if last is not None and last[0] != count:
            slope = float(np.clip(math.log(count / last[0]) / math.log(cell / last[1]), -3.0, -0.5))
        last = (count, cell)
        cell *= (density / count) ** (1 / slope)
    return cell


def _cell_keys(cell: float, grid: tuple[FloatArray, FloatArray]) -> tuple[IntArray, int]:
    """(M,) int64 cell id of each point of grid = ((M, 3) points in the grid's frame, mm; (3,)
    shift in cells), and the number of cells of the grid's bounding box."""
    q = np.floor(grid[0] / cell + grid[1]).astype(np.int64)
    q -= q.min(axis=0)
    dims = q.max(axis=0) + 1
    return (q[:, 0] * dims[1] + q[:, 1]) * dims[2] + q[:, 2], int(np.prod(dims))


def _occupied(keys: IntArray, size: int) -> BoolArray:
    """(size,) True at every key (faster than np.unique when the grid is small enough)."""
    occupied = np.zeros(size, bool)
    occupied[keys.ravel()] = True
    return occupied


def _add_noise(vertices: FloatArray, triangles: IntArray, std: float, rng: np.random.Generator) -> FloatArray:
    """Displace each vertex along its normal by N(0, std) mm."""
    normals = vertex_normals(vertices, triangles).astype(np.float64)
    return vertices + normals * rng.normal(0.0, std, (len(vertices), 1))


def _pose(spec: RawScanSpec, rng: np.random.Generator) -> SimilarityTransform:
    """Model frame (mm) -> scan frame: units x scale jitter, a random rotation, a translation."""
    axis = rng.normal(size=3)
    angle = rng.uniform(0.0, math.radians(spec.rotation_deg))
    rotation = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    scale = UNITS[spec.units] * rng.uniform(1 - spec.scale_jitter, 1 + spec.scale_jitter)
    direction = rng.normal(size=3)
    offset = direction / np.linalg.norm(direction) * rng.uniform(0.0, spec.translation_mm)
    return SimilarityTransform(rotation, offset * UNITS[spec.units], float(scale))
