"""Synthetic raw scans: a new topology at the asked density, known damage, exact ground truth."""
import numpy as np
import pytest
from scipy.spatial import cKDTree

from faceforge.core.errors import TopologyMismatchError
from faceforge.core.fit.rawscan import HOLE_REGIONS, UNITS, RawScanSpec, make_raw_scan, write_raw_scan
from faceforge.core.mesh.closest import closest_points
from faceforge.core.mesh.geometry import vertex_normals
from faceforge.core.mesh.io import read_mesh
from faceforge.core.models.registry import load_default_model

STILL = dict(rotation_deg=0.0, translation_mm=0.0, scale_jitter=0.0)  # scan frame = model frame


@pytest.fixture(scope="module")
def template():
    return load_default_model().template


@pytest.fixture(scope="module")
def truth(population, template):
    """A smiling subject of the synthetic population, in the template topology."""
    assert population.template.topology_hash() == template.topology_hash()
    return population.vertices[np.flatnonzero(population.expression == "smile")[0]]


def surface_distance(truth, template, points):
    return closest_points(truth, template.triangles(), points).distance


@pytest.mark.parametrize("density", [10_000, 50_000, 100_000])
def test_density_and_a_clean_new_mesh(truth, template, density):
    scan = make_raw_scan(truth, template, RawScanSpec(density=density, seed=1))
    assert abs(len(scan.vertices) / density - 1) < 0.03
    assert scan.vertices.dtype == np.float32 and scan.faces.dtype == np.int32
    f = scan.faces
    assert f.min() == 0 and f.max() == len(scan.vertices) - 1  # every vertex is used
    assert np.all((f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0]))
    assert len(np.unique(np.sort(f, axis=1), axis=0)) == len(f)
    back = scan.to_model_frame(scan.vertices)
    d = surface_distance(truth, template, back)
    assert np.median(d) < 0.35 and np.quantile(d, 0.99) < 2.5  # mm: 0.2 mm noise plus smoothing
    normals = vertex_normals(back, f)
    outward = np.einsum("ij,ij->i", normals, back - truth.mean(axis=0)) > 0
    assert outward.mean() > 0.8  # wound like the template: normals point out of the head


def test_vertices_are_new_points_not_template_vertices(truth, template):
    scan = make_raw_scan(truth, template, RawScanSpec(density=50_000, noise_mm=0.0, **STILL))
    np.testing.assert_array_equal(scan.transform.rotation, np.eye(3))
    gap, _ = cKDTree(truth).query(scan.vertices)
    assert np.mean(gap < 1e-3) < 0.005  # cell means, not copies of template vertices
    assert surface_distance(truth, template, scan.vertices).mean() < 0.35


def test_noise_is_along_the_normals_with_the_asked_std(truth, template):
    spec = RawScanSpec(density=20_000, seed=4)
    clean = make_raw_scan(truth, template, RawScanSpec(**{**spec.__dict__, "noise_mm": 0.0}))
    noisy = make_raw_scan(truth, template, spec)
    np.testing.assert_array_equal(clean.faces, noisy.faces)  # same re-mesh and pose, only noise
    a, b = clean.to_model_frame(clean.vertices), noisy.to_model_frame(noisy.vertices)
    move = (b - a).astype(np.float64)
    normals = vertex_normals(a, clean.faces)
    along = np.einsum("ij,ij->i", move, normals)
    assert along.std() == pytest.approx(0.2, rel=0.05)
    across = np.linalg.norm(move - along[:, None] * normals, axis=1)
    assert np.quantile(across, 0.99) < 0.01


@pytest.mark.parametrize("units", ["mm", "cm", "m"])
def test_units_pose_and_the_transform_round_trip(truth, template, units):
    scan = make_raw_scan(truth, template, RawScanSpec(density=10_000, units=units, seed=7))
    scale = float(scan.transform.scale)
    assert 0.95 <= scale / UNITS[units] <= 1.05
    size = np.ptp(scan.vertices, axis=0).max()
    assert 0.15 < size / (1000 * UNITS[units]) < 0.35  # a head is 0.15-0.35 m in any orientation
    expected = scan.transform.apply(truth)  # the model frame -> scan frame map of the truth
    near = closest_points(expected, template.triangles(), scan.vertices).distance / scale
    assert np.median(near) < 0.35  # mm
    np.testing.assert_allclose(scan.to_model_frame(expected), truth, atol=2e-3)
    angle = np.degrees(np.arccos((np.trace(scan.transform.rotation) - 1) / 2))
    assert angle > 5  # really rotated


