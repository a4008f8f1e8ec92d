"""Start poses for automatic alignment, from the scan's nose and mirror symmetry and from its
principal axes.

- The nose tip is the most protruding point of a face: the points that stand out most from their
  neighbourhood (peaks, not ridges) are nose candidates.
- A face is nearly mirror-symmetric about a plane through the nose tip. Point pairs near a
  candidate vote for that plane; its normal (the model's X, either sign), the way the face looks
  there and the tip fix the pose. Being local, this ignores shoulders, a cap or hair. A cropped
  side can hide the plane, so the most protruding candidates are also tried at every roll.
- The 24 rotations between principal axes, with the centroids matched or the tops matched (a
  head on shoulders), cover the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from ..typed import FloatArray
from .icp import Pose, Surface

_PROPER_PERMUTATIONS = [m * np.linalg.det(m) for m in (  # the 24 axis-to-axis rotations
    np.eye(3)[list(perm)] * np.array(signs)[:, None]
    for perm in ([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0])
    for signs in ([1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]))]
_NOSE_CANDIDATES = 24  # most protruding points tried as the nose tip
_NOSE_RADIUS = 25.0  # mm, neighbourhood of the protrusion measure
_NOSE_SAMPLES = 4000
_RING_QUANTILE = 0.2  # of the ring's height differences (a ridge has ~40% level ones)
_FACING_RADIUS = 30.0  # mm, around the nose tip
_SWEPT_NOSES = 4  # the most protruding candidates are also tried at every roll in _ROLLS
_ROLLS = np.deg2rad(np.arange(0.0, 360.0, 45.0))
_FACE_RADIUS = 80.0  # mm, surface around a nose candidate that must be mirror-symmetric
_MIRROR_SAMPLES = 200  # points voting for the mirror plane (all pairs vote)
_MIN_PAIR_MM = 10.0  # closer pairs give noisy directions
_MIN_NORMAL_CHANGE = 0.2  # pairs with nearly equal normals give noisy directions
_VOTE_DEG = 8.0  # angular tolerance of a vote
_VOTE_MM = 4.0  # offset tolerance of a vote
_TIP_OFF_PLANE_MM = 15.0  # votes for planes farther from the nose tip are ignored
_MIN_VOTES, _MAX_VOTES = 10, 1000
_PLANES_TRIED = 5
_REFINE_ITERATIONS = 4


@dataclass(frozen=True, eq=False)
class Target:
    """The reference side (mm, model frame)."""

    surface: Surface
    face: FloatArray  # (F, 3) points the scan should cover
    face_normals: FloatArray  # (F, 3)
    core: int  # the first `core` rows of `face` (nose, eyes, mouth) must have scan data nearby
    judged: int  # the first `judged` rows (nose, eyes) must lie on it (expressions move the mouth)
    nose_count: int  # the first `nose_count` rows of `face` are the nose
    nose: FloatArray  # (3,) nose tip


def start_poses(source: Surface, unit: float, target: Target,
                rng: np.random.Generator) -> list[Pose]:
    """Start poses mapping `source` (scan units, `unit` mm per unit) to the target frame: 24
    rotations from principal axes, each with the centroids matched and with the tops matched;
    two (either sign of the mirror normal) per symmetric nose candidate; and for the most
    protruding candidates, every roll about the way the face looks."""
    centroid = source.points.mean(axis=0)
    centre = target.surface.points.mean(axis=0)
    poses = []
    for rotation in _principal_rotations(source.points, target.surface.points):
        poses.append(Pose(rotation, centre - unit * centroid @ rotation.T, unit))
        poses.append(_top_aligned(source, unit, rotation, target))
    goal = _frame(np.eye(3)[0], facing(target.surface, target.nose, 1.0))
    for rank, tip in enumerate(nose_candidates(source, unit, rng)):
        front = facing(source, tip, unit)
        plane = mirror_normal(source, tip, unit, rng)
        sides = [] if plane is None or abs(plane @ front) > 0.5 else [plane, -plane]
        if rank < _SWEPT_NOSES:  # a cropped side can hide the mirror plane: try every roll too
            side = np.cross(front, np.eye(3)[np.argmin(np.abs(front))])
            sides += [np.cos(a) * side + np.sin(a) * np.cross(front, side) for a in _ROLLS]
        for x in sides:
            rotation = goal @ _frame(x, front).T
            poses.append(Pose(rotation, target.nose - unit * tip @ rotation.T, unit))
    return poses


def _top_aligned(source: Surface, unit: float, rotation: FloatArray, target: Target) -> Pose:
    """The pose with `rotation` that puts the top of the scan (along the model's Y) on the top of
    the reference, and the centroid of the scan's top part (a reference's height) on the
    reference's centroid in X and Z: a head on shoulders."""
    moved = unit * source.points @ rotation.T  # mm, rotated
    ref = target.surface.points
    top = np.quantile(moved[:, 1], 0.995)
    head = moved[moved[:, 1] > top - np.ptp(ref[:, 1])]
    shift = ref.mean(axis=0) - head.mean(axis=0)
    shift[1] = ref[:, 1].max() - top
    return Pose(rotation, shift, unit)


