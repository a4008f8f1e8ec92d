import numpy as np
import pytest
import trimesh

from faceforge.core.errors import MeshReadError, NonFiniteError
from faceforge.core.mesh.io import read_mesh, write_obj, write_ply
from faceforge.core.mesh.template import triangulate


def quad_grid(nx=4, ny=3, size=100.0):
    """Quads on a jittered (ny+1, nx+1) grid, in mm, the last row triangles; per-vertex UVs."""
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.linspace(0, size, nx + 1), np.linspace(0, size, ny + 1))
    v = np.stack([x, y, rng.normal(0, 3, x.shape)], -1).reshape(-1, 3)
    v[0] = [1234.5678, -0.000123, 98765.4321]  # needs more than 6 significant digits
    ids = np.arange((nx + 1) * (ny + 1)).reshape(ny + 1, nx + 1)
    quads = np.stack([ids[:-1, :-1], ids[:-1, 1:], ids[1:, 1:], ids[1:, :-1]], -1).reshape(-1, 4)
    tris = np.concatenate([quads[-nx:, [0, 1, 2]], quads[-nx:, [0, 2, 3]]])
    faces = np.concatenate([quads[:-nx], np.pad(tris, ((0, 0), (0, 1)), constant_values=-1)])
    return v.astype(np.float32), faces.astype(np.int32), (v[:, :2] / size).astype(np.float32)


def seam_uvs(faces, uvs):
    """Give every face its own UV copies (a seam everywhere): per-corner UVs differ from faces."""
    corners = faces >= 0
    face_uvs = np.full_like(faces, -1)
    face_uvs[corners] = np.arange(corners.sum())
    return uvs[faces[corners]], face_uvs


def test_obj_round_trip_keeps_quads_uvs_and_exact_coordinates(tmp_path):
    v, faces, uvs = quad_grid()
    corner_uvs, face_uvs = seam_uvs(faces, uvs)
    path = tmp_path / "grid.obj"
    write_obj(path, v, faces, corner_uvs, face_uvs, normals=np.tile([0, 0, 1.0], (len(v), 1)))
    mesh = read_mesh(path)
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
    np.testing.assert_array_equal(mesh.vertices, v)  # %.9g round-trips float32 exactly
    np.testing.assert_array_equal(mesh.faces, faces)
    np.testing.assert_array_equal(mesh.uvs, corner_uvs)
    np.testing.assert_array_equal(mesh.face_uvs, face_uvs)
    assert mesh.vertices[0, 0] == pytest.approx(1234.5678, abs=1e-4)


def test_obj_text_layout(tmp_path):
    v, faces, uvs = quad_grid(nx=1, ny=2)
    path = tmp_path / "a.obj"
    normals = np.tile([0, 0, 1.0], (len(v), 1))
    write_obj(path, v, faces, uvs, faces, normals=normals, mtl_name="a.mtl")
    lines = path.read_text().splitlines()
    assert lines[0] == "mtllib a.mtl"
    assert "usemtl a" in lines
    assert sum(line.startswith("v ") for line in lines) == len(v)
    assert sum(line.startswith("vt ") for line in lines) == len(uvs)
    assert sum(line.startswith("vn ") for line in lines) == len(v)
    face_lines = [line for line in lines if line.startswith("f ")]
    assert face_lines[0] == "f 1/1/1 2/2/2 4/4/4 3/3/3"
    assert [len(line.split()) - 1 for line in face_lines] == [4, 3, 3]


def test_obj_without_uvs_or_normals(tmp_path):
    v, faces, _ = quad_grid(nx=1, ny=1)
    path = tmp_path / "plain.obj"
    write_obj(path, v, faces[:, :3])
    assert path.read_text().splitlines()[-2:] == ["f 1 2 4", "f 1 4 3"]
    mesh = read_mesh(path)
    assert mesh.uvs is None and mesh.face_uvs is None
    padded = np.pad(faces[:, :3], ((0, 0), (0, 1)), constant_values=-1)
    np.testing.assert_array_equal(mesh.faces, padded)


