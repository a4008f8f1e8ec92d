"""Semantic controls fitted on a tiny WSDF model really trained on the synthetic population."""
import numpy as np
import pytest

from faceforge.core.errors import CheckpointError
from faceforge.core.models.semantics import Semantics, fit_for_checkpoint, fit_for_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(model, dataset): 8 subjects x 20 expressions, 150 steps of a tiny WSDF."""
    from faceforge.core.data.synth.generate import SynthConfig, generate
    from faceforge.core.models.registry import load_model
    from faceforge.core.models.wsdf import WSDFConfig
    from faceforge.core.train.config import TrainConfig
    from faceforge.core.train.trainer import train

    data = generate(SynthConfig(subjects=8, per_subject=20, seed=2))
    model = WSDFConfig(id_dim=8, exp_dim=8, channels=(8, 16, 16), factors=(4.0, 4.0),
                       res_blocks=1, coupled_dim=32, generator_hidden=(64,))
    config = TrainConfig(model=model, subjects_per_batch=4, samples_per_subject=4, steps=150,
                         eval_every=0, checkpoint_every=0, test_fraction=0.25, seed=0)
    out = tmp_path_factory.mktemp("run")
    for _ in train(config, data, out):
        pass
    return load_model(out / "checkpoint"), data, out / "checkpoint"


@pytest.fixture(scope="module")
def semantics(trained):
    return fit_for_model(*trained[:2])


def test_neutral_is_zero_and_categories_are_named(semantics):
    assert len(semantics.arkit_units) == 52 and semantics.expression_map.shape == (52, 8)
    assert not semantics.expression(np.zeros(52)).any()
    assert not semantics.category("neutral").any()
    assert "smile" in semantics.categories and semantics.category("smile", 0.5).shape == (8,)
    with pytest.raises(KeyError, match="choose from"):
        semantics.category("laughing")


def test_arkit_map_explains_the_expression_codes(trained, semantics):
    model, data, _ = trained
    _, z_exp = model.encode(np.asarray(data.vertices))
    predicted = semantics.expression(data.extras["arkit"])
    residual = np.sqrt(((predicted - z_exp) ** 2).mean())
    assert residual == pytest.approx(semantics.info["expression_fit_rms"], rel=1e-4)
    assert residual < 0.9 * np.sqrt((z_exp ** 2).mean())  # better than predicting zero


def test_attribute_edit_sets_one_attribute_and_keeps_the_others(trained, semantics):
    model, data, _ = trained
    assert set(semantics.attributes) == {"age", "gender", "muscle", "weight"}
    z_id, _ = model.encode(np.asarray(data.vertices[:3]))
    older = semantics.set_attribute(z_id, "age", 70.0)
    np.testing.assert_allclose(semantics.attribute(older, "age"), 70.0, atol=1e-3)
    for other in semantics.attributes:
        if other != "age":
            np.testing.assert_allclose(semantics.attribute(older, other),
                                       semantics.attribute(z_id, other), atol=1e-3)
    moved = np.abs(model.decode(older, np.zeros((3, 8), np.float32))
                   - model.decode(z_id, np.zeros((3, 8), np.float32))).max()
    assert moved > 0.1  # mm: the face changes


def test_plausibility_and_projection(trained, semantics):
    model, data, _ = trained
    z_id, _ = model.encode(np.asarray(data.vertices))
    prior = semantics.identity_prior
    assert np.median(prior.plausibility(z_id)) > 0.05
    far = prior.mean + 20 * (z_id[0] - prior.mean)
    assert prior.plausibility(far) < 1e-6
    back = prior.project(far, level=0.01)
    assert prior.plausibility(back) == pytest.approx(0.01, rel=1e-3)
    np.testing.assert_array_equal(prior.project(z_id[:1], level=1e-9), z_id[:1])


def test_save_load_and_corrupt_file(tmp_path, semantics):
    semantics.save(tmp_path)
    back = Semantics.load(tmp_path)
    np.testing.assert_array_equal(back.expression_map, semantics.expression_map)
    assert back.categories == semantics.categories and back.info == semantics.info
    assert Semantics.load(tmp_path / "nothing-here") is None
    (tmp_path / "semantics.safetensors").write_bytes(b"\x10\x00garbage")
    with pytest.raises(CheckpointError, match="semantics.safetensors"):
        Semantics.load(tmp_path)


def test_fit_for_checkpoint_uses_only_the_training_subjects(trained):
    _, data, folder = trained
    fitted = fit_for_checkpoint(folder, data)
    assert fitted.info["subjects"] == 6 and fitted.info["meshes"] == 120  # 2 of 8 held out
    assert Semantics.load(folder).info == fitted.info


def test_prior_axes_are_the_identity_prior_in_standard_deviations(trained, semantics):
    model, data, _ = trained
    prior, axes = semantics.identity_prior, semantics.identity_prior.axes()
    np.testing.assert_allclose(axes.axes @ axes.axes.T, np.eye(8), atol=1e-5)  # orthonormal rows
    assert (np.diff(axes.scales) <= 1e-6).all()  # by decreasing std dev
    cov = np.linalg.inv(prior.precision)
    np.testing.assert_allclose(axes.axes.T @ np.diag(axes.scales ** 2) @ axes.axes, cov, rtol=1e-3, atol=1e-5)
    z_id, _ = model.encode(np.asarray(data.vertices[:1]))
    moved = axes.with_coord(z_id[0], 2, 1.5)
    assert axes.coords(moved)[2] == pytest.approx(1.5, abs=1e-4)
    np.testing.assert_allclose(np.delete(axes.coords(moved), 2), np.delete(axes.coords(z_id[0]), 2), atol=1e-4)
    draws = np.stack([axes.random(seed) for seed in range(4000)])
    np.testing.assert_array_equal(axes.random(7), draws[7])  # reproducible from the seed
    np.testing.assert_allclose(draws.mean(0), prior.mean, atol=0.1 * axes.scales.max())
    assert np.median(prior.distance2(draws)) == pytest.approx(7.34, rel=0.1)  # chi2(8) median


def test_attribute_range_spans_the_prior(semantics):
    lo, hi = semantics.attribute_range("age", sigma=3.0)
    mid = float(semantics.attribute(semantics.identity_prior.mean, "age"))
    assert lo < mid < hi and (hi - mid) == pytest.approx(mid - lo)
    draws = np.stack([semantics.identity_prior.axes().random(s) for s in range(2000)])
    ages = semantics.attribute(draws, "age")
    assert np.mean((ages > lo) & (ages < hi)) > 0.99  # +-3 sigma holds nearly all of the prior
    with pytest.raises(KeyError, match="choose from"):
        semantics.attribute_range("height")
