from collections import defaultdict

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from faceforge.core.mesh.geometry import edges_unique
from faceforge.core.mesh.subdivide import loop_subdivide


def uv_sphere(n_lon=8, n_lat=5, radius=50.0):
    """A latitude-longitude sphere whose UVs have a seam at u = 0 | 1 (and per-corner poles)."""
    polar = np.pi * np.arange(1, n_lat) / n_lat
    azimuth = 2 * np.pi * np.arange(n_lon) / n_lon
    ring = np.stack([
        np.outer(np.sin(polar), np.cos(azimuth)), np.outer(np.cos(polar), np.ones(n_lon)),
        np.outer(np.sin(polar), -np.sin(azimuth)),
    ], -1).reshape(-1, 3)
    v = radius * np.vstack([[0, 1, 0], ring, [0, -1, 0]])

    def vid(i, j):
        return 0 if i == 0 else len(v) - 1 if i == n_lat else 1 + (i - 1) * n_lon + j % n_lon

    u, w = np.meshgrid(np.arange(n_lon + 1) / n_lon, 1 - np.arange(n_lat + 1) / n_lat)
    uvs = np.stack([u, w], -1).reshape(-1, 2)
    tris, tri_uvs = [], []
    for i in range(n_lat):
        for j in range(n_lon):
            corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            for a, b, c in ((0, 1, 2), (0, 2, 3)):
                t = [vid(*corners[k]) for k in (a, b, c)]
                if len(set(t)) == 3:
                    tris.append(t)
                    tri_uvs.append([corners[k][0] * (n_lon + 1) + corners[k][1] for k in (a, b, c)])
    return v, np.array(tris), uvs, np.array(tri_uvs)


def open_grid(n=5, hole=True, jitter=0.2, bump=0.3):
    """A jittered bumpy grid, by default with a square hole: boundaries outside and inside."""
    rng = np.random.default_rng(4)
    x, y = np.meshgrid(np.arange(n + 1.0), np.arange(n + 1.0))
    v = np.stack([x, y, bump * np.sin(x) * np.cos(y)], -1).reshape(-1, 3)
    v[:, :2] += rng.uniform(-jitter, jitter, (len(v), 2))
    ids = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    tris = []
    for j in range(n):
        for i in range(n):
            if hole and (j, i) == (2, 2):
                continue
            a, b, c, d = ids[j, i], ids[j, i + 1], ids[j + 1, i + 1], ids[j + 1, i]
            tris += [[a, b, d], [b, c, d]] if (i + j) % 2 else [[a, b, c], [a, c, d]]
    return v, np.array(tris)


def naive_loop(v, tris):
    """Loop 1987 one vertex and one edge at a time; returns {vertex or edge: position}."""
    opposite = defaultdict(list)
    for t in tris:
        for k in range(3):
            opposite[frozenset((t[k], t[(k + 1) % 3]))].append(t[(k + 2) % 3])
    nbrs, boundary_nbrs = defaultdict(set), defaultdict(set)
    for edge, opp in opposite.items():
        a, b = edge
        nbrs[a].add(b), nbrs[b].add(a)
        if len(opp) == 1:
            boundary_nbrs[a].add(b), boundary_nbrs[b].add(a)
    out = {}
    for i in range(len(v)):
        if boundary_nbrs[i]:
            out[i] = 0.75 * v[i] + 0.125 * sum(v[j] for j in boundary_nbrs[i])
        else:
            n = len(nbrs[i])
            beta = (5 / 8 - (3 / 8 + np.cos(2 * np.pi / n) / 4) ** 2) / n
            out[i] = (1 - n * beta) * v[i] + beta * sum(v[j] for j in nbrs[i])
    for edge, opp in opposite.items():
        a, b = edge
        far = sum(v[o] for o in opp) / 8 if len(opp) == 2 else 0
        out[edge] = (0.375 if len(opp) == 2 else 0.5) * (v[a] + v[b]) + far
    return out


def euler(n_vertices, tris):
    return n_vertices - len(edges_unique(tris)) + len(tris)


def test_uv_sphere_fixture_is_closed():
    v, tris, _, _ = uv_sphere()
    assert trimesh.Trimesh(v, tris, process=False).is_watertight


@pytest.mark.parametrize("iterations", [1, 2])
def test_matches_trimesh_on_closed_mesh(iterations):
    sphere = trimesh.creation.icosphere(1, radius=60.0)
    ours = loop_subdivide(sphere.vertices, sphere.faces, iterations=iterations)
    theirs, their_faces = trimesh.remesh.subdivide_loop(sphere.vertices, sphere.faces, iterations)
    assert ours.vertices.shape == theirs.shape and ours.triangles.shape == their_faces.shape
    assert cKDTree(theirs).query(ours.vertices)[0].max() < 1e-4
    assert cKDTree(ours.vertices).query(theirs)[0].max() < 1e-4


def test_open_mesh_matches_naive_reference():
    v, tris = open_grid()
    ours = loop_subdivide(v, tris)
    expected = naive_loop(v, tris)
    even = [expected[i] for i in range(len(v))]
    np.testing.assert_allclose(ours.vertices[: len(v)], even, atol=1e-6)
    for t, (ab, bc, ca) in zip(tris, ours.triangles[3::4]):
        a, b, c = t
        for new, edge in ((ab, (a, b)), (bc, (b, c)), (ca, (c, a))):
            np.testing.assert_allclose(ours.vertices[new], expected[frozenset(edge)], atol=1e-6)


