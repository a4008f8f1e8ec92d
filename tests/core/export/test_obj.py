"""OBJ + MTL export, read back by our OBJ reader and by assimp."""
import re

import numpy as np
import pytest

from faceforge.core.errors import ExportError
from faceforge.core.export import ExportOptions, Rig, export
from faceforge.core.export.obj import frame_times
from faceforge.core.export.rig import prepare
from faceforge.core.mesh.io import read_mesh


def test_obj_keeps_quads_uvs_and_material(rig, tmp_path):
    files = export(rig, tmp_path / "head.obj", ExportOptions(units="cm"))
    assert [f.name for f in files] == ["head.mtl", "head.obj"]
    mesh = read_mesh(tmp_path / "head.obj")
    t = rig.template
    np.testing.assert_allclose(mesh.vertices, rig.neutral * 0.1, rtol=1e-6)
    np.testing.assert_array_equal(mesh.faces, t.faces)
    np.testing.assert_array_equal(mesh.uvs, t.uvs)
    np.testing.assert_array_equal(mesh.face_uvs, t.face_uvs)
    text = (tmp_path / "head.obj").read_text()
    assert text.startswith("mtllib head.mtl\n") and "\nusemtl head\n" in text
    assert text.count("\nvn ") == t.n_vertices
    assert "newmtl head\n" in (tmp_path / "head.mtl").read_text()


def test_obj_per_shape(rig, tmp_path):
    files = export(rig, tmp_path / "head.obj", ExportOptions(obj_shapes=True, naming="livelink"))
    shapes = [f for f in files if f.parent.name == "head_shapes"]
    assert len(shapes) == 53 and shapes[24].name == "JawOpen.obj" and shapes[-1].name == "identity_1.obj"
    jaw = read_mesh(shapes[24])
    np.testing.assert_array_equal(jaw.vertices, rig.shapes["jawOpen"])  # float32 round-trips exactly
    np.testing.assert_array_equal(jaw.faces, rig.template.faces)
    assert shapes[24].read_text().startswith("mtllib ../head.mtl\n")


def test_obj_sequence_plays_the_animation(rig, tools, tmp_path):
    files = export(rig, tmp_path / "anim.obj", ExportOptions(obj_sequence=True, normals=False))
    frames = sorted(f for f in files if f.parent.name == "anim_frames")
    assert len(frames) == tools.frames and frames[0].name == "anim_0000.obj" and frames[-1].name == "anim_0299.obj"
    names, offsets = tools.offsets(rig)
    for k in (0, 137, 299):
        expected = rig.neutral + np.tensordot(tools.weights(rig, k / tools.fps), offsets, axes=1)
        np.testing.assert_allclose(read_mesh(frames[k]).vertices, expected, atol=1e-4)


def test_frame_times_cover_the_timeline(rig):
    times = frame_times(prepare(rig, ExportOptions()))
    assert len(times) == 300 and times[0] == 0 and abs(times[-1] - 299 / 30) < 1e-12


def test_obj_sequence_needs_an_animation(head, tmp_path):
    t = head.template
    with pytest.raises(ExportError, match="an OBJ sequence needs an animation"):
        export(Rig(t, t.vertices, {}), tmp_path / "a.obj", ExportOptions(obj_sequence=True))


def test_assimp_reads_the_obj(rig, tools, tmp_path):
    export(rig, tmp_path / "head.obj")
    out = tools.run(["assimp", "info", str(tmp_path / "head.obj")], "assimp (Debian assimp-utils)",
                    tools.install + " (or `apt-get install assimp-utils`)")
    info = dict(re.findall(r"^(\w+):\s+(\d+)$", out, re.M))  # the summary's first "Name: number" lines
    assert int(info["Meshes"]) == 1 and int(info["Materials"]) == 1
    assert int(info["Faces"]) == 2 * 3194  # `assimp info` triangulates the quads
    assert "'head'" in out  # the material named in the MTL
