"""Raw scan preparation on a real synthetic head, Loop-subdivided so its topology is not the
template's, written to real files and read back."""
import numpy as np
import pytest

from faceforge.core.errors import MeshReadError, ScanError
from faceforge.core.fit.scan import MIN_POINTS, load_scan, prepare_scan, sample_surface
from faceforge.core.mesh.geometry import face_areas, vertex_normals
from faceforge.core.mesh.io import write_obj, write_ply
from faceforge.core.mesh.subdivide import loop_subdivide


@pytest.fixture(scope="module")
def head():
    """(vertices (N, 3) mm, triangles (T, 3)) of a synthetic neutral head, subdivided once."""
    from faceforge.core.data.synth.generate import Population, SynthConfig

    pop = Population(SynthConfig(subjects=1, per_subject=1, seed=1234))
    sub = loop_subdivide(pop.subject(0).neutral, pop.triangles, iterations=1)
    return sub.vertices, sub.triangles


def agreement(normals, truth):
    """Share of unit normals within 25 degrees of the true ones."""
    return float(np.mean(np.einsum("pc,pc->p", normals, truth) > np.cos(np.deg2rad(25))))


def test_obj_and_ply_files_load_with_outward_normals(tmp_path, head):
    v, tri = head
    truth = vertex_normals(v, tri)
    for path, write in ((tmp_path / "head.obj", write_obj), (tmp_path / "head.ply", write_ply)):
        write(path, v, tri)
        scan = load_scan(path)
        assert scan.path == path and scan.faces.dtype == np.int32 and scan.vertices.dtype == np.float32
        np.testing.assert_array_equal(scan.vertices, v)
        assert scan.notes == ()
        assert agreement(scan.normals, truth) > 0.99


def test_empty_and_garbage_files_raise_mesh_read_errors(tmp_path):
    empty = tmp_path / "empty.ply"
    empty.write_bytes(b"")
    with pytest.raises(MeshReadError, match="empty"):
        load_scan(empty)
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(MeshReadError, match="damaged|not a valid"):
        load_scan(garbage)
    words = tmp_path / "words.obj"
    words.write_text("v 1 2\nthis is not a mesh\n")
    with pytest.raises(MeshReadError, match="malformed"):
        load_scan(words)
    no_vertices = tmp_path / "comment.obj"
    no_vertices.write_text("# nothing here\n")
    with pytest.raises(MeshReadError, match="no vertices"):
        load_scan(no_vertices)


def test_nan_and_inf_vertices_are_dropped_with_their_faces(tmp_path, head):
    v, tri = head
    bad = v.copy()
    bad[[5, 17, 300]] = [np.nan, 0.0, 0.0]
    bad[42, 2] = np.inf
    path = tmp_path / "nan.obj"
    write_obj(path, bad, tri)
    scan = load_scan(path)  # read_mesh alone refuses NaN; load_scan drops them
    assert len(scan.vertices) == len(v) - 4
    assert np.isfinite(scan.vertices).all()
    used = np.isin(np.arange(len(v)), [5, 17, 300, 42])
    assert len(scan.faces) == len(tri) - np.count_nonzero(used[tri].any(axis=1))
    assert any("4 vertices with NaN or infinite" in note for note in scan.notes)


def test_too_few_finite_points_raise_scan_error(head):
    v, _ = head
    bad = v[: MIN_POINTS + 10].copy()
    bad[:20] = np.nan
    with pytest.raises(ScanError, match=f"fewer than the {MIN_POINTS}"):
        prepare_scan(bad)
    with pytest.raises(ScanError, match=r"\(P, 3\)"):
        prepare_scan(v[:, :2])
    with pytest.raises(ScanError, match="outside"):
        prepare_scan(v, np.array([[0, 1, len(v)]]))


def test_unwelded_triangles_are_merged_back(head):
    """An STL-like soup: every triangle has its own three vertices."""
    v, tri = head
    soup = v[tri].reshape(-1, 3)
    scan = prepare_scan(soup, np.arange(len(soup)).reshape(-1, 3))
    assert len(scan.vertices) == len(v) and len(scan.faces) == len(tri)
    assert any(f"merged {len(soup) - len(v)} duplicate vertices" in note for note in scan.notes)
    assert agreement(scan.normals, vertex_normals(scan.vertices, scan.faces)) == 1.0