def facing(surface: Surface, tip: FloatArray, unit: float) -> FloatArray:
    """Unit mean normal of the surface within `_FACING_RADIUS` of a nose tip: the way the face
    looks (`unit` mm per surface unit)."""
    near = surface.tree.query_ball_point(tip, _FACING_RADIUS / unit)
    mean = surface.normals[near].sum(axis=0)
    return mean / np.linalg.norm(mean)


def nose_candidates(source: Surface, unit: float, rng: np.random.Generator) -> FloatArray:
    """Nose-tip candidates, most protruding first: (K, 3) points, source units.

    The protrusion of a point is how far it stands out along its normal over its neighbourhood
    (see `_protrusion`); the `_NOSE_CANDIDATES` highest points at least `_NOSE_RADIUS` apart are
    kept (greedy non-maximum suppression).
    """
    radius = _NOSE_RADIUS / unit
    pick = rng.permutation(len(source.points))[:_NOSE_SAMPLES]
    x = source.points[pick]
    tree = cKDTree(x)
    pairs = tree.sparse_distance_matrix(tree, radius, output_type="coo_matrix").tocsr()
    height = _protrusion(x, source.normals[pick], pairs)
    suppressed = np.zeros(len(x), bool)
    chosen: list[int] = []
    for k in np.argsort(-height):
        if len(chosen) == _NOSE_CANDIDATES or height[k] <= 0:
            break
        if not suppressed[k]:
            chosen.append(int(k))
            suppressed[pairs.indices[pairs.indptr[k]:pairs.indptr[k + 1]]] = True
    return x[chosen]


def mirror_normal(source: Surface, tip: FloatArray, unit: float,
                  rng: np.random.Generator) -> FloatArray | None:
    """Unit normal (either sign) of the mirror plane of the surface within `_FACE_RADIUS` of a
    nose tip, or None if the surface there is not mirror-symmetric.

    Pairs of points that could be mirror images of each other (their difference is parallel to
    the difference of their normals, and the sum of their normals is perpendicular to it) vote
    for the plane through their midpoint with that difference as normal (Mitra et al. 2006,
    "Partial and approximate symmetry detection for 3D geometry"); planes far from the tip are
    ignored. The `_PLANES_TRIED` planes with most votes (within `_VOTE_DEG` and `_VOTE_MM`) are
    refined by iterated mirror matching, and the one that maps the surface best onto itself
    wins (on a sphere-like patch every plane through the centre gets votes).
    """
    near = np.asarray(source.tree.query_ball_point(tip, _FACE_RADIUS / unit), np.int64)
    pick = rng.permutation(near)[:_MIRROR_SAMPLES]
    x, n = source.points[pick], source.normals[pick]
    i, j = np.triu_indices(len(x), 1)
    d, e = x[i] - x[j], n[i] - n[j]
    d_len, e_len = np.linalg.norm(d, axis=1), np.linalg.norm(e, axis=1)
    ok = (d_len > _MIN_PAIR_MM / unit) & (e_len > _MIN_NORMAL_CHANGE)
    d, e, both = d[ok] / d_len[ok, None], e[ok] / e_len[ok, None], n[i[ok]] + n[j[ok]]
    offset = np.einsum("pc,pc->p", 0.5 * (x[i[ok]] + x[j[ok]]) - tip, d)  # plane to tip
    cos_vote = np.cos(np.deg2rad(_VOTE_DEG))
    vote = (np.abs(np.einsum("pc,pc->p", d, e)) > cos_vote) \
        & (np.abs(np.einsum("pc,pc->p", both, d)) < 0.2) & (np.abs(offset) < _TIP_OFF_PLANE_MM / unit)
    votes, offset = d[vote][:_MAX_VOTES], offset[vote][:_MAX_VOTES]  # pairs are in no useful order
    if len(votes) < _MIN_VOTES:
        return None
    cosine = votes @ votes.T
    members = (np.abs(cosine) > cos_vote) & (np.abs(offset[:, None] - np.sign(cosine) * offset[None])
                                             < _VOTE_MM / unit)
    best, best_cost, free = None, np.inf, np.ones(len(votes), bool)
    for _ in range(_PLANES_TRIED):  # the best-supported planes, checked by reflecting the patch
        if not free.any():
            break
        k = np.argmax((members & free).sum(axis=1))
        agree = members[k] & free
        free &= ~agree
        signs = np.sign(cosine[k, agree])[:, None]
        normal = (votes[agree] * signs).sum(axis=0)
        normal /= np.linalg.norm(normal)
        point = tip + np.mean(offset[agree] * signs[:, 0]) * normal
        normal, point = _refine_plane(source, x, normal, point, 2.0 * _VOTE_MM / unit)
        cost = _mirror_cost(source, x, n, normal, point, _VOTE_MM / unit)
        if cost < best_cost:
            best, best_cost = normal, cost
    return best


