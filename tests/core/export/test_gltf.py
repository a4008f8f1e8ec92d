"""glTF 2.0 (.glb): seams, layout, and the Khronos validator's verdict."""
import numpy as np
import pygltflib as gl

from faceforge.core.export import ExportOptions, export
from faceforge.core.export.gltf import seam_split


def test_seam_split_keeps_one_uv_per_vertex(rig):
    t = rig.template
    split = seam_split(t)
    assert len(split.vertex_ids) == len(np.unique(np.c_[split.vertex_ids, split.uv_ids], axis=0))
    assert set(split.vertex_ids.tolist()) == set(range(t.n_vertices))  # every vertex kept
    assert len(split.vertex_ids) > t.n_vertices  # the head has UV seams
    np.testing.assert_array_equal(split.vertex_ids[split.triangles], t.triangles())
    np.testing.assert_array_equal(split.uv_ids[split.triangles], t.triangle_uvs())


def read(path):
    doc = gl.GLTF2().load_binary(str(path))
    blob = doc.binary_blob()

    def array(index):
        a = doc.accessors[index]
        dtype = {gl.FLOAT: np.float32, gl.UNSIGNED_SHORT: np.uint16, gl.UNSIGNED_INT: np.uint32,
                 gl.UNSIGNED_BYTE: np.uint8}
        width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[a.type]
        out = np.zeros((a.count, width), dtype[a.componentType])
        if a.bufferView is not None:
            v = doc.bufferViews[a.bufferView]
            out[:] = np.frombuffer(blob, dtype[a.componentType], a.count * width, v.byteOffset).reshape(-1, width)
        if a.sparse is not None:
            s = a.sparse
            iv, vv = doc.bufferViews[s.indices.bufferView], doc.bufferViews[s.values.bufferView]
            ids = np.frombuffer(blob, dtype[s.indices.componentType], s.count, iv.byteOffset)
            out[ids] = np.frombuffer(blob, dtype[a.componentType], s.count * width, vv.byteOffset).reshape(-1, width)
        return out

    return doc, array


def test_glb_layout_units_uvs_targets_and_animation(exports, rig, tools):
    doc, array = read(exports["glb"][0])
    t = rig.template
    split = seam_split(t)
    prim = doc.meshes[0].primitives[0]
    np.testing.assert_allclose(array(prim.attributes.POSITION), rig.neutral[split.vertex_ids] / 1000, atol=1e-7)
    uv = array(prim.attributes.TEXCOORD_0)
    np.testing.assert_allclose(uv[:, 0], t.uvs[split.uv_ids, 0])
    np.testing.assert_allclose(uv[:, 1], 1 - t.uvs[split.uv_ids, 1], atol=1e-7)  # V flipped
    np.testing.assert_array_equal(array(prim.indices).reshape(-1, 3), split.triangles)
    names, offsets = tools.offsets(rig)
    assert doc.meshes[0].extras["targetNames"] == names
    assert doc.meshes[0].weights == [0.0] * len(names)
    sparse = [doc.accessors[target["POSITION"]].sparse is not None for target in prim.targets]
    assert all(sparse)  # every face shape moves a region, so sparse is smaller here
    for target, expected in zip(prim.targets, offsets):
        np.testing.assert_allclose(array(target["POSITION"]), expected[split.vertex_ids] / 1000, atol=1e-9)
    sampler = doc.animations[0].samplers[0]
    assert sampler.interpolation == "LINEAR" and doc.animations[0].channels[0].target.path == "weights"
    np.testing.assert_allclose(array(sampler.input)[:, 0], rig.animation.times, atol=1e-6)
    weights = array(sampler.output).reshape(len(rig.animation.times), -1)
    np.testing.assert_array_equal(weights, np.c_[rig.animation.weights, rig.animation.identity_weights])


def test_units_option_never_changes_gltf_metres(rig, tmp_path):
    export(rig, tmp_path / "mm.glb", ExportOptions(units="mm"))
    export(rig, tmp_path / "cm.glb", ExportOptions(units="cm"))
    assert (tmp_path / "mm.glb").read_bytes() == (tmp_path / "cm.glb").read_bytes()  # also: deterministic


def test_khronos_validator_finds_no_errors_or_warnings(exports, tools):
    report = tools.node("validate.mjs", str(exports["glb"][0]), what="the Khronos glTF validator (npm gltf-validator)")
    issues = report["issues"]
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
    # The only remark: UVs with no texture yet (detail maps will use them).
    assert [m["code"] for m in issues["messages"]] == ["UNUSED_OBJECT"]
    assert issues["messages"][0]["pointer"].endswith("TEXCOORD_0")
    info = report["info"]
    assert info["hasMorphTargets"] and info["animationCount"] == 1 and info["totalTriangleCount"] == 2 * 3194


def test_validator_accepts_a_rig_without_animation_or_normals(rig, tools, tmp_path):
    from faceforge.core.export import Rig

    still = Rig(rig.template, rig.neutral, dict(list(rig.shapes.items())[-3:]))  # ... tongueOut, which is empty
    export(still, tmp_path / "still.glb", ExportOptions(normals=False))
    report = tools.node("validate.mjs", str(tmp_path / "still.glb"), what="the Khronos glTF validator")
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
