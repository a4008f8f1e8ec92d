import numpy as np
import pytest
import trimesh

from faceforge.core.mesh.closest import barycentric_matrix, closest_points


def plane(n=10, size=100.0):
    """An n x n cell triangle grid covering [0, size]^2 at z = 0, mm."""
    x, y = np.meshgrid(np.linspace(0, size, n + 1), np.linspace(0, size, n + 1))
    v = np.stack([x, y, np.zeros_like(x)], -1).reshape(-1, 3)
    ids = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = ids[:-1, :-1], ids[:-1, 1:], ids[1:, 1:], ids[1:, :-1]
    tris = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)]).reshape(-1, 3)
    return v, tris


def check_consistent(v, tris, result, queries):
    assert result.points.dtype == np.float32 and result.triangle.dtype == np.int32
    np.testing.assert_allclose(result.barycentric.sum(axis=1), 1, atol=1e-6)
    assert result.barycentric.min() >= 0
    reproduced = np.einsum("pk,pkc->pc", result.barycentric, v[tris[result.triangle]])
    np.testing.assert_allclose(reproduced, result.points, atol=1e-4)
    distance = np.linalg.norm(queries - result.points, axis=1)
    np.testing.assert_allclose(distance, result.distance, atol=1e-4)


def test_projection_onto_plane_and_clamping_at_its_edge():
    v, tris = plane()
    rng = np.random.default_rng(0)
    inside = np.column_stack([rng.uniform(0, 100, (50, 2)), rng.normal(0, 20, 50)])
    outside = np.array([[-30.0, 50.0, 4.0], [130.0, 140.0, 0.0]])
    queries = np.vstack([inside, outside])
    result = closest_points(v, tris, queries)
    check_consistent(v, tris, result, queries)
    np.testing.assert_allclose(result.points[:50], inside * [1, 1, 0], atol=1e-4)
    np.testing.assert_allclose(result.distance[:50], np.abs(inside[:, 2]), atol=1e-4)
    np.testing.assert_allclose(result.points[50:], [[0, 50, 0], [100, 100, 0]], atol=1e-4)
    np.testing.assert_allclose(result.distance[50:], [np.hypot(30, 4), np.hypot(30, 40)], atol=1e-4)


def test_vertices_are_their_own_closest_points():
    sphere = trimesh.creation.icosphere(2, radius=90.0)
    result = closest_points(sphere.vertices, sphere.faces, sphere.vertices)
    np.testing.assert_allclose(result.points, sphere.vertices, atol=1e-4)
    assert result.distance.max() < 1e-4
    np.testing.assert_allclose(result.barycentric.max(axis=1), 1, atol=1e-5)


def test_sphere_queries_against_dense_sampling():
    sphere = trimesh.creation.icosphere(2, radius=90.0)
    v, tris = sphere.vertices, sphere.faces
    queries = np.random.default_rng(1).normal(0, 80, (40, 3))
    result = closest_points(v, tris, queries)
    check_consistent(v, tris, result, queries)
    samples, _ = trimesh.sample.sample_surface_even(sphere, 20000, seed=2)
    brute = np.linalg.norm(queries[:, None] - samples[None], axis=-1).min(axis=1)
    assert (result.distance <= brute + 1e-4).all()  # never worse than any surface sample
    assert np.abs(brute - result.distance).max() < 2.0  # and the sampling is about that dense


def test_barycentric_matrix_follows_deformation():
    sphere = trimesh.creation.icosphere(2, radius=90.0)
    v, tris = sphere.vertices, sphere.faces
    queries = np.random.default_rng(3).normal(0, 100, (30, 3))
    result = closest_points(v, tris, queries)
    matrix = barycentric_matrix(tris, result.triangle, result.barycentric, len(v))
    assert matrix.shape == (30, len(v)) and matrix.format == "csr"
    np.testing.assert_allclose(matrix @ v, result.points, atol=1e-4)
    deformed = v * [1.0, 1.5, 0.5] + 10.0  # affine: surface points follow exactly
    np.testing.assert_allclose(matrix @ deformed, result.points * [1.0, 1.5, 0.5] + 10.0, atol=1e-4)


def test_degenerate_triangles_are_skipped_and_indices_kept():
    v, tris = plane(n=2)
    v = np.vstack([v, [50.0, 50.0, 10.0]])
    degenerate = [[0, 1, 1], [len(v) - 1, len(v) - 1, len(v) - 1]]
    tris = np.vstack([degenerate, tris])
    queries = np.array([[25.0, 25.0, 3.0], [50.0, 50.0, 10.0]])
    result = closest_points(v, tris, queries)
    check_consistent(v, tris, result, queries)
    assert (result.triangle >= 2).all()
    np.testing.assert_allclose(result.points, [[25, 25, 0], [50, 50, 0]], atol=1e-4)


def test_empty_query_and_fully_degenerate_mesh():
    v, tris = plane(n=2)
    result = closest_points(v, tris, np.zeros((0, 3)))
    assert result.points.shape == (0, 3) and result.barycentric.shape == (0, 3)
    with pytest.raises(ValueError, match="no triangle"):
        closest_points(v, np.array([[0, 1, 1]]), v)
