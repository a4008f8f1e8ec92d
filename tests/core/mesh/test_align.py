import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from faceforge.core.mesh.align import SimilarityTransform, apply_similarity, procrustes


@pytest.fixture
def head():
    """An ellipsoid 'head' in mm (icosphere stretched), so no rotation is a symmetry."""
    sphere = np.asarray(trimesh.creation.icosphere(2, radius=1.0).vertices)
    return sphere * [75.0, 110.0, 95.0] + [3.0, 20.0, -5.0]


def random_similarity(seed):
    rng = np.random.default_rng(seed)
    return Rotation.random(random_state=seed).as_matrix(), rng.normal(0, 50, 3), rng.uniform(0.5, 2)


def test_recovers_known_similarity(head):
    rotation, translation, scale = random_similarity(0)
    target = scale * head @ rotation.T + translation
    fit = procrustes(head, target)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-5)
    np.testing.assert_allclose(fit.translation, translation, atol=1e-5)
    assert fit.scale == pytest.approx(scale, abs=1e-5)
    assert isinstance(fit.scale, float) and fit.rmse < 1e-5
    np.testing.assert_allclose(fit.apply(head), target, atol=1e-5)


def test_weights_ignore_outliers(head):
    rotation, translation, scale = random_similarity(1)
    target = scale * head @ rotation.T + translation
    target[:10] += 40.0
    weights = np.ones(len(head))
    weights[:10] = 0
    fit = procrustes(head, target, weights=weights)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-5)
    assert fit.scale == pytest.approx(scale, abs=1e-5) and fit.rmse < 1e-5
    assert procrustes(head, target).rmse > 1.0


def test_rotation_only_matches_scipy_wahba(head):
    rng = np.random.default_rng(2)
    target = 1.3 * head @ random_similarity(2)[0].T + rng.normal(0, 2.0, head.shape)
    weights = rng.uniform(0.1, 1.0, len(head))
    fit = procrustes(head, target, weights=weights, scale=False)
    assert fit.scale == 1.0
    centred = [p - np.average(p, axis=0, weights=weights) for p in (target, head)]
    reference, _ = Rotation.align_vectors(centred[0], centred[1], weights=weights)
    np.testing.assert_allclose(fit.rotation, reference.as_matrix(), atol=1e-8)
    residual = np.linalg.norm(fit.apply(head) - target, axis=1)
    assert fit.rmse == pytest.approx(np.sqrt(np.average(residual**2, weights=weights)))


def test_reflection(head):
    mirrored = head * [-1.0, 1.0, 1.0]
    proper = procrustes(head, mirrored)
    assert np.linalg.det(proper.rotation) == pytest.approx(1.0) and proper.rmse > 1.0
    improper = procrustes(head, mirrored, reflection=True)
    assert np.linalg.det(improper.rotation) == pytest.approx(-1.0) and improper.rmse < 1e-6


def test_inverse_and_dtypes(head):
    rotation, translation, scale = random_similarity(3)
    transform = SimilarityTransform(rotation, translation, scale)
    points = head.astype(np.float32)
    moved = transform.apply(points)
    assert moved.dtype == np.float32
    np.testing.assert_allclose(transform.inverse().apply(moved), points, atol=1e-4)
    fit = procrustes(head, transform.apply(head) + 1.0)
    inverse = fit.inverse()
    assert inverse.scale == pytest.approx(1 / scale)
    assert inverse.rmse == pytest.approx(fit.rmse / scale)
    direct = apply_similarity(head, rotation, translation, scale)
    np.testing.assert_allclose(direct, transform.apply(head))


def test_batched_matches_loop(head):
    truths = [random_similarity(seed) for seed in range(4)]
    rng = np.random.default_rng(5)
    targets = np.stack([s * head @ r.T + t + rng.normal(0, 1, head.shape) for r, t, s in truths])
    sources = np.broadcast_to(head, targets.shape)
    fit = procrustes(sources, targets)
    assert fit.rotation.shape == (4, 3, 3) and fit.scale.shape == (4,) and fit.rmse.shape == (4,)
    for b in range(4):
        one = procrustes(head, targets[b])
        np.testing.assert_allclose(fit.rotation[b], one.rotation, atol=1e-10)
        np.testing.assert_allclose(fit.translation[b], one.translation, atol=1e-8)
        assert fit.scale[b] == pytest.approx(one.scale) and fit.rmse[b] == pytest.approx(one.rmse)
    np.testing.assert_allclose(fit.inverse().apply(fit.apply(sources)), sources, atol=1e-8)


def test_bad_inputs(head):
    with pytest.raises(ValueError, match=r"\(162, 3\) and \(161, 3\)"):
        procrustes(head, head[:-1])
    with pytest.raises(ValueError, match="weights"):
        procrustes(head, head, weights=-np.ones(len(head)))
    with pytest.raises(ValueError, match="coincide"):
        procrustes(np.ones((5, 3)), head[:5])
