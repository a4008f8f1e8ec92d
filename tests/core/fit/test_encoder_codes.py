"""The codes of a fit are the encoder's split of its registered mesh: a strong expression goes
to z_exp (the data fit leaves it in z_id); registration and neutral do not change (issue 6)."""
import numpy as np
import pytest

from faceforge.core.data.synth.generate import Population, SynthConfig
from faceforge.core.fit.fitting import FitOptions, fit_scan
from faceforge.core.fit.rawscan import RawScanSpec, make_raw_scan
from faceforge.core.fit.scan import prepare_scan
from faceforge.core.models.registry import load_default_model
from faceforge.core.progress import drive


@pytest.fixture(scope="module")
def case():
    """A held-out person's mouth stretch as a 10k raw scan, fitted with and without encoder codes."""
    model = load_default_model()
    subject = Population(SynthConfig(subjects=2, seed=4242, noise_mm=0.0, rotation_deg=0.0,
                                     translation_mm=0.0)).subject(1)
    assert subject.expression[2] == "mouth_stretch"
    raw = make_raw_scan(subject.vertices[2], model.template, RawScanSpec(density=10_000, seed=3))
    scan = prepare_scan(raw.vertices, raw.faces)
    fits = {codes: drive(fit_scan(model, scan, FitOptions(encoder_codes=codes))) for codes in (True, False)}
    return model, fits


def test_a_strong_expression_goes_to_z_exp(case):
    model, fits = case
    fit = fits[True]
    z_id, z_exp = model.encode(fit.registered[None])
    np.testing.assert_allclose(fit.z_exp, z_exp[0], atol=1e-5)
    np.testing.assert_allclose(fit.z_id, z_id[0], atol=1e-5)
    assert np.linalg.norm(fit.z_exp) > 2 * np.linalg.norm(fits[False].z_exp)  # measured: 7.0 vs 1.9
    moved = {codes: np.linalg.norm(f.model_fit - model.decode(f.z_id[None], 0 * f.z_exp[None])[0], axis=1).max()
             for codes, f in fits.items()}
    assert moved[True] > 5.0 and moved[True] > 2 * moved[False]  # mm: the open mouth is in the expression code


def test_registration_and_neutral_stay(case):
    _, fits = case
    a, b = fits[True], fits[False]
    np.testing.assert_allclose(a.registered, a.model_fit + a.offsets, atol=1e-4)
    for x, y in ((a.registered, b.registered), (a.neutral, b.neutral)):
        # mm; two runs of the same multi-threaded float32 LBFGS fit differ by 0.08 mm on average
        assert np.linalg.norm(x - y, axis=1).mean() < 0.3
