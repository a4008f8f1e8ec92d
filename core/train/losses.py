"""The WSDF training losses (Li et al., Sec. III-B, Eqs. 4-8) as pure functions.

CONVENTIONS: vertices are (B, N, 3) float32. Reconstruction and neutralization compare
*normalized* vertices (x_norm = (x_mm - mean) / std, per vertex and axis, `NormStats`), as the
official implementation does: that is the VAE likelihood of a unit Gaussian in the space the
network outputs, it weights every vertex by how much it varies in the training data (rigid
back-of-head vertices do not swamp the face), and it balances the summed KL term at the usual
ELBO scale. The Jacobian loss is measured in mm (d and J z are rescaled by std), because it
models the *geometric* intensity of an expression, |X^r - X^n|, and its bound gamma then has
units: mm^2 per unit of |z_exp|^2. Every per-sample loss is summed over coordinates (or
latent dimensions) and averaged over the batch.
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable

import torch

Decode = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z_id, z_exp) -> (B, N, 3)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, with the caller's (B, D) standard-normal `eps`."""
    return mu + torch.exp(0.5 * logvar) * eps


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 4, ||X - X^r||^2: squared error summed over the (N, 3) coordinates, batch mean.

    pred, target : (B, N, 3) normalized vertices
    """
    return (pred - target).square().flatten(1).sum(1).mean()


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the (B, D) latent dims, batch mean.

    Eq. 5 is `kl_loss(mu_id, logvar_id) + kl_loss(mu_exp, logvar_exp)`.
    """
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1.0).sum(1).mean()


