"""The rig containers, the options and `prepare`: checks, typed errors, naming, subsets, units."""
import numpy as np
import pytest

from faceforge.core.errors import ExportError, FaceForgeError
from faceforge.core.export import Animation, ExportOptions, Rig, prepare, rename


def test_export_error_is_typed_and_says_where():
    e = ExportError("it broke", "/x/face.fbx")
    assert isinstance(e, FaceForgeError) and isinstance(e, ValueError)
    assert str(e) == "Cannot export '/x/face.fbx': it broke"


def test_rig_keeps_shapes_as_float32(rig):
    assert rig.neutral.dtype == np.float32 and rig.neutral.shape == (3260, 3)
    assert len(rig.shapes) == 52 and all(v.dtype == np.float32 for v in rig.shapes.values())


def test_wrong_vertex_count_is_refused(head):
    t = head.template
    with pytest.raises(ExportError, match=r"shape 'jawOpen' has 3259 vertices but the template has 3260"):
        Rig(t, t.vertices, {"jawOpen": t.vertices[:-1]})
    with pytest.raises(ExportError, match=r"the neutral must be \(N, 3\)"):
        Rig(t, t.vertices.ravel(), {})


def test_non_finite_values_are_refused(head):
    t = head.template
    bad = t.vertices.copy()
    bad[10, 1] = np.nan
    bad[11, 0] = np.inf
    with pytest.raises(ExportError, match=r"shape 'mouthClose' holds 2 non-finite values"):
        Rig(t, t.vertices, {"mouthClose": bad})
    with pytest.raises(ExportError, match="the neutral holds 2 non-finite"):
        Rig(t, bad, {})


def test_animation_is_checked(head):
    t = head.template
    shapes = {"jawOpen": t.vertices + 1}
    with pytest.raises(ExportError, match="strictly increasing"):
        Animation(30, [0.0, 0.0], np.zeros((2, 1)))
    with pytest.raises(ExportError, match=r"must lie in 0\.\.1, got 0\.\.1\.5"):
        Animation(30, [0.0, 1.0], [[0.0], [1.5]])
    with pytest.raises(ExportError, match="positive number"):
        Animation(0, [0.0], [[0.0]])
    with pytest.raises(ExportError, match="non-finite"):
        Animation(30, [0.0, 1.0], [[0.0], [np.nan]])
    with pytest.raises(ExportError, match="2 weight columns but the rig has 1 shapes"):
        Rig(t, t.vertices, shapes, Animation(30, [0.0], [[0.0, 0.0]]))
    with pytest.raises(ExportError, match="1 columns but there are 2 identity shapes"):
        Animation(30, [0.0], [[0.0]], identity_shapes={"a": t.vertices, "b": t.vertices},
                  identity_weights=[[0.0]])
    with pytest.raises(ExportError, match="identity shape 'a' has 3259 vertices"):
        Rig(t, t.vertices, shapes, Animation(30, [0.0], [[0.0]], {"a": t.vertices[1:]}, [[0.0]]))


def test_options_are_checked():
    with pytest.raises(ExportError, match="unknown unit 'inch'; choose one of mm, cm, m"):
        ExportOptions(units="inch")
    with pytest.raises(ExportError, match="unknown naming scheme 'maya'; choose one of arkit, ict, livelink"):
        ExportOptions(naming="maya")
    with pytest.raises(ExportError, match="positive"):
        ExportOptions(intensity=0)
    with pytest.raises(ExportError, match="7400 or 7500"):
        ExportOptions(fbx_version=7300)


@pytest.mark.parametrize(("naming", "expected"), [
    ("arkit", ["eyeBlinkLeft", "jawOpen", "mouthSmileRight", "identity_1"]),
    ("ict", ["eyeBlink_L", "jawOpen", "mouthSmile_R", "identity_1"]),
    ("livelink", ["EyeBlinkLeft", "JawOpen", "MouthSmileRight", "identity_1"]),
])
def test_naming_schemes(naming, expected):
    assert [rename(k, naming) for k in ("eyeBlinkLeft", "jawOpen", "mouthSmileRight", "identity_1")] == expected


def test_prepare_applies_subset_order_units_and_intensity(rig):
    data = prepare(rig, ExportOptions(units="cm", shapes=("jawOpen", "eyeBlinkLeft"), intensity=0.5,
                                      naming="ict"))
    assert data.names == ["jawOpen", "eyeBlink_L", "identity_1"]
    jaw = (rig.shapes["jawOpen"].astype(np.float64) - rig.neutral) * 0.5 * 0.1
    np.testing.assert_allclose(data.offsets[0], jaw, atol=1e-9)
    ident = (rig.animation.identity_shapes["identity_1"].astype(np.float64) - rig.neutral) * 0.1
    np.testing.assert_allclose(data.offsets[2], ident, atol=1e-9)  # identity shapes ignore intensity
    np.testing.assert_allclose(data.neutral, rig.neutral * 0.1, rtol=1e-7)
    keys = list(rig.shapes)
    np.testing.assert_array_equal(data.weights[:, 0], rig.animation.weights[:, keys.index("jawOpen")])
    np.testing.assert_array_equal(data.weights[:, 1], rig.animation.weights[:, keys.index("eyeBlinkLeft")])
    np.testing.assert_array_equal(data.weights[:, 2], rig.animation.identity_weights[:, 0])


def test_subset_may_name_expression_categories(rig):
    data = prepare(rig, ExportOptions(shapes=("smile", "jawOpen")))
    assert data.names == ["smile", "jawOpen", "identity_1"]
    mix = sum(w * (rig.shapes[k].astype(np.float64) - rig.neutral)
              for k, w in {"mouthSmileLeft": 0.85, "mouthSmileRight": 0.85, "cheekSquintLeft": 0.45,
                           "cheekSquintRight": 0.45, "eyeSquintLeft": 0.25, "eyeSquintRight": 0.25}.items())
    np.testing.assert_allclose(data.offsets[0], mix, atol=1e-5)
    assert not data.weights[:, 0].any()  # a category has no curve of its own


def test_unknown_subset_names_are_refused(rig):
    with pytest.raises(ExportError, match=r"unknown shapes \['jawClench'\] in the subset; choose from"):
        prepare(rig, ExportOptions(shapes=("jawOpen", "jawClench")))


def test_renaming_collisions_are_refused(head):
    t = head.template
    rig = Rig(t, t.vertices, {"eyeBlinkLeft": t.vertices, "eyeBlink_L": t.vertices})
    with pytest.raises(ExportError, match=r"\['eyeBlink_L'\] occur twice after renaming"):
        prepare(rig, ExportOptions(naming="ict"))
