"""assimp reads our FBX and GLB: the `assimp` CLI (Debian assimp-utils) and pyassimp (Triangulate)."""
import re

import numpy as np
import pytest
from scipy.spatial import cKDTree

from faceforge.core.export import rename
from faceforge.core.export.gltf import seam_split
from faceforge.core.mesh.io import read_mesh

CLI = "assimp (Debian assimp-utils)"


def cli(tools, *args):
    return tools.run(["assimp", *map(str, args)], CLI, tools.install + " (or `apt-get install assimp-utils`)")


def summary(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w[\w ]*?):\s+(\d+)$", out, re.M)}


@pytest.mark.parametrize("key", ["fbx", "fbx75", "glb"])
def test_assimp_info(exports, tools, key):
    info = summary(cli(tools, "info", exports[key][0]))
    assert info["Meshes"] == 1 and info["Animations"] == 1 and info["Materials"] == 1
    assert info["Faces"] == 2 * 3194  # triangulated by `assimp info`


@pytest.mark.parametrize("key", ["fbx", "glb"])
def test_assimp_export_converts_the_mesh(exports, rig, tools, tmp_path, key):
    """`assimp export` to OBJ: every vertex it writes is one of the neutral's (mm in FBX, m in GLB)."""
    path, _ = exports[key]
    cli(tools, "export", path, tmp_path / "out.obj")
    mesh = read_mesh(tmp_path / "out.obj")
    scale = 1.0 if key == "fbx" else 1000.0
    distance, _ = cKDTree(rig.neutral).query(mesh.vertices * scale)
    assert distance.max() < 1e-3 and len(np.unique(mesh.vertices, axis=0)) == rig.template.n_vertices


def test_assimp_export_fbx_to_gltf_keeps_the_targets(exports, tools, tmp_path):
    import pygltflib as gl

    cli(tools, "export", exports["fbx"][0], tmp_path / "out.glb", "-fglb2")
    doc = gl.GLTF2().load_binary(str(tmp_path / "out.glb"))
    assert len(doc.meshes[0].primitives[0].targets) == 53


def pyassimp_read(tools, path, tmp_path):
    out = tools.python("assimp_read.py", str(path), str(tmp_path / "read.npz"), what="pyassimp",
                       package="pyassimp==5.2.5 and `apt-get install libassimp5`")
    arrays = np.load(tmp_path / "read.npz")
    return out, arrays["base"], arrays["offsets"]


@pytest.mark.parametrize("key", ["fbx", "fbx75"])
def test_pyassimp_reads_fbx_shapes_and_morph_keys(exports, rig, tools, tmp_path, key):
    path, options = exports[key]
    out, base, offsets = pyassimp_read(tools, path, tmp_path)
    scale = {"mm": 1.0, "cm": 0.1}[options.units]
    t = rig.template
    corner_vertex = t.faces[t.faces >= 0]  # assimp's FBX importer makes one vertex per polygon corner
    assert out["meshes"] == 1 and out["vertices"] == len(corner_vertex) and out["face_sizes"] == [3]
    np.testing.assert_allclose(base / scale, rig.neutral[corner_vertex], atol=1e-4)
    names, expected = tools.offsets(rig)
    assert out["anim_meshes"] == [rename(k, options.naming) for k in names]
    np.testing.assert_allclose(offsets / scale, expected[:, corner_vertex], atol=1e-4)
    anim = out["animations"][0]
    assert anim["name"] == "FaceForge" and anim["ticks_per_second"] == 30  # ticks are frames
    (channel,) = anim["morph_channels"]
    assert len(channel["times"]) == tools.frames
    np.testing.assert_allclose(channel["times"], np.arange(tools.frames))
    for frame in (0, 1, 150, 299):
        assert channel["values"][frame] == list(range(len(names)))
        np.testing.assert_allclose(channel["weights"][frame], tools.weights(rig, frame / tools.fps), atol=1e-6)


def test_pyassimp_reads_glb_targets_and_morph_keys(exports, rig, tools, tmp_path):
    out, base, offsets = pyassimp_read(tools, exports["glb"][0], tmp_path)
    split = seam_split(rig.template)
    assert out["vertices"] == len(split.vertex_ids) and out["faces"] == 2 * 3194
    np.testing.assert_allclose(base * 1000, rig.neutral[split.vertex_ids], atol=1e-4)
    names, expected = tools.offsets(rig)
    assert out["anim_meshes"] == names
    np.testing.assert_allclose(offsets * 1000, expected[:, split.vertex_ids], atol=1e-4)
    anim = out["animations"][0]
    assert anim["ticks_per_second"] == 1000  # assimp's glTF importer counts milliseconds
    (channel,) = anim["morph_channels"]
    np.testing.assert_allclose(channel["times"], rig.animation.times * 1000, atol=1e-3)
    for frame in (0, 1, 150, 299):
        np.testing.assert_allclose(channel["weights"][frame], tools.weights(rig, frame / tools.fps), atol=1e-6)
