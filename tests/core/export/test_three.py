"""three.js under Node: FBXLoader and GLTFLoader expose the morph targets and play the animation."""
import numpy as np
import pytest

from faceforge.core.export import rename


def load(tools, script, path):
    return tools.node(script, str(path), *map(str, tools.sample_times), what="three.js (npm three)")


@pytest.mark.parametrize(("key", "script", "unit"), [
    ("fbx", "fbx_three.mjs", 1.0), ("fbx75", "fbx_three.mjs", 0.1), ("glb", "gltf_three.mjs", 0.001),
])
def test_three_loaders(exports, rig, tools, key, script, unit):
    path, options = exports[key]
    out = load(tools, script, path)
    names, offsets = tools.offsets(rig)
    naming = options.naming if key != "glb" else "arkit"
    assert out["meshes"] == 1 and out["meshName"] == "face" and out["relative"]
    assert out["names"] == [rename(k, naming) for k in names]
    # each morph target's largest offset component, in the file's unit
    np.testing.assert_allclose(out["maxDelta"], np.abs(offsets).max(axis=(1, 2)) * unit, rtol=1e-5, atol=1e-9)
    assert out["clips"] == 1 and out["duration"] == pytest.approx((tools.frames - 1) / tools.fps, abs=1e-5)
    if key == "glb":  # one track drives every influence
        assert [(t["name"], t["keys"]) for t in out["tracks"]] == [("face.morphTargetInfluences", tools.frames)]
    else:  # one track per BlendShapeChannel
        assert [t["name"] for t in out["tracks"]] == [f"face.morphTargetInfluences[{k}]" for k in range(len(names))]
        assert {t["keys"] for t in out["tracks"]} == {tools.frames}
    for t, got in zip(tools.sample_times, out["weights"]):
        np.testing.assert_allclose(got, tools.weights(rig, t), atol=1e-5, err_msg=f"influences at {t} s")
