"""Closest points for fitting, and the non-rigid refinement towards a scan."""
import numpy as np
import pytest

from faceforge.core.data.synth.generate import Population, SynthConfig
from faceforge.core.fit.correspond import (SurfaceIndex, TemplateSurface, boundary_vertices,
                                           closest_on_triangles, robust_weights)
from faceforge.core.fit.refine import RefineOptions, refine_offsets, vertex_residual
from faceforge.core.fit.scan import prepare_scan, sample_surface
from faceforge.core.mesh.closest import closest_points
from faceforge.core.mesh.geometry import vertex_normals
from faceforge.core.mesh.subdivide import loop_subdivide
from faceforge.core.models.registry import load_default_model
from faceforge.core.progress import drive


@pytest.fixture(scope="module")
def template():
    return load_default_model().template


@pytest.fixture(scope="module")
def person(template):
    """An unseen subject's neutral head (seed 4242), no jitter or noise."""
    config = SynthConfig(subjects=1, per_subject=2, seed=4242, noise_mm=0.0, rotation_deg=0.0,
                         translation_mm=0.0)
    return Population(config).subject(0).neutral


def test_closest_on_triangles_matches_a_brute_force_search():
    rng = np.random.default_rng(0)
    tri = rng.normal(size=(500, 3, 3))
    tri[:5, 2] = tri[:5, 0]  # degenerate: two equal corners
    p = rng.normal(size=(500, 3)) * 2
    foot, bary = closest_on_triangles(p, tri)
    np.testing.assert_allclose(bary.sum(axis=1), 1.0, atol=1e-9)
    assert bary.min() >= -1e-9
    np.testing.assert_allclose(np.einsum("ck,ckj->cj", bary, tri), foot, atol=1e-9)
    # brute force: the nearest of a fine barycentric grid on each triangle
    u, v = np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201))
    inside = u + v <= 1
    grid = np.stack([1 - u[inside] - v[inside], u[inside], v[inside]], axis=1)
    points = np.einsum("gk,ckj->cgj", grid, tri)
    brute = np.linalg.norm(points - p[:, None], axis=2).min(axis=1)
    ours = np.linalg.norm(foot - p, axis=1)
    assert np.all(ours <= brute + 1e-9)
    assert np.all(brute - ours < 0.02 * np.ptp(tri, axis=1).max(axis=1))


def test_scan_index_and_template_surface_agree_with_the_exact_search(template, person):
    tri = template.triangles()
    rng = np.random.default_rng(1)
    queries = person[rng.integers(0, len(person), 3000)] + rng.normal(0, 2.0, (3000, 3))
    exact = closest_points(person, tri, queries)
    fine = loop_subdivide(person, tri)  # a scan-like mesh: the same surface, smaller triangles
    index = SurfaceIndex.build(fine.vertices, fine.triangles,
                               vertex_normals(fine.vertices, fine.triangles))
    on_scan = index.closest(queries, k=3)
    exact_fine = closest_points(fine.vertices, fine.triangles, queries)
    assert np.quantile(on_scan.distance - exact_fine.distance, 0.99) < 1e-4
    assert (on_scan.distance - exact_fine.distance).max() < 0.5
    on_model = TemplateSurface(tri).closest(person, queries)
    excess = on_model.distance - exact.distance
    assert excess.min() > -1e-4 and excess.mean() < 0.02 and np.quantile(excess, 0.99) < 0.3
    np.testing.assert_allclose(
        np.einsum("pk,pkc->pc", on_model.barycentric, person[tri[on_model.triangle]]),
        on_model.points, atol=1e-3)


def test_boundary_vertices_and_robust_weights():
    square = np.array([[0, 1, 2], [0, 2, 3]])
    corners = np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [5, 5, 5]], float)
    assert boundary_vertices(corners, square).tolist() == [True, True, True, True, False]
    assert boundary_vertices(corners, square, min_perimeter=40.0).any()
    assert not boundary_vertices(corners, square, min_perimeter=41.0).any()
    r = np.array([0.0, 1.0, 2.0, 3.0, 50.0])
    w = robust_weights(r, r < 10, trim=0.75, sigma=1.0)
    assert w[4] == 0 and w[3] == 0  # beyond max distance, then trimmed
    assert w[0] == 1 and 0 < w[2] < w[1] < 1


def test_refinement_follows_the_scan_and_stays_smooth_where_it_has_no_data(template, person):
    tri = template.triangles()
    side = person[:, 0] > 30.0  # the scan lacks the face's left side (x > 30 mm)
    keep = ~side[tri].any(axis=1)
    fine = loop_subdivide(person, tri[keep], iterations=2)
    scan = prepare_scan(fine.vertices, fine.triangles)
    index = SurfaceIndex.build(scan.vertices, scan.faces, scan.normals)
    samples, normals = sample_surface(scan, 20_000)
    # a model fit that is off by a smooth bump of up to 3 mm, plus 0.2 mm of vertex noise
    rng = np.random.default_rng(2)
    centre = person.mean(axis=0)
    bump = 3.0 * np.exp(-((person - centre - [0, 0, 80]) ** 2).sum(axis=1) / 40.0**2)
    start = person + bump[:, None] * vertex_normals(person, tri) + rng.normal(0, 0.2, person.shape)
    offsets = drive(refine_offsets(start, tri, index, samples, normals, RefineOptions()))
    refined = start + offsets
    covered = np.isfinite(vertex_residual(refined, tri, index, 10.0))
    assert covered.mean() > 0.6 and not covered[side].any()
    before = closest_points(person, tri, start[covered]).distance.mean()
    after = closest_points(person, tri, refined[covered]).distance.mean()
    assert after < 0.25 < before, (before, after)  # mm
    # no data: the offsets fade smoothly instead of tearing the mesh
    assert np.abs(offsets[side]).max() < 4.0
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    jump = np.linalg.norm(offsets[edges[:, 0]] - offsets[edges[:, 1]], axis=1)
    assert np.quantile(jump, 0.99) < 1.0


def test_stiffer_refinement_gives_smoother_offsets(template, person):
    tri = template.triangles()
    fine = loop_subdivide(person, tri, iterations=1)
    scan = prepare_scan(fine.vertices, fine.triangles)
    index = SurfaceIndex.build(scan.vertices, scan.faces, scan.normals)
    samples, normals = sample_surface(scan, 10_000)
    start = person + np.random.default_rng(3).normal(0, 0.5, person.shape)
    roughness = []
    for smoothness in (0.1, 10.0):
        options = RefineOptions(smoothness=smoothness, iterations=2)
        d = drive(refine_offsets(start, tri, index, samples, normals, options))
        edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]]])
        roughness.append(np.linalg.norm(d[edges[:, 0]] - d[edges[:, 1]], axis=1).mean())
    assert roughness[1] < 0.5 * roughness[0]


def test_residual_is_nan_off_the_scan_and_for_a_point_cloud_uses_the_tangent_plane(template, person):
    tri = template.triangles()
    points, normals = sample_surface(prepare_scan(person, tri), 30_000)
    cloud = SurfaceIndex.build(points, None, normals)
    residual = vertex_residual(person, tri, cloud, 10.0)
    assert np.nanmean(residual) < 0.1 and np.isfinite(residual).mean() > 0.95
    centre = person.mean(axis=0)
    grown = vertex_residual(centre + 1.4 * (person - centre), tri, cloud, 10.0)
    assert np.isnan(grown).mean() > 0.9