def test_obj_parser_features(tmp_path):
    path = tmp_path / "features.obj"
    path.write_text(
        "# comment\nmtllib x.mtl\no thing\n"
        "v 0 0 0 1 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0.5 1.5 0\n"
        "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 1\nvn 0 0 1\n"
        "g part\ns off\nusemtl skin\n"
        "f -5/-5/1 -4/-4/1 -3/-3/1 -1/-1/1 -2/-2/1\n"  # pentagon, negative indices
        "f 1//1 2//1 3//1\n"
    )
    mesh = read_mesh(path)
    np.testing.assert_array_equal(mesh.vertices[4], [0.5, 1.5, 0])
    np.testing.assert_array_equal(
        mesh.faces, [[0, 1, 2, -1], [0, 2, 4, -1], [0, 4, 3, -1], [0, 1, 2, -1]]
    )
    assert mesh.uvs is None  # the last face has no UVs, so UVs are dropped as a whole


def test_obj_point_cloud(tmp_path):
    path = tmp_path / "points.obj"
    path.write_text("v 1 2 3\nv 4 5 6\n")
    mesh = read_mesh(path)
    assert mesh.faces is None
    np.testing.assert_array_equal(mesh.vertices, [[1, 2, 3], [4, 5, 6]])


def test_ply_round_trip_keeps_vertex_order(tmp_path):
    sphere = trimesh.creation.icosphere(2, radius=80.0)
    order = np.random.default_rng(1).permutation(len(sphere.vertices))
    v = sphere.vertices[order].astype(np.float32)
    faces = np.argsort(order)[sphere.faces]
    path = tmp_path / "sphere.ply"
    write_ply(path, v, faces)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian")
    mesh = read_mesh(path)
    np.testing.assert_array_equal(mesh.vertices, v)
    np.testing.assert_array_equal(mesh.faces[:, :3], faces)
    assert (mesh.faces[:, 3] == -1).all()


def test_ply_quads_are_written_as_triangles(tmp_path):
    v, faces, _ = quad_grid()
    write_ply(tmp_path / "grid.ply", v, faces)
    mesh = read_mesh(tmp_path / "grid.ply")
    np.testing.assert_array_equal(mesh.vertices, v)
    assert {tuple(sorted(t)) for t in mesh.faces[:, :3].tolist()} == {
        tuple(sorted(t)) for t in triangulate(faces).tolist()
    }


def test_ply_point_cloud_and_uvs(tmp_path):
    points = np.random.default_rng(2).normal(size=(20, 3)).astype(np.float32)
    write_ply(tmp_path / "cloud.ply", points, None)
    cloud = read_mesh(tmp_path / "cloud.ply")
    assert cloud.faces is None
    np.testing.assert_array_equal(cloud.vertices, points)

    sphere = trimesh.creation.icosphere(1)
    uv = np.random.default_rng(3).random((len(sphere.vertices), 2))
    sphere.visual = trimesh.visual.TextureVisuals(uv=uv)
    (tmp_path / "uv.ply").write_bytes(sphere.export(file_type="ply"))
    mesh = read_mesh(tmp_path / "uv.ply")
    np.testing.assert_allclose(mesh.uvs, uv, atol=1e-7)
    np.testing.assert_array_equal(mesh.face_uvs, mesh.faces)


def test_stl_is_welded_and_off_keeps_order(tmp_path):
    box = trimesh.creation.box(extents=[10, 20, 30])
    (tmp_path / "box.stl").write_bytes(box.export(file_type="stl"))
    stl = read_mesh(tmp_path / "box.stl")
    assert stl.vertices.shape == (8, 3) and stl.faces.shape == (12, 4)
    (tmp_path / "box.off").write_text(box.export(file_type="off"))
    off = read_mesh(tmp_path / "box.off")
    np.testing.assert_allclose(off.vertices, box.vertices)
    np.testing.assert_array_equal(off.faces[:, :3], box.faces)