def test_flat_straight_boundary_stays_put():
    v, tris = open_grid(hole=False, jitter=0, bump=0)
    assert np.abs(loop_subdivide(v, tris, iterations=2).vertices[:, 2]).max() == 0
    new = loop_subdivide(v, tris).vertices
    on_edge = (v[:, 0] % 5 == 0) | (v[:, 1] % 5 == 0)
    corner = (v[:, 0] % 5 == 0) & (v[:, 1] % 5 == 0)
    # the 1/8 - 3/4 - 1/8 rule keeps evenly spaced straight-boundary vertices in place...
    np.testing.assert_allclose(new[: len(v)][on_edge & ~corner], v[on_edge & ~corner], atol=1e-6)
    # ...and cuts corners; the 20 boundary edge points are midpoints, so they stay on the square
    on_square = (np.abs(new[:, :2] - 2.5) > 2.5 - 1e-6).any(axis=1)
    assert on_square.sum() == 16 + 20
    assert on_square[len(v):].sum() == 20


@pytest.mark.parametrize("iterations", [0, 1, 2, 3])
def test_topology_counts(iterations):
    v, tris, _, _ = uv_sphere()
    out = loop_subdivide(v, tris, iterations=iterations)
    assert len(out.triangles) == len(tris) * 4**iterations
    assert euler(len(out.vertices), out.triangles) == euler(len(v), tris) == 2
    g, t = open_grid()
    out = loop_subdivide(g, t, iterations=iterations)
    assert euler(len(out.vertices), out.triangles) == euler(len(g), t) == 0  # a disk with a hole


def test_zero_iterations_is_identity():
    v, tris, uvs, tri_uvs = uv_sphere()
    out = loop_subdivide(v, tris, uvs, tri_uvs, iterations=0)
    np.testing.assert_array_equal(out.vertices, v.astype(np.float32))
    np.testing.assert_array_equal(out.triangles, tris)
    np.testing.assert_array_equal(out.upsample.toarray(), np.eye(len(v)))


def test_upsample_matrix_subdivides_a_batch():
    v, tris = open_grid()
    out = loop_subdivide(v, tris, iterations=2)
    assert out.upsample.shape == (len(out.vertices), len(v))
    np.testing.assert_allclose(np.asarray(out.upsample.sum(axis=1)).ravel(), 1, atol=1e-12)
    assert out.upsample.data.min() > 0
    batch = np.stack([v, 2 * v + 1, v[:, ::-1]])  # (B, N, 3)
    stacked = out.upsample @ batch.transpose(1, 0, 2).reshape(len(v), -1)
    stacked = stacked.reshape(-1, 3, 3).transpose(1, 0, 2)
    for one, many in zip(batch, stacked):
        single = loop_subdivide(one, tris, iterations=2).vertices
        np.testing.assert_allclose(many, single, atol=1e-4)


def test_affine_invariance():
    v, tris = open_grid()
    a = np.array([[0.8, -0.6, 0.1], [0.6, 0.8, 0.2], [0.0, 0.3, 1.5]])
    shift = np.array([10.0, -20.0, 5.0])
    moved = loop_subdivide(v @ a.T + shift, tris, iterations=2).vertices
    then_moved = loop_subdivide(v, tris, iterations=2).vertices @ a.T + shift
    np.testing.assert_allclose(moved, then_moved, atol=1e-4)


def test_converges_toward_smooth_surface():
    box = trimesh.creation.box(extents=[40.0, 40.0, 40.0])
    creases = []
    for k in range(4):
        out = loop_subdivide(box.vertices, box.faces, iterations=k)
        mesh = trimesh.Trimesh(out.vertices, out.triangles, process=False)
        creases.append(mesh.face_adjacency_angles.max())
    assert all(later < earlier for earlier, later in zip(creases, creases[1:]))
    assert creases[-1] < 0.25 * creases[0]


def test_uvs_are_split_linearly_with_seams():
    v, tris, uvs, tri_uvs = uv_sphere()
    out = loop_subdivide(v, tris, uvs, tri_uvs, iterations=1)
    assert out.uvs.dtype == np.float32 and out.tri_uvs.shape == out.triangles.shape
    np.testing.assert_allclose(out.vertices, loop_subdivide(v, tris).vertices)

    parent = uvs[tri_uvs]  # (T, 3, 2): corners a, b, c
    a, b, c = parent[:, 0], parent[:, 1], parent[:, 2]
    ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
    expected = np.stack([
        np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1),
        np.stack([ca, bc, c], 1), np.stack([ab, bc, ca], 1),
    ], 1).reshape(-1, 3, 2)
    np.testing.assert_allclose(out.uvs[out.tri_uvs], expected, atol=1e-7)

    uv_edges = {tuple(sorted(e)) for t in tri_uvs.tolist() for e in zip(t, t[1:] + t[:1])}
    assert len(out.uvs) == len(uvs) + len(uv_edges)
    # the new vertex on a seam edge has two UVs, u = 0 and u = 1, at the same height
    uv_id = np.flatnonzero(np.isclose(out.uvs, [0, 0.7]).all(axis=1))[0]  # a seam edge midpoint
    vertex = out.triangles[out.tri_uvs == uv_id][0]
    seen = out.uvs[out.tri_uvs[out.triangles == vertex]]
    np.testing.assert_allclose(np.unique(seen, axis=0), [[0, 0.7], [1, 0.7]], atol=1e-7)


def test_bad_arguments():
    v, tris, uvs, tri_uvs = uv_sphere()
    with pytest.raises(ValueError, match="both"):
        loop_subdivide(v, tris, uvs=uvs)
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        loop_subdivide(v, np.zeros((4, 4), int))
    with pytest.raises(ValueError, match="must match"):
        loop_subdivide(v, tris, uvs, tri_uvs[:-1])
    with pytest.raises(ValueError, match=">= 0"):
        loop_subdivide(v, tris, iterations=-1)
