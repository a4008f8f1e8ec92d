"""The WSDF losses against naive reference implementations."""
import math

import numpy as np
import pytest
import torch

from faceforge.core.data.stats import compute_stats
from faceforge.core.train import losses as L


@pytest.fixture(scope="module")
def net(tiny_data, tiny_model):
    from faceforge.core.models.wsdf import WSDFModel

    model = WSDFModel.create(tiny_model, tiny_data.template, compute_stats(tiny_data.vertices), seed=3)
    return model.net, torch.as_tensor(model.stats.std)


def reference_jacobian_loss(decode, z_id, z_exp, gammas, std):
    """Eq. 7 for each gamma from full Jacobians (torch.autograd.functional.jacobian)."""
    scale2 = std.square().reshape(-1)
    s, q = [], []
    for b in range(len(z_id)):
        zi, y = z_id[b:b + 1], z_exp[b]

        def f(v, zi=zi):
            return decode(zi, v[None])[0].reshape(-1)  # (3N,)

        J = torch.autograd.functional.jacobian(f, y, create_graph=True, vectorize=True)  # (3N, D)
        d = f(y) - f(torch.zeros_like(y))  # (3N,)
        s.append((d * (J @ y) * scale2).sum())
        q.append((y * y).sum())
    s, q = torch.stack(s), torch.stack(q)
    return [torch.clamp_min(torch.maximum(-s, s - g * q), 0.0).mean() for g in gammas]


@pytest.mark.parametrize("full", [False, True], ids=["jvp", "full-jacobian"])
def test_jacobian_loss_matches_full_jacobian_reference(net, full):
    net, std = net
    # sin makes the decoder non-monotone along rays, so the lower hinge (s < 0) fires as well

    def decode(zi, y):
        return net.decode(zi, torch.sin(2.0 * y))

    g = torch.Generator().manual_seed(0)
    z_id, z_exp = torch.randn(3, 6, generator=g), 1.5 * torch.randn(3, 6, generator=g)
    params = [net.generator[-1].weight, net.generator[0].weight, net.recoupler.weight]
    gammas = [0.0, 50.0, 1e9]  # upper hinge everywhere s > 0; mixed; lower hinge only
    refs = reference_jacobian_loss(decode, z_id, z_exp, gammas, std)
    ours = [L.jacobian_loss(decode, z_id, z_exp, gamma, std.square(), full=full) for gamma in gammas]
    for a, b in zip(ours, refs):
        assert b.item() > 0  # a hinge is active
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # one backward of a weighted sum checks the gradients of all three cases
    g_ours = torch.autograd.grad(ours[0] + 2 * ours[1] + 3 * ours[2], params)
    g_ref = torch.autograd.grad(refs[0] + 2 * refs[1] + 3 * refs[2], params)
    for a, b in zip(g_ours, g_ref):
        assert a.abs().max() > 0  # the gradient reaches the generator weights
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4 * b.abs().max().item())


def test_jacobian_loss_trains_only_the_decoder(net):
    net, std = net
    z_id = torch.randn(2, 6, requires_grad=True)
    z_exp = torch.randn(2, 6, requires_grad=True)
    loss = L.jacobian_loss(net.decode, z_id, z_exp, 0.0, std.square())
    loss.backward()
    assert z_id.grad is None and z_exp.grad is None
    assert net.generator[-1].weight.grad is not None
    net.zero_grad(set_to_none=True)


def test_expression_jvp_is_the_directional_derivative(net):
    net, _ = net
    z_id, z_exp, v = torch.randn(2, 6), torch.randn(2, 6), torch.randn(2, 6)
    out, tangent = L.expression_jvp(net.decode, z_id, z_exp, v)
    torch.testing.assert_close(out, net.decode(z_id, z_exp))
    for b in range(2):
        J = torch.autograd.functional.jacobian(lambda y: net.decode(z_id[b:b + 1], y[None])[0],
                                               z_exp[b], vectorize=True)
        torch.testing.assert_close(tangent[b], J @ v[b], rtol=1e-4, atol=1e-5)