def neutralization_loss(neutral: torch.Tensor, bank: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 6, alpha_K ||B_K - X^n||^2: summed over coordinates, batch mean.

    neutral : (B, N, 3) normalized X^n = decode(z_id, 0)
    bank : (B, N, 3) normalized pseudo-neutral of each sample's subject (no gradient)
    alpha : (B,) confidence of each sample's subject (`NeutralBank.alpha`)
    """
    per_sample = (neutral - bank.detach()).square().flatten(1).sum(1)
    return (alpha.detach() * per_sample).mean()


def expression_jvp(decode: Decode, z_id: torch.Tensor, z_exp: torch.Tensor,
                   direction: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(f(z_exp), J_f(z_exp) @ direction) for f(y) = decode(z_id, y), by forward-mode AD.

    One `torch.func.jvp` pass: the primal output and the directional derivative come out
    together at about the cost of a second forward pass; no Jacobian (B, 3N, D) is ever
    formed and there are no finite differences. Both outputs are differentiable (reverse
    over forward), so a loss on them trains `decode`'s weights. `direction` defaults to
    `z_exp.detach()` (the ray through z_exp that Eq. 7 probes).

    Returns
    -------
    out : (B, N, 3), f(z_exp)
    tangent : (B, N, 3), J_f(z_exp) direction (per sample: f acts row-wise on the batch)
    """
    direction = z_exp.detach() if direction is None else direction
    _load_forward_ad_quietly()
    return torch.func.jvp(lambda y: decode(z_id, y), (z_exp,), (direction,))


@functools.cache
def _load_forward_ad_quietly() -> None:
    """Import torch's forward-AD decompositions once, without their DeprecationWarning.

    torch loads them lazily on the first dual tensor and scripts them with `torch.jit.script`,
    which warns that TorchScript is deprecated: torch's own business, not our callers' (the
    test suite turns warnings into errors; the GUI would show it to the user).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=DeprecationWarning)
        try:
            import torch._decomp.decompositions_for_jvp  # noqa: F401
        except ImportError:  # moved in a later torch: nothing to pre-load
            pass


def jacobian_penalty(recon: torch.Tensor, neutral: torch.Tensor, tangent: torch.Tensor,
                     z_exp: torch.Tensor, gamma: float,
                     scale2: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7, max(0, -s, s - gamma |z_exp|^2) with s = (X^r - X^n)^T J z_exp; batch mean.

    s >= 0 asks that the expression intensity |X^r - X^n| grows along every ray of z_exp
    (bijectivity: different expressions of the same intensity need different directions);
    s <= gamma |z_exp|^2 bounds the deformation energy. The two hinges never fire together
    (gamma >= 0), so this equals relu(-s) + relu(s - gamma |z|^2).

    recon, neutral, tangent : (B, N, 3) normalized X^r = f(z_exp), X^n = f(0) and J z_exp
    z_exp : (B, D); |z_exp|^2 is treated as a constant (as in the official code)
    gamma : mm^2 per unit |z_exp|^2 when `scale2` is std^2 (then s is in mm^2)
    scale2 : (N, 3) squared per-vertex std (mm^2) to measure s in mm; None: normalized units
    """
    prod = (recon - neutral) * tangent  # (B, N, 3)
    if scale2 is not None:
        prod = prod * scale2
    s = prod.flatten(1).sum(1)  # (B,)
    q = z_exp.detach().square().sum(1)  # (B,)
    return torch.clamp_min(torch.maximum(-s, s - gamma * q), 0.0).mean()


def expression_jacobian_product(decode: Decode, z_id: torch.Tensor,
                                z_exp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`expression_jvp`'s outputs the way the authors' code gets them: the full Jacobian.

    Builds J_f(z_exp) (B, N, 3, D) with forward-mode AD (D JVPs per sample), then J z_exp. Same
    values as `expression_jvp` at about D times its cost; kept as the reference the speed
    benchmark compares against (`LossConfig.jac_method = "full"`).
    """
    _load_forward_ad_quietly()

    def f(zi: torch.Tensor, ze: torch.Tensor) -> torch.Tensor:
        return decode(zi[None], ze[None])[0]

    jac = torch.func.vmap(torch.func.jacfwd(f, argnums=1))(z_id, z_exp)  # (B, N, 3, D)
    return decode(z_id, z_exp), torch.einsum("bnkd,bd->bnk", jac, z_exp)


def jacobian_loss(decode: Decode, z_id: torch.Tensor, z_exp: torch.Tensor, gamma: float,
                  scale2: torch.Tensor | None = None, full: bool = False) -> torch.Tensor:
    """Eq. 7 end to end, gradients to `decode` only (the codes are detached).

    f(y) = decode(z_id, y) is probed at y = z_exp in the direction z_exp by `expression_jvp`
    (or, with `full`, through the whole Jacobian as the authors' code does);
    X^n = f(0) is one more (primal-only) decode. The codes are detached as in the official
    implementation: the loss shapes the decoder's deformation field, it should not move the
    encoders (which could otherwise meet the upper bound by inflating |z_exp|).
    """
    z_id, z_exp = z_id.detach(), z_exp.detach()
    product = expression_jacobian_product if full else expression_jvp
    recon, tangent = product(decode, z_id, z_exp)
    neutral = decode(z_id, torch.zeros_like(z_exp))
    return jacobian_penalty(recon, neutral, tangent, z_exp, gamma, scale2)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) per dimension (broadcasting)."""
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + math.log(2 * math.pi))


def mi_loss(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, dataset_size: int) -> torch.Tensor:
    """L_mi: the identity-compactness loss of IB-VAE (Sun, Pears and Gu, WACV 2022), batch mean.

    IB-VAE puts an information bottleneck on the identity branch: it penalizes the mutual
    information E[log q(z|x) - log q(z)], with the aggregate posterior estimated by
    minibatch-weighted sampling (Chen et al., beta-TCVAE 2018) over the batch j = 1..B:

        log q(z_i) ~= logsumexp_j log q(z_i | x_j) - log(B * dataset_size)

    IB-VAE's code (`kl_info_bottleneck_reg_mws_id_exp`) evaluates it on the joint 64-D code.
    On our head the identity posteriors are narrow (std ~0.17 against a spread of the means
    ~1.2): log q(z_i | x_j) for j != i is ~280 nats below the diagonal even for scans of the same
    subject, so the joint estimate sits at its ceiling log(B * dataset_size) and its gradient is
    ~1e-15 (measured on the default model, an 8 x 4 batch): the loss had no effect at any
    weight. We therefore estimate it per latent dimension and sum (the dimension-wise form of
    beta-TCVAE's decomposition), where the 1-D posteriors overlap and the gradient is of the
    same order as the other losses'. Every scan counts (WSDF has no expression labels).

    mu, logvar, z : (B, D) identity posterior parameters and the drawn codes
    dataset_size : number of training meshes (a constant offset of the estimate only)
    """
    b = z.shape[0]
    log_q = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (B, B, D): log q(z_id | x_j)
    log_qzx = torch.diagonal(log_q, dim1=0, dim2=1).T  # (B, D)
    log_qz = torch.logsumexp(log_q, dim=1) - math.log(b * dataset_size)  # (B, D)
    return (log_qzx - log_qz).sum(1).mean()


def combine(losses: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Eq. 8: sum of weight * loss over the losses present (weight 0 terms are never computed)."""
    terms = [weights[k] * v for k, v in losses.items() if weights.get(k, 0.0) != 0.0]
    if not terms:
        raise ValueError("every loss weight is 0: nothing to train")
    return torch.stack(terms).sum()

