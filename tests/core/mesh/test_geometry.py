import numpy as np
import pytest
import trimesh

from faceforge.core.mesh.geometry import (
    boundary_loops, cotangent_laplacian, edges_unique, face_areas, mass_matrix, vertex_adjacency,
    vertex_normals,
)


def flat_grid(n=6, jitter=0.25, hole=False):
    """A jittered planar triangle grid in z = 0 with counter-clockwise (+Z facing) triangles."""
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.arange(n + 1.0), np.arange(n + 1.0))
    v = np.stack([x, y, np.zeros_like(x)], -1).reshape(-1, 3)
    inner = (x > 0).ravel() & (x < n).ravel() & (y > 0).ravel() & (y < n).ravel()
    v[inner, :2] += rng.uniform(-jitter, jitter, (inner.sum(), 2))
    ids = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    cells = [(j, i) for j in range(n) for i in range(n)]
    if hole:
        cells = [(j, i) for j, i in cells if not (2 <= j < 4 and 2 <= i < 4)]
    tris = []
    for j, i in cells:
        a, b, c, d = ids[j, i], ids[j, i + 1], ids[j + 1, i + 1], ids[j + 1, i]
        tris += [[a, b, c], [a, c, d]]
    return v, np.array(tris)


def naive_cotan(v, tris):
    """Reference Laplacian from angles, one triangle at a time."""
    L = np.zeros((len(v), len(v)))
    for t in tris:
        for k in range(3):
            i, j, o = t[(k + 1) % 3], t[(k + 2) % 3], t[k]
            e1, e2 = v[i] - v[o], v[j] - v[o]
            angle = np.arccos(e1 @ e2 / np.linalg.norm(e1) / np.linalg.norm(e2))
            w = 0.5 / np.tan(angle)
            L[i, j] -= w
            L[j, i] -= w
            L[i, i] += w
            L[j, j] += w
    return L


def naive_normals(v, tris):
    n = np.zeros_like(v)
    for t in tris:
        a, b, c = v[t]
        for i in t:
            n[i] += np.cross(b - a, c - a)  # length is twice the area: area weighting
    return n / np.linalg.norm(n, axis=1, keepdims=True)


@pytest.fixture
def bumpy():
    """An icosphere with random radial bumps, so triangles are uneven and some obtuse."""
    sphere = trimesh.creation.icosphere(2, radius=50.0)
    scale = 1 + 0.2 * np.random.default_rng(1).random(len(sphere.vertices))
    return sphere.vertices * scale[:, None], sphere.faces


def test_face_areas_match_trimesh_and_batch(bumpy):
    v, f = bumpy
    areas = face_areas(v, f)
    assert areas.dtype == np.float32
    np.testing.assert_allclose(areas, trimesh.Trimesh(v, f, process=False).area_faces, rtol=1e-6)
    assert face_areas(np.stack([v, 2 * v]), f).shape == (2, len(f))
    np.testing.assert_allclose(face_areas(np.stack([v, 2 * v]), f)[1], 4 * areas, rtol=1e-6)


def test_vertex_normals_point_outward_on_sphere():
    sphere = trimesh.creation.icosphere(3, radius=80.0)
    normals = vertex_normals(sphere.vertices, sphere.faces)
    assert normals.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-6)
    radial = sphere.vertices / 80.0
    assert np.einsum("ij,ij->i", normals, radial).min() > 0.999


def test_vertex_normals_match_reference_and_batch(bumpy):
    v, f = bumpy
    np.testing.assert_allclose(vertex_normals(v, f), naive_normals(v, f), atol=1e-6)
    batch = np.stack([v, v @ np.diag([1, -1, -1.0]), 3 * v])  # a 180 degree turn, a scale
    normals = vertex_normals(batch, f)
    assert normals.shape == (3,) + v.shape
    np.testing.assert_allclose(normals[1], normals[0] @ np.diag([1, -1, -1.0]), atol=1e-6)
    np.testing.assert_allclose(normals[2], normals[0], atol=1e-6)


