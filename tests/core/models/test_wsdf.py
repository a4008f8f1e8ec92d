"""WSDF model: shapes and units, the Re-coupler's distribution, checkpoints and their errors."""
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from faceforge.core.data.stats import compute_stats
from faceforge.core.errors import CheckpointError, NonFiniteError, TopologyMismatchError
from faceforge.core.mesh.hierarchy import load_or_build_hierarchy
from faceforge.core.models.encoder import selection_indices
from faceforge.core.models.recoupler import (Recoupler, normal_to_uniform, product_cdf,
                                             uniform_to_normal)
from faceforge.core.models.registry import load_model
from faceforge.core.models.wsdf import WSDFConfig, WSDFModel

TINY = WSDFConfig(id_dim=4, exp_dim=3, channels=(4, 8, 8), factors=(4, 4), res_blocks=1,
                  coupled_dim=8, generator_hidden=(16,))


@pytest.fixture(scope="module")
def model(population):
    stats = compute_stats(population.vertices)
    return WSDFModel.create(TINY, population.template, stats, metadata={"note": "tiny"}, seed=1)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "model"
    model.save(folder)
    return folder


@pytest.fixture
def broken(saved, tmp_path):
    """A private copy of the saved checkpoint, to damage."""
    return shutil.copytree(saved, tmp_path / "model")


def test_encode_decode_shapes_and_dtypes_numpy_and_torch(model, population):
    n = population.n_vertices
    verts = population.vertices[:2].astype(np.float64)  # (2, N, 3) mm, any float dtype
    z_id, z_exp = model.encode(verts)
    assert isinstance(z_id, np.ndarray) and z_id.dtype == z_exp.dtype == np.float32
    assert z_id.shape == (2, TINY.id_dim) and z_exp.shape == (2, TINY.exp_dim)
    out = model.decode(z_id, z_exp)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (2, n, 3)

    t_id, t_exp = model.encode(torch.from_numpy(verts))
    assert isinstance(t_id, torch.Tensor) and t_id.dtype == torch.float32
    np.testing.assert_array_equal(t_id.numpy(), z_id)
    t_out = model.decode(t_id, t_exp)
    assert isinstance(t_out, torch.Tensor) and t_out.shape == (2, n, 3)
    np.testing.assert_array_equal(t_out.numpy(), out)
    assert model.neutralize(verts).shape == (2, n, 3)


def test_mm_in_and_out_go_through_the_statistics(model, population):
    verts = population.vertices[:3]
    z_id, z_exp = model.encode(verts)
    with torch.no_grad():
        mu_id, _, mu_exp, _ = model.net.encode(torch.from_numpy(model.stats.normalize(verts)))
        decoded = model.stats.denormalize(model.net.decode(mu_id, mu_exp).numpy())
    np.testing.assert_allclose(z_id, mu_id.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_exp, mu_exp.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.decode(z_id, z_exp), decoded, rtol=1e-5, atol=1e-3)


def test_untrained_decode_of_zero_codes_is_the_mean_head_within_a_few_std(model):
    zeros = np.zeros((1, TINY.id_dim), np.float32), np.zeros((1, TINY.exp_dim), np.float32)
    out = model.decode(*zeros)[0]  # (N, 3) mm
    mean, std = model.stats.mean, model.stats.std
    assert np.isfinite(out).all()
    assert np.abs((out - mean) / std).max() < 6  # mm, vertex by vertex, in the template frame
    assert np.linalg.norm(out.mean(0) - mean.mean(0)) < 3 * std.mean()


def test_bad_inputs_raise_typed_errors(model, population):
    with pytest.raises(TopologyMismatchError, match=str(population.n_vertices)):
        model.encode(population.vertices[:1, :-5])
    nan = population.vertices[:1].copy()
    nan[0, 7, 1] = np.nan
    with pytest.raises(NonFiniteError):
        model.encode(nan)
    with pytest.raises(ValueError, match=r"\(B, 3260, 3\)"):
        model.encode(population.vertices[0])
    with pytest.raises(ValueError, match=r"\(B, 4\) and \(B, 3\)"):
        model.decode(np.zeros((2, 4), np.float32), np.zeros((1, 3), np.float32))