def test_glb_scene_is_concatenated_with_transforms(tmp_path):
    box, ball = trimesh.creation.box(), trimesh.creation.icosphere(1)
    scene = trimesh.Scene()
    scene.add_geometry(box, transform=trimesh.transformations.translation_matrix([100, 0, 0]))
    scene.add_geometry(ball)
    (tmp_path / "scene.glb").write_bytes(scene.export(file_type="glb"))
    mesh = read_mesh(tmp_path / "scene.glb")
    assert len(mesh.vertices) == len(box.vertices) + len(ball.vertices)
    assert len(mesh.faces) == len(box.faces) + len(ball.faces)
    assert mesh.vertices[:, 0].max() == pytest.approx(100.5)
    assert mesh.faces.max() == len(mesh.vertices) - 1


def test_writes_are_atomic_and_overwrite(tmp_path):
    v, faces, _ = quad_grid(nx=1, ny=1)
    path = tmp_path / "out" / "m.obj"
    write_obj(path, v, faces)
    write_obj(path, v * 2, faces)
    write_ply(tmp_path / "out" / "m.ply", v, faces)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.obj", "m.ply"]
    np.testing.assert_array_equal(read_mesh(path).vertices, v * 2)


def test_write_obj_rejects_half_uv_arguments(tmp_path):
    v, faces, uvs = quad_grid(nx=1, ny=1)
    with pytest.raises(ValueError, match="face_uvs"):
        write_obj(tmp_path / "x.obj", v, faces, uvs=uvs)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        write_obj(tmp_path / "x.obj", v[:, :2], faces)
    assert not (tmp_path / "x.obj").exists()


def _binary_ply(tmp_path):
    path = tmp_path / "full.ply"
    write_ply(path, trimesh.creation.icosphere(2).vertices, trimesh.creation.icosphere(2).faces)
    return path.read_bytes()


@pytest.mark.parametrize("name, content, error, words", [
    ("empty.obj", b"", MeshReadError, "empty"),
    ("empty.ply", b"", MeshReadError, "empty"),
    ("notes.obj", b"Meeting notes\nbuy milk\n", MeshReadError, "no vertices"),
    ("notes.ply", b"Meeting notes\nbuy milk\n", MeshReadError, "not a valid PLY"),
    ("notes.glb", b"Meeting notes\nbuy milk\n", MeshReadError, "not a valid GLB"),
    ("notes.stl", b"Meeting notes\nbuy milk\n", MeshReadError, "no vertices"),
    ("short.obj", b"v 1 2 3\nv 1 2\n", MeshReadError, "line 2"),
    ("word.obj", b"v 1 2 3\nv 1 two 3\n", MeshReadError, "line 2"),
    ("range.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", MeshReadError, "outside 0..2"),
    ("zero.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", MeshReadError, "line 4"),
    ("before.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n", MeshReadError, "relative"),
    ("uvs.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/2\n", MeshReadError, "texture"),
    ("nan.obj", b"v 0 0 0\nv nan 0 0\nv 0 inf 0\nf 1 2 3\n", NonFiniteError, "2 non-finite"),
    ("huge.obj", b"v 0 0 0\nv 1e9 0 0\nv 0 1 0\nf 1 2 3\n", MeshReadError, "millimetres"),
    ("mesh.xyz", b"1 2 3\n", MeshReadError, "unsupported format"),
])
def test_bad_files_raise_typed_errors_naming_the_file(tmp_path, name, content, error, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as info:
        read_mesh(path)
    assert name in str(info.value) and words in str(info.value)
    assert info.value.path == path


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_binary_ply(tmp_path, keep):
    data = _binary_ply(tmp_path)
    path = tmp_path / "cut.ply"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(MeshReadError, match="cut.ply") as info:
        read_mesh(path)
    assert info.value.original_error is not None


def test_missing_file(tmp_path):
    with pytest.raises(MeshReadError, match="nowhere.ply.*check the path"):
        read_mesh(tmp_path / "nowhere.ply")


def test_nan_in_ply(tmp_path):
    v = trimesh.creation.icosphere(1).vertices.copy()
    v[5, 2] = np.nan
    write_ply(tmp_path / "nan.ply", v, trimesh.creation.icosphere(1).faces)
    with pytest.raises(NonFiniteError, match="nan.ply.*1 non-finite"):
        read_mesh(tmp_path / "nan.ply")