def test_degenerate_repeated_faces_and_unused_vertices_are_dropped(head):
    v, tri = head
    line = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]], np.float32) + v.max(axis=0) + 50
    extra = np.array([[0, 0, 1], [2, 3, 2], [len(v), len(v) + 1, len(v) + 2]])  # repeated ids, collinear
    faces = np.concatenate([tri, extra, tri[:10]])  # and 10 repeated faces
    scan = prepare_scan(np.concatenate([v, line]), faces)
    assert len(scan.faces) == len(tri) and len(scan.vertices) == len(v)
    assert "dropped 13 degenerate or repeated faces" in scan.notes
    assert "dropped 3 vertices not used by any face" in scan.notes


def test_small_parts_are_dropped_and_large_ones_kept(head):
    """Two halves of a face stored apart (no shared vertices) and a speck of dust."""
    v, tri = head
    centre = v[tri].mean(axis=1)
    left, right = tri[centre[:, 0] < 0], tri[centre[:, 0] >= 0] + len(v)
    dust = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32) + [0, 0, 400]
    scan = prepare_scan(np.concatenate([v, v + [5, 0, 0], dust]),
                        np.concatenate([left, right, np.array([[0, 1, 2]]) + 2 * len(v)]))
    assert len(scan.faces) == len(left) + len(right)
    assert any(note.startswith("dropped 1 small disconnected parts") for note in scan.notes)
    assert "kept 2 disconnected parts" in scan.notes
    assert scan.vertices[:, 2].max() < 400


def test_flipped_and_inconsistent_windings_point_outward(head):
    v, tri = head
    truth = vertex_normals(v, tri)
    flipped = prepare_scan(v, tri[:, [0, 2, 1]])
    assert agreement(flipped.normals, truth) > 0.99
    assert f"re-oriented {len(tri)} faces so normals point outward" in flipped.notes
    mixed = np.where(np.random.default_rng(1).random(len(tri))[:, None] < 0.4, tri[:, [0, 2, 1]], tri)
    assert agreement(prepare_scan(v, mixed).normals, truth) > 0.99


def test_open_face_crop_points_outward(head):
    """Only the front of the face, wound inward: an open surface with no inside."""
    v, tri = head
    front = tri[v[tri].mean(axis=1)[:, 2] > 60]
    scan = prepare_scan(v, front[:, [0, 2, 1]])
    assert agreement(scan.normals, vertex_normals(v, front)[np.unique(front)]) > 0.99


def test_point_cloud_gets_outward_pca_normals(head):
    v, tri = head
    truth = vertex_normals(v, tri)
    keep = np.random.default_rng(2).random(len(v)) < 0.5
    scan = prepare_scan(v[keep])
    assert scan.faces is None and len(scan.vertices) == keep.sum()
    assert np.allclose(np.linalg.norm(scan.normals, axis=1), 1.0, atol=1e-5)
    assert agreement(scan.normals, truth[keep]) > 0.9


def test_sample_surface_is_area_uniform_and_seeded(head):
    v, tri = head
    scan = prepare_scan(v, tri)
    points, normals = sample_surface(scan, 20_000, seed=3)
    assert points.shape == normals.shape == (20_000, 3) and points.dtype == np.float32
    np.testing.assert_array_equal(points, sample_surface(scan, 20_000, seed=3)[0])
    assert not np.array_equal(points, sample_surface(scan, 20_000, seed=4)[0])
    area = face_areas(v, tri)
    upper = v[tri].mean(axis=1)[:, 1] > np.median(v[:, 1])
    share = area[upper].sum() / area.sum()
    assert abs(np.mean(points[:, 1] > np.median(v[:, 1])) - share) < 0.02
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    cloud = prepare_scan(v[:500])
    few, _ = sample_surface(cloud, 1000)
    assert len(few) == 500 and len(np.unique(few, axis=0)) == 500