def test_gradients_reach_every_parameter(model, population):
    x = torch.from_numpy(model.stats.normalize(population.vertices[:4]))
    mu_id, lv_id, mu_exp, lv_exp = model.net.encode(x)
    z_id = mu_id + torch.randn_like(mu_id) * (0.5 * lv_id).exp()
    z_exp = mu_exp + torch.randn_like(mu_exp) * (0.5 * lv_exp).exp()
    loss = (model.net.decode(z_id, z_exp) - x).square().mean() + lv_id.square().mean()
    loss.backward()
    for name, p in model.net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    model.net.zero_grad(set_to_none=True)


def test_down_sampling_by_index_equals_the_sparse_matrix(population):
    down = load_or_build_hierarchy(population.template, TINY.factors).to_torch().down
    for d in down:
        x = torch.randn(2, d.shape[1], 5)
        dense = torch.sparse.mm(d, x.transpose(0, 1).reshape(d.shape[1], -1))  # (N_i+1, B*C)
        expected = dense.reshape(-1, 2, 5).transpose(0, 1)
        torch.testing.assert_close(x.index_select(1, selection_indices(d)), expected)


def test_recoupler_maps_standard_normals_to_standard_normals():
    gen = torch.Generator().manual_seed(0)
    ids, exps, k, samples = 16, 16, 64, 20_000
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        recoupler = Recoupler(ids, exps, k)
    z_id = torch.randn(samples, ids, generator=gen)
    z_exp = torch.randn(samples, exps, generator=gen)
    with torch.no_grad():
        out = recoupler(z_id, z_exp)  # (S, K)
    # The I*E normals before M_W are exact N(0, 1) each: F is the CDF of a product of uniforms.
    u = normal_to_uniform(z_id)[:, :, None] * normal_to_uniform(z_exp)[:, None, :]
    n = uniform_to_normal(product_cdf(u.flatten(1)))  # (S, I*E)
    assert n.mean(0).abs().max() < 0.04 and (n.std(0) - 1).abs().max() < 0.03
    quantiles = torch.quantile(n[:, 5], torch.tensor([0.025, 0.5, 0.975]))
    torch.testing.assert_close(quantiles, torch.tensor([-1.96, 0.0, 1.96]), atol=0.06, rtol=0)
    # Eq. 2 itself: a row-normalized M_W applied to them.
    reference = n @ torch.nn.functional.normalize(recoupler.weight.detach(), dim=1).T
    torch.testing.assert_close(out, reference, atol=1e-4, rtol=1e-4)
    # Each output is a unit-norm combination of N(0, 1) entries, so its mean is 0. Its variance
    # would be exactly 1 if the entries were independent; they are not: entries sharing z_id[i]
    # (a row of the outer product) or z_exp[j] (a column) correlate (about 0.5), so a component
    # is off by the random cross terms of its row of M_W (about 0.5 * sqrt((I+E)/(I*E)) in
    # variance). Those cross terms have zero mean over random M_W, so the average is near 1.
    assert out.mean(0).abs().max() < 0.05
    assert ((out.std(0) - 1).abs() < 0.35).all()
    assert abs(out.var(0).mean() - 1) < 0.1


def test_recoupler_is_finite_with_finite_gradients_for_extreme_codes():
    recoupler = Recoupler(3, 3, 4)
    z = torch.tensor([[-40.0, 0.0, 40.0]], requires_grad=True)
    out = recoupler(z, z.flip(1))
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(z.grad).all()
    assert out.abs().max() < 6 * 3  # each normal entry is clamped to |N| < 5.3