def test_holes_are_discs_of_the_asked_radius_on_the_face(truth, template):
    radius = 8.0
    spec = RawScanSpec(density=100_000, holes=3, hole_radius_mm=radius, noise_mm=0.0, seed=3, **STILL)
    scan = make_raw_scan(truth, template, spec)
    whole = make_raw_scan(truth, template, RawScanSpec(**{**spec.__dict__, "holes": 0}))
    assert scan.hole_centres.shape == (3, 3) and whole.visible.all()
    face = np.concatenate([template.regions[r] for r in HOLE_REGIONS])
    assert cKDTree(truth[face]).query(scan.hole_centres)[0].max() < 1e-4  # centred on the face
    tree, before = cKDTree(scan.vertices), cKDTree(whole.vertices)
    for centre in scan.hole_centres:
        inside = len(before.query_ball_point(centre, 0.6 * radius))
        # empty, but for a few points across a fold (the other lip, inside a nostril)
        assert len(tree.query_ball_point(centre, 0.6 * radius)) <= 0.15 * inside
        assert len(tree.query_ball_point(centre, 1.5 * radius)) > 2 * inside  # not much larger
    d_truth = np.linalg.norm(truth[:, None] - scan.hole_centres[None], axis=2).min(axis=1)
    assert not scan.visible[d_truth < 0.3 * radius].any()
    assert scan.visible[d_truth > 1.5 * radius].all()


def test_crop_drops_one_side_beyond_the_plane(truth, template):
    scan = make_raw_scan(truth, template, RawScanSpec(density=50_000, crop_side=True, noise_mm=0.0,
                                                      seed=5, **STILL))
    point, normal = scan.crop
    side = (scan.vertices - point) @ normal
    assert side.max() < 1.5  # mm: nothing beyond the plane but clustering round-off
    assert np.mean(np.abs(side) < 2.0) > 0.005  # the cut edge runs along the plane
    truth_side = (truth - point) @ normal
    assert not scan.visible[truth_side > 0].any() and scan.visible[truth_side < -3].all()
    ears = [template.landmarks[f"ear_lobe_{s}"] for s in "lr"]
    assert sorted(scan.visible[ears].tolist()) == [False, True]  # one ear gone, the other kept
    assert 0.1 < 1 - scan.visible.mean() < 0.5


def test_shoulders_are_extra_geometry_under_the_head(truth, template):
    scan = make_raw_scan(truth, template, RawScanSpec(density=50_000, extras="shoulders", noise_mm=0.0,
                                                      seed=2, **STILL))
    assert 0.15 < scan.extra.mean() < 0.6 and scan.visible.all()
    assert scan.vertices[scan.extra, 1].max() < truth[:, 1].min() + 20
    assert np.ptp(scan.vertices[scan.extra, 0]) > 300  # mm: shoulders are wider than the head
    assert surface_distance(truth, template, scan.vertices[~scan.extra]).mean() < 0.4


def test_cap_hides_the_top_of_the_head(truth, template):
    scan = make_raw_scan(truth, template, RawScanSpec(density=50_000, extras="cap", noise_mm=0.0,
                                                      seed=2, **STILL))
    rim = truth[template.regions["brows"], 1].max() + 25
    assert not scan.visible[truth[:, 1] > rim].any() and scan.visible[truth[:, 1] < rim - 5].all()
    apart = surface_distance(truth, template, scan.vertices[scan.extra])
    assert np.quantile(apart, 0.05) > 3.0  # mm: the cap sits off the head
    assert scan.vertices[scan.extra, 2].max() > truth[:, 2].max() - 10  # the brim reaches forward
    assert surface_distance(truth, template, scan.vertices[~scan.extra]).mean() < 0.4


def test_same_seed_same_scan_other_seed_other_scan(truth, template):
    spec = RawScanSpec(density=10_000, holes=2, crop_side=True, extras="cap", units="cm", seed=11)
    a, b = make_raw_scan(truth, template, spec), make_raw_scan(truth, template, spec)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    np.testing.assert_array_equal(a.visible, b.visible)
    c = make_raw_scan(truth, template, RawScanSpec(**{**spec.__dict__, "seed": 12}))
    assert len(c.vertices) != len(a.vertices) or not np.array_equal(c.vertices, a.vertices)


def test_written_scan_reads_back(truth, template, tmp_path):
    scan = make_raw_scan(truth, template, RawScanSpec(density=10_000, units="m"))
    for name in ("scan.ply", "scan.obj"):
        write_raw_scan(tmp_path / name, scan)
        mesh = read_mesh(tmp_path / name)
        np.testing.assert_array_equal(mesh.vertices, scan.vertices)
        np.testing.assert_array_equal(mesh.faces[:, :3], scan.faces)
    with pytest.raises(ValueError, match=".ply or .obj"):
        write_raw_scan(tmp_path / "scan.stl", scan)


def test_bad_input_is_refused(truth, template):
    with pytest.raises(TopologyMismatchError, match="3000 vertices"):
        make_raw_scan(truth[:3000], template)
    with pytest.raises(ValueError, match="units must be one of"):
        RawScanSpec(units="inch")
    with pytest.raises(ValueError, match="extras must be one of"):
        RawScanSpec(extras="hat")
