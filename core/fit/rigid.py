"""Rigid (similarity) alignment of a raw scan to the model frame: automatic and from landmarks.

CONVENTIONS: every transform maps SCAN coordinates (file units) to the MODEL frame (mm, Y up,
face looking down +Z), as `SimilarityTransform` (row vectors: p' = s * p @ R.T + t).

Automatic alignment: the units are guessed from the scan's size (mm, cm, inch or m; the two
closest guesses are both tried when they are close). Start poses come from the scan's principal
axes and from nose-tip candidates with the face's mirror plane (search.py). All starts run
trimmed point-to-plane ICP with scale (icp.py) against area-uniform samples of the reference,
weighted towards the rigid upper face and using only the scan parts the pose puts near the
reference (not shoulders), in rounds that keep fewer starts and use more samples, ranked by a
truncated two-way distance (reference face -> scan, and scan -> reference). The winner must put
the reference's nose, eyes and mouth on the scan, else ScanError asks for landmarks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..errors import ScanError
from ..mesh.align import SimilarityTransform, procrustes
from ..mesh.geometry import vertex_normals
from ..mesh.template import Template
from ..typed import FloatArray, IntArray
from .icp import Pose, Surface, icp
from .scan import Scan, sample_surface
from .search import Target, start_poses

UNITS = {"mm": 1.0, "cm": 10.0, "inch": 25.4, "m": 1000.0}  # mm per file unit
HEAD_SIZE_MM = 95.0  # median distance of a head scan's surface from its centroid
FACE_REGIONS = ("nose", "eyes", "mouth", "cheeks", "chin", "brows", "forehead")
CORE_REGIONS = ("nose", "eyes", "mouth")  # must be covered for the scan to pass as a face
# ICP weight of the reference's regions: the rigid upper face counts most; the scalp and ears
# vary between people and the mouth, chin and jaw move with the expression
REGION_WEIGHTS = {"forehead": 1.0, "nose": 1.0, "eyes": 1.0, "brows": 1.0, "cheeks": 0.5,
                  "mouth": 0.3, "chin": 0.3, "jaw": 0.3, "scalp": 0.2, "ears": 0.2, "neck": 0.1}
INLIER_MM = 5.0  # scan and reference closer than this overlap
FORWARD_WEIGHT = 0.5  # weight of scan -> reference against reference face -> scan in rankings
TRIM = 0.7  # fraction of compatible correspondences each ICP step keeps
SCALE_RANGE = (0.7, 1.4)  # allowed ICP scale relative to the units guess
_SAMPLES = 20_000  # area-uniform samples of the scan and of the reference
_POOL = 6  # samples looked at per sample kept near the reference
REACH_MM = 30.0  # scan parts farther than this outside the reference's box are ignored
# (scan samples, ICP iterations, reach in mm, starts kept) of each ICP round
_SCHEDULE = ((200, 6, 40.0, 8), (800, 8, 30.0, 2), (3000, 15, 20.0, 1))
FACE_REACH_MM = 25.0  # reference face vertices without scan data this close are not judged
FIT_MM = 6.0  # reference face vertices this close to the scan lie on it
_FACE_SEEN = 0.5  # min share of the core face with scan data nearby
_FACE_SHARE = 0.63  # min share of the nose and eyes (and of the nose) that lies on the scan


@dataclass(frozen=True)
class RigidFit:
    """A scan's pose in the model frame.

    transform : maps SCAN coordinates (file units) to the MODEL frame (mm)
    rmse : trimmed point-to-plane rms distance of scan samples to the reference, mm
    overlap : fraction of scan samples within INLIER_MM of the reference with agreeing normals
    unit_scale : mm per file unit of the guess the alignment started from (1, 10, 25.4 or 1000)
    """

    transform: SimilarityTransform
    rmse: float
    overlap: float
    unit_scale: float


def guess_unit_scale(scan: Scan) -> float:
    """mm per file unit (1 mm, 10 cm, 25.4 inch or 1000 m) that brings the scan closest, in log
    scale, to a head's size (HEAD_SIZE_MM, the median distance of the surface from its centroid).

    A face-only crop is smaller than a whole head (about 0.8x) and a bust larger (about 2x): both
    stay closest to the right unit except between cm and inch (2.54x apart), which auto_align
    settles by trying both."""
    points, _ = sample_surface(scan, 5000, 0)
    return _unit_candidates(_size(points))[0]


def auto_align(scan: Scan, reference: FloatArray, template: Template, *, seed: int = 0) -> RigidFit:
    """Find the similarity from the scan to the model frame without any user input.

    Parameters
    ----------
    scan : the prepared scan, any pose and units (mm, cm, inch or m)
    reference : (N, 3) float mm, a face in the template's topology and the model frame (e.g. the
        model's mean face)
    template : gives the triangles and the face regions of `reference`
    seed : sampling seed

    Raises ScanError when the best alignment does not put the reference's nose, eyes and mouth
    on the scan.
    """
    rng = np.random.default_rng(seed)
    target = _target(reference, template, seed)
    source = Surface.build(*sample_surface(scan, _SAMPLES, seed))
    units, poses = [], []
    for unit in _unit_candidates(_size(source.points)):
        starts = start_poses(source, unit, target, rng)
        units += [unit] * len(starts)
        poses += starts
    for count, iterations, reach, keep in _SCHEDULE:
        points, normals, valid = _near_reference(poses, source, target, count)
        poses = icp(points, normals, target.surface, poses, iterations, reach, TRIM,
                    [(u * SCALE_RANGE[0], u * SCALE_RANGE[1]) for u in units], valid)
        rows = rng.permutation(len(target.face))[:count]  # reference face points judged
        costs = [_two_way_cost(pose, p[v], n[v], target, source, rows)
                 for pose, p, n, v in zip(poses, points, normals, valid)]
        order = np.argsort(costs)[:keep]
        poses, units = [poses[k] for k in order], [units[k] for k in order]
    _check_face(poses[0], target, source)
    return _result(poses[0], source, target, units[0])


def align_from_landmarks(points: FloatArray, names: list[str], reference: FloatArray,
                         template: Template, *, scan: Scan | None = None,
                         seed: int = 0) -> RigidFit:
    """Similarity from 4 or more picked scan points to the reference's named landmarks.

    Parameters
    ----------
    points : (L, 3) float, picked on the scan (scan coordinates), L >= 4
    names : L names from `template.landmarks`, in the order of `points`
    reference, template : as in `auto_align`
    scan : when given, the Umeyama fit is refined by trimmed ICP against the scan's surface
        (then rmse and overlap are measured on the scan; else on the landmarks)

    Raises ScanError for fewer than 4 points, unknown or repeated names, or collinear picks.
    """
    picked = _checked_picks(points, names, template)
    goal = np.asarray(reference, np.float64)[template.landmark_ids(names)]
    start = procrustes(picked, goal, scale=True)
    unit = min(UNITS.values(), key=lambda u: abs(np.log(start.scale / u)))
    if scan is None:
        overlap = float(np.mean(np.linalg.norm(start.apply(picked) - goal, axis=1) < INLIER_MM))
        return RigidFit(start, float(start.rmse), overlap, unit)
    target = _target(reference, template, seed)
    source = Surface.build(*sample_surface(scan, _SAMPLES, seed))
    count, iterations, reach, _ = _SCHEDULE[-1]
    pose = Pose(start.rotation, start.translation, float(start.scale))
    points, normals, valid = _near_reference([pose], source, target, count)
    bounds = [(start.scale * SCALE_RANGE[0], start.scale * SCALE_RANGE[1])]
    pose = icp(points, normals, target.surface, [pose], iterations, reach, TRIM, bounds, valid)[0]
    return _result(pose, source, target, unit)


def _target(reference: FloatArray, template: Template, seed: int) -> Target:
    """Samples of the reference surface weighted by REGION_WEIGHTS, its face vertices (see
    _face_ids) and its nose tip."""
    v = np.asarray(reference, np.float32)
    if v.shape != template.vertices.shape:
        raise ValueError(f"`reference` must be ({template.n_vertices}, 3) in the template's "
                         f"topology, got shape {v.shape}")
    tri = template.triangles()
    normals = vertex_normals(v, tri)
    points, sample_normals = sample_surface(Scan(v, tri, normals), _SAMPLES, seed)
    vertex_weight = np.full(len(v), min(REGION_WEIGHTS.values()))
    for name, ids in template.regions.items():
        vertex_weight[ids] = REGION_WEIGHTS.get(name, vertex_weight[ids])
    weight = vertex_weight[cKDTree(v).query(points)[1]]
    surface = Surface.build(points, sample_normals, weight)
    face, core, judged, nose_count = _face_ids(template)
    tip = template.landmarks["nose_tip"]
    return Target(surface, v[face].astype(np.float64), normals[face].astype(np.float64), core,
                  judged, nose_count, v[tip].astype(np.float64))


def _face_ids(template: Template) -> tuple[IntArray, int, int, int]:
    """Vertex ids of FACE_REGIONS: nose first, then eyes, then the rest of CORE_REGIONS (mouth),
    then the others; and how many are core, how many are nose and eyes, how many are nose."""
    nose = np.unique(template.regions["nose"])
    eyes = np.setdiff1d(template.regions["eyes"], nose)
    core = np.setdiff1d(np.concatenate([template.regions[r] for r in CORE_REGIONS]), np.r_[nose, eyes])
    face = np.setdiff1d(np.concatenate([template.regions[r] for r in FACE_REGIONS]),
                        np.r_[nose, eyes, core])
    return np.r_[nose, eyes, core, face], len(nose) + len(eyes) + len(core), len(nose) + len(eyes), len(nose)


def _size(points: FloatArray) -> float:
    """Median distance of surface samples from their centroid (the units of `points`)."""
    return float(np.median(np.linalg.norm(points - points.mean(axis=0), axis=1)))


def _unit_candidates(size: float) -> list[float]:
    """Units sorted by how close they bring `size` to HEAD_SIZE_MM (log scale); the second is kept
    when it misses by less than a factor 2 more than the first."""
    miss = {u: abs(np.log(size * u / HEAD_SIZE_MM)) for u in UNITS.values()}
    ranked = sorted(miss, key=miss.get)
    return ranked[:2] if miss[ranked[1]] - miss[ranked[0]] < np.log(2.0) else ranked[:1]


def _near_reference(poses: list[Pose], source: Surface, target: Target,
                    count: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per pose, `count` scan samples that the pose puts inside the reference's bounding box
    grown by REACH_MM (so shoulders or a stand do not use up the samples): points and normals
    (K, count, 3) and a (K, count) mask, False where too few samples are inside."""
    pool = min(len(source.points), _POOL * count)
    low = target.surface.points.min(axis=0) - REACH_MM
    high = target.surface.points.max(axis=0) + REACH_MM
    moved = np.stack([pose.apply(source.points[:pool]) for pose in poses])  # (K, pool, 3)
    inside = ((moved >= low) & (moved <= high)).all(axis=2)
    pick = np.argsort(~inside, axis=1, kind="stable")[:, :count]  # inside first, in sample order
    valid = np.take_along_axis(inside, pick, axis=1)
    return source.points[pick], source.normals[pick], valid


