"""Heat-map measures against a naive reference: two separate decodes with the shipped model."""
import numpy as np
import pytest

from faceforge.core.models.measures import distance_from_neutral


@pytest.fixture(scope="module")
def model():
    import torch

    from faceforge.core.models.registry import load_default_model

    torch.set_num_threads(1)
    return load_default_model()


def test_distance_from_neutral_matches_two_separate_decodes(model):
    rng = np.random.default_rng(0)
    z_id, z_exp = rng.standard_normal(model.id_dim), rng.standard_normal(model.exp_dim)
    result = distance_from_neutral(model, z_id, z_exp)
    face = model.decode(z_id[None], z_exp[None])[0]
    neutral = model.decode(z_id[None], np.zeros((1, model.exp_dim)))[0]
    n = model.template.n_vertices
    assert result.distance.shape == (n,) and result.distance.dtype == np.float32
    np.testing.assert_allclose(result.face, face, atol=1e-4)
    np.testing.assert_allclose(result.neutral, neutral, atol=1e-4)
    np.testing.assert_allclose(result.distance, np.linalg.norm(face - neutral, axis=1), atol=1e-4)
    assert result.distance.max() > 1.0  # mm: a random expression moves the face


def test_a_neutral_face_is_at_distance_zero(model):
    z_id = np.random.default_rng(1).standard_normal(model.id_dim)
    assert distance_from_neutral(model, z_id, np.zeros(model.exp_dim)).distance.max() < 1e-5