def _refine_plane(source: Surface, x: FloatArray, normal: FloatArray, point: FloatArray,
                  reach: float) -> tuple[FloatArray, FloatArray]:
    """A few rounds of: pair each point with the source point nearest its mirror image (within
    `reach`), refit the plane normal as the main direction of the pair differences and its point
    as their mean midpoint."""
    for _ in range(_REFINE_ITERATIONS):
        mirrored = x - 2.0 * ((x - point) @ normal)[:, None] * normal
        dist, idx = source.nearest(mirrored, reach)
        keep = np.isfinite(dist)
        if keep.sum() < _MIN_VOTES:
            break
        partner = source.points[idx[keep]]
        diff = x[keep] - partner
        _, vectors = np.linalg.eigh(diff.T @ diff)
        normal = vectors[:, -1] * np.sign(vectors[:, -1] @ normal)
        point = 0.5 * (x[keep] + partner).mean(axis=0)
    return normal, point


def _mirror_cost(source: Surface, x: FloatArray, n: FloatArray, normal: FloatArray,
                 point: FloatArray, cap: float) -> float:
    """Mean truncated squared point-to-plane distance from points `x` (normals `n`) mirrored in
    the plane (unit `normal` through `point`) to the source, in cap^2 units."""
    mirrored = x - 2.0 * ((x - point) @ normal)[:, None] * normal
    turned = n - 2.0 * (n @ normal)[:, None] * normal
    dist = source.plane_distance(mirrored, turned, 2.0 * cap)
    return float(np.mean(np.minimum(dist, cap) ** 2) / cap**2)


def _protrusion(x: FloatArray, normals: FloatArray, pairs: sparse.csr_matrix) -> FloatArray:
    """(P,) how far points `x` stand out over their ring of neighbours (`pairs`: (P, P) distances
    within a radius; the ring is the outer half), along the mean normal of the inner half: the
    `_RING_QUANTILE` quantile of the height differences, so a peak (a nose tip, a corner) scores
    high and a ridge (an edge, a rim) does not, as a ridge continues level on two sides."""
    coo = pairs.tocoo()
    ring = coo.data > 0.5 * coo.data.max(initial=0.0)
    inner_row, inner_col = coo.row[~ring], coo.col[~ring]
    smooth = normals + np.stack([np.bincount(inner_row, weights=normals[inner_col, k], minlength=len(x))
                                 for k in range(3)], axis=1)  # mean normal of the inner disc
    smooth /= np.linalg.norm(smooth, axis=1, keepdims=True)
    row, col = coo.row[ring], coo.col[ring]
    height = np.einsum("pc,pc->p", x[row] - x[col], smooth[row])
    order = np.lexsort((height, row))
    count = np.bincount(row, minlength=len(x))
    start = np.cumsum(count) - count
    at = np.minimum(start + (_RING_QUANTILE * np.maximum(count - 1, 0)).astype(np.int64),
                    max(len(order) - 1, 0))
    return np.where(count > 0, height[order][at] if len(order) else 0.0, -np.inf)


def _frame(x: FloatArray, y: FloatArray) -> FloatArray:
    """(3, 3) right-handed orthonormal columns: x, y made orthogonal to x, and x cross y."""
    x = x / np.linalg.norm(x)
    y = y - (y @ x) * x
    y = y / np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


def _principal_rotations(points: FloatArray, target_points: FloatArray) -> list[FloatArray]:
    """The 24 rotations taking the source's principal axes onto the target's, each axis to any
    axis with either sign."""
    source_axes = _principal_axes(points)
    target_axes = _principal_axes(target_points)
    return [target_axes @ m @ source_axes.T for m in _PROPER_PERMUTATIONS]


def _principal_axes(points: FloatArray) -> FloatArray:
    """(3, 3) right-handed principal axes as columns, largest variance first."""
    _, vectors = np.linalg.eigh(np.cov(np.asarray(points, np.float64).T))
    axes = vectors[:, ::-1]
    return axes * np.sign(np.linalg.det(axes))