def _two_way_cost(pose: Pose, points: FloatArray, normals: FloatArray, target: Target,
                  source: Surface, rows: IntArray) -> float:
    """Truncated squared distance from the reference face (its `rows`) to the scan plus
    FORWARD_WEIGHT times that from the scan to the reference, in INLIER_MM^2 units (0 perfect,
    1 + FORWARD_WEIGHT nothing matches). The scan -> reference part counts less: extra geometry
    (shoulders, a cap) can cover most of the scan."""
    forward = target.surface.plane_distance(pose.apply(points), normals @ pose.rotation.T,
                                            2.0 * INLIER_MM)
    reverse = _face_distance(pose, target, source, rows)
    forward_cost = np.mean(np.minimum(forward, INLIER_MM) ** 2) if len(forward) else INLIER_MM**2
    return float(FORWARD_WEIGHT * forward_cost + np.mean(np.minimum(reverse, INLIER_MM) ** 2)) \
        / INLIER_MM**2


def _face_distance(pose: Pose, target: Target, source: Surface, rows: IntArray) -> FloatArray:
    """(R,) mm point-to-plane distance of reference face vertices `rows` to the scan samples,
    inf where the scan has no sample nearby (a hole or a cropped side)."""
    local = (target.face[rows] - pose.translation) @ pose.rotation / pose.scale  # scan units
    turned = target.face_normals[rows] @ pose.rotation
    return source.plane_distance(local, turned, 2.0 * INLIER_MM / pose.scale) * pose.scale