def test_jacobian_penalty_hinges_by_hand():
    # one "vertex", d = (1, 0, 0): s = d . t
    recon = torch.tensor([[[1.0, 0, 0]], [[1.0, 0, 0]], [[1.0, 0, 0]]])
    neutral = torch.zeros_like(recon)
    tangent = torch.tensor([[[-2.0, 0, 0]], [[3.0, 0, 0]], [[50.0, 0, 0]]])  # s = -2, 3, 50
    z = torch.tensor([[1.0, 0], [1.0, 1.0], [2.0, 2.0]])  # |z|^2 = 1, 2, 8
    # gamma = 4: sample 0 -> 2 (s < 0), sample 1 -> 0 (0 <= 3 <= 8), sample 2 -> 50 - 32 = 18
    got = L.jacobian_penalty(recon, neutral, tangent, z, gamma=4.0)
    assert got.item() == pytest.approx((2 + 0 + 18) / 3)
    scale2 = torch.tensor([[2.0, 1.0, 1.0]])  # s doubles in "mm"
    got = L.jacobian_penalty(recon, neutral, tangent, z, gamma=4.0, scale2=scale2)
    assert got.item() == pytest.approx((4 + 0 + 68) / 3)


def test_reconstruction_kl_and_neutralization_by_hand():
    pred, target = torch.zeros(2, 2, 3), torch.ones(2, 2, 3)
    target[1] *= 2
    assert L.reconstruction_loss(pred, target).item() == pytest.approx((6 + 24) / 2)
    mu, logvar = torch.randn(4, 5), torch.randn(4, 5)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(4, 5), torch.ones(4, 5))
    ref = torch.distributions.kl_divergence(q, p).sum(1).mean()
    torch.testing.assert_close(L.kl_loss(mu, logvar), ref)
    alpha = torch.tensor([0.0, 0.5])
    assert L.neutralization_loss(pred, target, alpha).item() == pytest.approx((0 * 6 + 0.5 * 24) / 2)


def test_mi_loss_matches_naive_dimensionwise_estimator():
    g = torch.Generator().manual_seed(1)
    b, d, n_data = 5, 3, 40
    mu, logvar = torch.randn(b, d, generator=g), 0.3 * torch.randn(b, d, generator=g)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(b, d, generator=g)
    total = 0.0
    for i in range(b):
        for k in range(d):
            dens = [torch.distributions.Normal(mu[j, k], torch.exp(0.5 * logvar[j, k])).log_prob(z[i, k]).item()
                    for j in range(b)]
            log_qz = math.log(sum(math.exp(v) for v in dens)) - math.log(b * n_data)
            total += dens[i] - log_qz
    assert L.mi_loss(mu, logvar, z, n_data).item() == pytest.approx(total / b, rel=1e-5)


def test_mi_loss_has_a_gradient_when_posteriors_are_narrow():
    """The joint 64-D estimate saturates (gradient ~0) for well separated posteriors; ours must not."""
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(32, 64, generator=g).requires_grad_()
    logvar = torch.full((32, 64), 2 * math.log(0.17))
    z = mu + torch.exp(0.5 * logvar) * torch.randn(32, 64, generator=g)
    L.mi_loss(mu, logvar, z, 6000).backward()
    assert mu.grad.norm() > 1.0


def test_combine_skips_zero_weights_and_refuses_all_zero():
    losses = {"rec": torch.tensor(2.0), "kl": torch.tensor(3.0)}
    assert L.combine(losses, {"rec": 1.0, "kl": 0.5, "jac": 0.0}).item() == 3.5
    with pytest.raises(ValueError, match="every loss weight is 0"):
        L.combine(losses, {"rec": 0.0, "kl": 0.0})


def test_reparameterize_uses_given_noise():
    mu, logvar, eps = torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]]), torch.tensor([[0.5]])
    assert L.reparameterize(mu, logvar, eps).item() == pytest.approx(2.0)
    assert np.isfinite(L.reparameterize(mu, logvar, eps).numpy()).all()
