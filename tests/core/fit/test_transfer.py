"""Expression transfer between fitted scans, and a fitted identity with editor expressions."""
import dataclasses

import numpy as np
import pytest

from faceforge.core.data.synth.generate import Population, SynthConfig
from faceforge.core.errors import TopologyMismatchError
from faceforge.core.fit.fitting import FitOptions, FitStage, fit_scan
from faceforge.core.fit.rawscan import RawScanSpec, make_raw_scan
from faceforge.core.fit.rigid import RigidFit
from faceforge.core.fit.scan import prepare_scan
from faceforge.core.fit.transfer import transfer_expression
from faceforge.core.models.registry import load_default_model
from faceforge.core.progress import drive

OPTIONS = FitOptions(samples=8_000, stages=(FitStage("pose", 1, codes=False),
                                            FitStage("coarse", 3, prior=10.0, sigma=4.0),
                                            FitStage("fine", 3, sigma=2.0)), refine_iterations=2)


@pytest.fixture(scope="module")
def model():
    return load_default_model()


@pytest.fixture(scope="module")
def fits(model):
    """Fits of two unseen people (seed 4343): A smiling, B stretching the mouth; with truths."""
    config = SynthConfig(subjects=2, per_subject=3, seed=4343, noise_mm=0.0, rotation_deg=0.0,
                         translation_mm=0.0)
    population = Population(config)
    out = []
    for index, expression in ((0, 1), (1, 2)):
        subject = population.subject(index)
        raw = make_raw_scan(subject.vertices[expression], model.template,
                            RawScanSpec(density=15_000, scale_jitter=0.0, seed=index))
        rigid = RigidFit(raw.transform.inverse(), 0.0, 1.0, 1.0)  # the known pose as the start
        result = drive(fit_scan(model, prepare_scan(raw.vertices, raw.faces), OPTIONS, rigid=rigid))
        out.append((result, subject))
    return out


def test_a_zero_expression_gives_back_the_target_neutral(model, fits):
    a, _ = fits[0]
    np.testing.assert_allclose(transfer_expression(a, np.zeros(model.exp_dim), model), a.neutral,
                               atol=1e-3)


def test_transfer_keeps_the_target_identity_and_takes_the_source_expression(model, fits):
    (a, _), (b, _) = fits
    moved = transfer_expression(a, b, model)
    assert moved.shape == (model.template.n_vertices, 3) and moved.dtype == np.float32
    # the identity is A's: neutralizing the result gives A's neutral back, not B's
    z_id, _ = model.encode(moved[None])
    z_id_a, _ = model.encode(a.neutral[None])
    z_id_b, _ = model.encode(b.neutral[None])
    assert np.linalg.norm(z_id - z_id_a) < 0.5 * np.linalg.norm(z_id - z_id_b)
    # the expression is B's: A's face moves the way B's model fit moved away from B's neutral
    mouth = model.template.regions["mouth"]
    zero = np.zeros((1, model.exp_dim), np.float32)
    wanted = (b.model_fit - model.decode(b.z_id[None], zero)[0])[mouth].ravel()
    got = (moved - a.neutral)[mouth].ravel()
    assert np.corrcoef(wanted, got)[0, 1] > 0.6
    assert np.linalg.norm(got) > 0.5 * np.linalg.norm(wanted)
    # and not A's own smile
    own = (a.model_fit - model.decode(a.z_id[None], zero)[0])[mouth].ravel()
    assert np.corrcoef(own, got)[0, 1] < np.corrcoef(wanted, got)[0, 1]


def test_a_fitted_identity_takes_any_expression_codes(model, fits):
    a, _ = fits[0]
    codes = np.random.default_rng(0).normal(size=(3, model.exp_dim)).astype(np.float32)
    batch = transfer_expression(a, codes, model)
    assert batch.shape == (3, model.template.n_vertices, 3)
    np.testing.assert_allclose(batch[1], transfer_expression(a, codes[1], model), atol=1e-3)
    offsets = a.neutral - model.decode(a.z_id[None], np.zeros((1, model.exp_dim), np.float32))[0]
    plain = model.decode(np.repeat(a.z_id[None], 3, 0), codes)
    np.testing.assert_allclose(batch - plain, np.broadcast_to(offsets, batch.shape),
                               atol=1e-3)  # mm: the identity-specific refinement rides along


def test_bad_codes_and_foreign_fits_are_refused(model, fits):
    a, _ = fits[0]
    with pytest.raises(ValueError, match="expression codes must be"):
        transfer_expression(a, np.zeros(model.exp_dim + 1), model)
    with pytest.raises(ValueError, match="expression codes must be"):
        transfer_expression(a, np.zeros((2, 2, model.exp_dim)), model)
    other = dataclasses.replace(a, neutral=a.neutral[:-1])
    with pytest.raises(TopologyMismatchError):
        transfer_expression(other, np.zeros(model.exp_dim), model)
    foreign = dataclasses.replace(a, z_id=a.z_id + 0.5)  # codes that do not decode to the recorded face
    with pytest.raises(ValueError, match="another model"):
        transfer_expression(foreign, np.zeros(model.exp_dim), model)
    with pytest.raises(ValueError, match="another model"):
        transfer_expression(a, foreign, model)
    with pytest.raises(ValueError, match="codes but the model expects"):
        transfer_expression(dataclasses.replace(a, z_id=a.z_id[:-1]), np.zeros(model.exp_dim), model)