def test_isolated_vertex_gets_zero_normal():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]], np.float32)
    normals = vertex_normals(v, np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(normals, [[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]])


def test_cotangent_laplacian_matches_reference_and_is_psd(bumpy):
    v, f = bumpy
    L = cotangent_laplacian(v, f)
    assert L.shape == (len(v), len(v)) and L.format == "csr"
    dense = L.toarray()
    np.testing.assert_allclose(dense, naive_cotan(v, f), atol=1e-9)
    np.testing.assert_allclose(dense, dense.T, atol=1e-12)
    np.testing.assert_allclose(dense.sum(axis=1), 0, atol=1e-9)
    assert np.linalg.eigvalsh(dense).min() > -1e-9
    assert (dense.diagonal() > 0).all()


def test_cotangent_laplacian_of_linear_function_on_flat_grid():
    v, f = flat_grid()
    L = cotangent_laplacian(v, f)
    linear = v @ np.array([2.0, -3.0, 0.0]) + 7.0
    boundary = np.unique(np.concatenate(boundary_loops(f)))
    interior = np.setdiff1d(np.arange(len(v)), boundary)
    np.testing.assert_allclose((L @ linear)[interior], 0, atol=1e-9)
    # x^T L x is the Dirichlet energy: |grad|^2 * area for a linear function on a square of 36 mm^2
    assert linear @ L @ linear == pytest.approx(13.0 * 36.0)


def test_degenerate_triangle_adds_nothing():
    v, f = flat_grid(n=2, jitter=0)
    v = np.vstack([v, [0.5, 0, 0]])
    f = np.vstack([f, [0, 1, len(v) - 1]])  # zero area
    L = cotangent_laplacian(v, f)
    assert np.isfinite(L.data).all()
    np.testing.assert_allclose(L[:-1, :-1].toarray(), naive_cotan(v[:-1], f[:-1]), atol=1e-12)


def test_mass_matrix_is_barycentric(bumpy):
    v, f = bumpy
    M = mass_matrix(v, f)
    area = trimesh.Trimesh(v, f, process=False).area_faces
    expected = np.zeros(len(v))
    for t, a in zip(f, area):
        expected[t] += a / 3
    np.testing.assert_allclose(M.diagonal(), expected, rtol=1e-9)
    assert M.nnz == len(v)
    assert M.sum() == pytest.approx(area.sum())


def test_edges_and_adjacency_match_trimesh(bumpy):
    v, f = bumpy
    mesh = trimesh.Trimesh(v, f, process=False)
    edges = edges_unique(f)
    assert edges.dtype == np.int32 and (edges[:, 0] < edges[:, 1]).all()
    assert len(edges) == 3 * len(f) // 2  # closed surface
    theirs = {tuple(sorted(e)) for e in mesh.edges_unique.tolist()}
    assert {tuple(e) for e in edges.tolist()} == theirs
    adj = vertex_adjacency(f, len(v))
    assert (adj != adj.T).nnz == 0 and adj.diagonal().sum() == 0
    degree = np.asarray(adj.sum(axis=1)).ravel()
    np.testing.assert_array_equal(degree, [len(n) for n in mesh.vertex_neighbors])


def test_boundary_loops_of_grid_with_hole():
    v, f = flat_grid(jitter=0, hole=True)
    outer, hole = boundary_loops(f)
    assert len(outer) == 24 and len(hole) == 8
    edges = {tuple(sorted(e)) for e in edges_unique(f).tolist()}
    for loop in (outer, hole):
        assert len(set(loop.tolist())) == len(loop)
        steps = zip(loop.tolist(), np.roll(loop, -1).tolist())
        assert all(tuple(sorted(s)) in edges for s in steps)

    def signed_area(loop):
        x, y = v[loop, 0], v[loop, 1]
        return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)

    assert signed_area(outer) == pytest.approx(36.0)  # counter-clockwise, the surface on its left
    assert signed_area(hole) == pytest.approx(-4.0)


def test_closed_mesh_has_no_boundary():
    assert boundary_loops(trimesh.creation.icosphere(1).faces) == []