def _check_face(pose: Pose, target: Target, source: Surface) -> None:
    """Raise ScanError unless the reference's nose and eyes lie on the aligned scan.

    Of the reference vertices of the nose and eyes that have scan samples within FACE_REACH_MM
    (the rest fall in holes or a cropped side), the share closer than FIT_MM to the scan's
    tangent plane is taken over both regions and over the nose alone; their mean must reach
    _FACE_SHARE. The mouth is left out (a grin or a mouth stretch moves it far from the mean
    face). On 60 10k raw scans of 3 held-out people x 20 expressions the mean was 0.72-0.95; a
    sphere, box, plane, cylinder or capsule reached 0.54 at most (the nose sticks out of them).
    Nose, eyes and mouth must also have scan data nearby (_FACE_SEEN)."""
    local = (target.face - pose.translation) @ pose.rotation / pose.scale  # scan units
    turned = target.face_normals @ pose.rotation
    reach = FACE_REACH_MM / pose.scale
    distance = source.plane_distance(local, turned, reach) * pose.scale
    near = np.isfinite(source.nearest(local, reach)[0])
    fits = near & (distance < FIT_MM)
    judged, nose = slice(0, target.judged), slice(0, target.nose_count)
    share = 0.5 * (fits[judged].sum() / max(near[judged].sum(), 1) + fits[nose].sum() / max(near[nose].sum(), 1))
    seen = near[:target.core].mean()
    if seen < _FACE_SEEN or share < _FACE_SHARE:
        raise ScanError(
            f"the scan does not look like a face: after the best automatic alignment "
            f"{100 * seen:.0f}% of the model's nose, eyes and mouth have scan data nearby and "
            f"{100 * share:.0f}% of its nose and eyes lie on it (a face gives about 70% or more); "
            "pick 4 or more landmarks by hand")


