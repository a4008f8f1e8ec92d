"""Rigs and timelines decoded by a tiny model really trained on the synthetic population."""
import numpy as np
import pytest

from faceforge.core.data.synth.assets import ARKIT_UNITS
from faceforge.core.document import Keyframe, State, Track
from faceforge.core.errors import ExportError
from faceforge.core.export import build_rig, export, rig_from_state

FPS, DURATION = 30.0, 4.0


@pytest.fixture(scope="module")
def identities(tiny_model):
    """Two identities of the fitted prior: its mean and a face 2.5 std devs away on its main axis."""
    _, semantics, _ = tiny_model
    prior = semantics.identity_prior
    var, vec = np.linalg.eigh(np.linalg.inv(prior.precision.astype(np.float64)))
    far = prior.mean + 2.5 * np.sqrt(var[-1]) * vec[:, -1]
    return prior.mean.astype(np.float32), far.astype(np.float32)


@pytest.fixture(scope="module")
def animated(tiny_model, identities):
    """(state, key ARKit weights by time, rig): expression keys at 0, 1, 2.5 s; identity morph 0 -> 3 s."""
    model, semantics, _ = tiny_model
    keys = {0.0: {}, 1.0: {"jawOpen": 0.8, "mouthSmileLeft": 0.5}, 2.5: {"eyeBlinkRight": 1.0, "browInnerUp": 0.3}}
    weights = {}
    for t, units in keys.items():
        w = np.zeros(len(semantics.arkit_units), np.float32)
        for k, v in units.items():
            w[semantics.arkit_units.index(k)] = v
        weights[t] = w
    expression = Track(tuple(Keyframe(t, semantics.expression(w)) for t, w in weights.items()), "smooth")
    identity = Track((Keyframe(0.0, identities[0]), Keyframe(3.0, identities[1])))
    state = State(identities[0], np.zeros(model.exp_dim), np.zeros(52), fps=FPS, duration=DURATION,
                  identity=identity, expression=expression)
    return state, weights, rig_from_state(model, semantics, state)


def test_neutral_and_shapes_are_decoded_for_this_identity(tiny_model, identities):
    model, semantics, _ = tiny_model
    z = identities[1]
    rig = build_rig(model, semantics, z, intensity=0.7)
    assert list(rig.shapes) == list(ARKIT_UNITS) and rig.animation is None
    zeros = np.zeros((1, model.exp_dim), np.float32)
    np.testing.assert_allclose(rig.neutral, model.decode(z[None], zeros)[0], atol=1e-4)
    k = ARKIT_UNITS.index("jawOpen")
    coeffs = np.zeros((1, 52), np.float32)
    coeffs[0, k] = 0.7
    np.testing.assert_allclose(rig.shapes["jawOpen"], model.decode(z[None], semantics.expression(coeffs))[0], atol=1e-4)
    assert np.abs(rig.shapes["jawOpen"] - rig.neutral).max() > 0.5  # mm: the jaw really opens


def test_a_broad_face_smiles_differently(tiny_model, identities):
    model, semantics, _ = tiny_model
    a, b = (build_rig(model, semantics, z) for z in identities)
    for name in ("mouthSmileLeft", "jawOpen"):
        da, db = a.shapes[name] - a.neutral, b.shapes[name] - b.neutral
        assert np.abs(da - db).max() > 0.1 * np.abs(da).max() > 0.01  # mm, beyond decode noise


def test_categories_are_extra_decoded_shapes(tiny_model, identities):
    model, semantics, _ = tiny_model
    rig = build_rig(model, semantics, identities[0], intensity=0.5, categories=True)
    extra = list(rig.shapes)[52:]
    assert "smile" in extra and "neutral" not in extra
    z = np.repeat(identities[0][None], 1, 0)
    smile = model.decode(z, semantics.category("smile", 0.5)[None])[0]
    np.testing.assert_allclose(rig.shapes["smile"], smile, atol=1e-4)


def test_timeline_weights_round_trip_at_key_times(tiny_model, animated):
    _, semantics, _ = tiny_model
    state, weights, rig = animated
    anim = rig.animation
    assert anim.fps == FPS and len(anim.times) == int(DURATION * FPS) + 1
    assert anim.weights.shape == (len(anim.times), 52) and 0 <= anim.weights.min() and anim.weights.max() <= 1
    units = semantics.expression(np.eye(52, dtype=np.float32))
    for t, w in weights.items():  # the weights give back the key's z_exp (the 52 codes are not
        got = anim.weights[int(round(t * FPS))]  # independent in 8 dimensions: left = right here)
        np.testing.assert_allclose(got @ units, semantics.expression(w), atol=1e-4)
    np.testing.assert_allclose(anim.weights[30], weights[1.0], atol=1e-4)  # nnls finds this sparse key
    # identity: the rig is the first key; the second is one shape blended in linearly over 0..3 s
    assert list(anim.identity_shapes) == ["identity_2"]
    np.testing.assert_allclose(anim.identity_weights[[0, 45, 90, 120], 0], [0, 0.5, 1, 1], atol=1e-6)


def test_fbx_channels_equal_the_decoded_shapes(animated, tools, tmp_path):
    _, weights, rig = animated
    path = tmp_path / "face.fbx"
    export(rig, path)
    times = sorted(weights)
    out = tools.python("ufbx_read.py", str(path), *map(str, times), what="ufbx (PyPI ufbx)", package="ufbx==0.0.5")
    assert out["warnings"] == [] and out["fps"] == FPS
    names, offsets = tools.offsets(rig)
    assert [c["name"] for c in out["channels"]] == names and len(names) == 53
    for channel, expected in zip(out["channels"], offsets):
        dense = np.zeros_like(expected)
        dense[channel["indexes"]] = channel["offsets"]
        np.testing.assert_allclose(dense, expected, atol=1e-4)
    for i, t in enumerate(times):
        evaluated = np.array([c["evaluated"][i] for c in out["channels"]])
        np.testing.assert_allclose(evaluated, tools.weights(rig, t), atol=1e-5)
        np.testing.assert_allclose(evaluated[:52], rig.animation.weights[int(round(t * FPS))], atol=1e-5)


def test_bad_inputs_raise_export_errors(tiny_model):
    model, semantics, _ = tiny_model
    with pytest.raises(ExportError, match="no semantic controls"):
        build_rig(model, None, np.zeros(model.id_dim))
    with pytest.raises(ExportError, match="same model"):
        build_rig(model, semantics, np.zeros(model.id_dim + 1))
    with pytest.raises(ExportError, match="positive"):
        build_rig(model, semantics, np.zeros(model.id_dim), intensity=0)