def test_create_is_seeded_and_leaves_the_global_rng_alone(model, population):
    state = torch.random.get_rng_state()
    again = WSDFModel.create(TINY, population.template, model.stats, seed=1)
    other = WSDFModel.create(TINY, population.template, model.stats, seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    a, b, c = (m.net.state_dict() for m in (model, again, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["generator.0.weight"], c["generator.0.weight"])


def test_config_round_trips_through_json_and_validates():
    assert WSDFConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY
    with pytest.raises(ValueError, match="one width per mesh level"):
        WSDFConfig(channels=(8, 8), factors=(4, 4))
    with pytest.raises(ValueError, match="factors"):
        WSDFConfig(channels=(8, 8), factors=(1.0,))


def test_default_config_fits_the_checkpoint_budget(population):
    stats = compute_stats(population.vertices)
    net = WSDFModel.create(WSDFConfig(), population.template, stats).net
    size = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    assert size < 22e6  # bytes: well under the 30 MB ceiling for a shipped model


def test_save_then_load_gives_bit_identical_outputs(model, saved, population):
    assert sorted(p.name for p in saved.iterdir()) == ["config.json", "template.npz",
                                                       "weights.safetensors"]
    loaded = load_model(saved)
    assert isinstance(loaded, WSDFModel) and loaded.config == TINY
    assert loaded.metadata == {"note": "tiny"}
    assert loaded.template.topology_hash() == model.template.topology_hash()
    np.testing.assert_array_equal(loaded.stats.std, model.stats.std)
    verts = population.vertices[:3]
    for a, b in zip(loaded.encode(verts), model.encode(verts)):
        np.testing.assert_array_equal(a, b)
    z = model.encode(verts)
    np.testing.assert_array_equal(loaded.decode(*z), model.decode(*z))


def test_save_replaces_a_checkpoint_but_never_other_folders(model, saved, tmp_path):
    target = shutil.copytree(saved, tmp_path / "model")
    (target / "stale.txt").write_text("old")
    model.save(target)
    assert not (target / "stale.txt").exists() and load_model(target).config == TINY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp folders left
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a model checkpoint"):
        model.save(precious)
    assert (precious / "thesis.txt").read_text() == "keep me"


def _edit_config(folder, edit):
    path = folder / "config.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "truncated weights": (lambda f: _truncate(f / "weights.safetensors"), "weights.safetensors"),
    "garbage weights": (lambda f: (f / "weights.safetensors").write_bytes(b"\x00" * 64),
                        "weights.safetensors"),
    "missing weights": (lambda f: (f / "weights.safetensors").unlink(), "weights.safetensors"),
    "edited template hash": (
        lambda f: _edit_config(f, lambda d: d["template"].update(topology_hash="0" * 16)),
        "template.npz"),
    "truncated template": (lambda f: _truncate(f / "template.npz"), "template.npz"),
    "missing config": (lambda f: (f / "config.json").unlink(), "config.json"),
    "unparsable config": (lambda f: (f / "config.json").write_text("{"), "config.json"),
    "wrong kind": (lambda f: _edit_config(f, lambda d: d.update(kind="pca")), "config.json"),
    "newer format": (lambda f: _edit_config(f, lambda d: d.update(format_version=99)),
                     "config.json"),
    "invalid config": (lambda f: _edit_config(f, lambda d: d["config"].update(channels=[4])),
                       "config.json"),
    "weights of another size": (
        lambda f: _edit_config(f, lambda d: d["config"].update(generator_hidden=[17])),
        "weights.safetensors"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_bad_checkpoints_raise_checkpoint_error_naming_the_file(broken, damage):
    apply, culprit = DAMAGES[damage]
    apply(broken)
    with pytest.raises(CheckpointError) as info:
        WSDFModel.load(broken)
    assert info.value.path == broken / culprit
    assert culprit in str(info.value)
    assert isinstance(info.value, ValueError)


def test_edited_hash_message_names_both_files(broken):
    DAMAGES["edited template hash"][0](broken)
    with pytest.raises(CheckpointError, match=r"template\.npz.*config\.json"):
        WSDFModel.load(broken)


def test_registry_rejects_a_missing_folder_and_an_unknown_kind(broken, tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        load_model(tmp_path / "nowhere")
    _edit_config(broken, lambda d: d.update(kind="hologram"))
    with pytest.raises(CheckpointError, match=r"config\.json.*'hologram'.*wsdf"):
        load_model(broken)


def test_non_finite_weights_are_refused(model, tmp_path):
    diverged = WSDFModel.create(TINY, model.template, model.stats, seed=3)
    with torch.no_grad():
        diverged.net.generator[0].weight[0, 0] = float("nan")
    diverged.save(tmp_path / "nan")
    with pytest.raises(CheckpointError, match="NaN"):
        load_model(tmp_path / "nan")


def test_a_different_mesh_hierarchy_is_named_as_the_cause(broken):
    path = broken / "weights.safetensors"
    tensors = load_file(path)
    tensors["spiral1"] = tensors["spiral1"][:-1]  # as if decimation now kept one vertex less
    save_file(tensors, path)
    with pytest.raises(CheckpointError, match="'spiral1'.*another mesh hierarchy"):
        WSDFModel.load(broken)