def _result(pose: Pose, source: Surface, target: Target, unit: float) -> RigidFit:
    count = _SCHEDULE[-1][0]
    points, normals = source.points[:count], source.normals[:count]
    distance = target.surface.plane_distance(pose.apply(points), normals @ pose.rotation.T,
                                             2.0 * INLIER_MM)
    finite = np.sort(distance[np.isfinite(distance)])
    kept = finite[: max(int(TRIM * len(finite)), 1)]
    rmse = float(np.sqrt(np.mean(kept**2))) if len(kept) else float("inf")
    return RigidFit(pose.similarity(), rmse, float(np.mean(distance < INLIER_MM)), unit)


def _checked_picks(points: FloatArray, names: list[str], template: Template) -> FloatArray:
    """(L, 3) float64 picks after checking count, names and spread."""
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) != len(names):
        raise ScanError(f"landmark points must be (L, 3) with one name each, got shape {p.shape} "
                        f"and {len(names)} names")
    if len(p) < 4:
        raise ScanError(f"{len(p)} landmarks were picked; pick at least 4 (e.g. nose_tip, "
                        "eye_outer_corner_l, eye_outer_corner_r, chin_front)")
    unknown = [n for n in names if n not in template.landmarks]
    if unknown:
        raise ScanError(f"unknown landmark names {unknown}; choose from {sorted(template.landmarks)}")
    if len(set(names)) != len(names):
        raise ScanError(f"each landmark may be picked once, got {names}")
    if not np.isfinite(p).all():
        raise ScanError("landmark points must be finite numbers")
    spread = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
    if spread[1] <= 0.02 * spread[0]:
        raise ScanError("the picked landmarks lie on one line (or one point), which cannot fix the "
                        "rotation; pick points spread over the face, e.g. both eyes, nose and chin")
    return p
