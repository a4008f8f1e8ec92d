"""The model's own frame of a registered mesh: head pose is taken out before encoding (issue 6)."""
import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from faceforge.core.data.synth.generate import Population, SynthConfig
from faceforge.core.fit.canonical import canonical_codes, stable_vertices
from faceforge.core.mesh.align import SimilarityTransform
from faceforge.core.models.registry import load_default_model


@pytest.fixture(scope="module")
def model():
    return load_default_model()


@pytest.fixture(scope="module")
def stretch():
    """A held-out person's mouth stretch (true mesh, the training data's frame)."""
    subject = Population(SynthConfig(subjects=1, seed=4242, noise_mm=0.0, rotation_deg=0.0,
                                     translation_mm=0.0)).subject(0)
    return subject.vertices[2].astype(np.float64)


def tilted(x, degrees, shift):
    rotation = Rotation.from_rotvec(np.radians(degrees)).as_matrix()
    centre = x.mean(axis=0)
    return SimilarityTransform(rotation, centre - rotation @ centre + np.asarray(shift)).apply(x)


def test_a_tilted_head_gives_the_same_codes_and_comes_back(model, stretch):
    stable = stable_vertices(model.template)
    moved = tilted(stretch, [2.0, -1.0, 1.0], [1.5, -2.0, 1.0])
    assert np.linalg.norm(moved - stretch, axis=1).mean() > 3.0  # mm
    frame, z_id, z_exp = canonical_codes(model, moved, stable)
    assert frame.scale == 1.0 and np.isclose(np.linalg.det(frame.rotation), 1.0)
    back = frame.apply(moved)
    assert np.linalg.norm(back - stretch, axis=1).mean() < 1.2  # measured 1.04: the model's frame, not the data's
    _, plain_id, plain_exp = canonical_codes(model, stretch, stable)
    np.testing.assert_allclose(z_exp, plain_exp, atol=0.05)
    np.testing.assert_allclose(z_id, plain_id, atol=0.05)
    # encoded as it lies, the tilt goes into the expression code
    _, raw_exp = model.encode(moved[None].astype(np.float32))
    assert np.linalg.norm(raw_exp[0] - plain_exp) > 10 * np.linalg.norm(z_exp - plain_exp)


def test_stable_vertices_fall_back_to_all_without_regions(model):
    template = model.template
    assert 0 < stable_vertices(template).sum() < template.n_vertices
    bare = dataclasses.replace(template, regions={})
    assert stable_vertices(bare).all()
