"""The tensor Re-coupler of WSDF (Li et al., Sec. III-A, Eq. 2).

    R(z_id, z_exp) = M_W  N(U(z_id) (x) U(z_exp))^T

U = Phi maps each N(0, 1) code entry to U(0, 1); the outer product of two independent
uniforms has the CDF F(p) = p - p ln p, so F(U_id (x) U_exp) is uniform again and
N = Phi^-1 turns it into N(0, 1). M_W (K x I*E) has rows of unit L2 norm, so each output
would have unit variance if the I*E normals were independent (they are not: entries sharing
a row or column of the outer product are correlated; the paper treats them as independent).

Phi and Phi^-1 are written with erf/erfinv rather than torch.special.ndtr/ndtri, which the
MPS backend lacks.
"""
from __future__ import annotations

import math

import torch
from torch import nn

U_EPS = 1e-4  # Phi(z) is squeezed into [U_EPS, 1 - U_EPS]: |z| > ~3.7 saturates smoothly
F_EPS = 2.0**-24  # F is clamped to [F_EPS, 1 - F_EPS] (float32 can hold 1 - 2^-24): |N| < 5.3
NORM_EPS = 1e-12  # floor of a row norm of M_W


def normal_to_uniform(z: torch.Tensor) -> torch.Tensor:
    """Phi(z), squeezed affinely into [U_EPS, 1 - U_EPS] so logs and products stay finite."""
    return U_EPS + (1 - 2 * U_EPS) * 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def product_cdf(p: torch.Tensor) -> torch.Tensor:
    """P(U1 * U2 <= p) = p - p ln p for independent U1, U2 ~ U(0, 1); p in (0, 1)."""
    return p - p * torch.log(p)


def uniform_to_normal(u: torch.Tensor) -> torch.Tensor:
    """Phi^-1(u), with u clamped to [F_EPS, 1 - F_EPS] (F rounds to 1 in float32 near p=1)."""
    u = u.clamp(F_EPS, 1 - F_EPS)
    return math.sqrt(2) * torch.erfinv(2 * u - 1)


class Recoupler(nn.Module):
    """(B, I) identity and (B, E) expression codes -> (B, K) re-coupled code (Eq. 2).

    `weight` is M_W (K, I*E) before normalization. Dividing the product by the row norms
    equals multiplying by the row-normalized M_W, without writing a normalized copy of the
    whole matrix on every call.
    """

    def __init__(self, id_dim: int, exp_dim: int, coupled_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(coupled_dim, id_dim * exp_dim))

    def forward(self, z_id: torch.Tensor, z_exp: torch.Tensor) -> torch.Tensor:
        """z_id (B, I), z_exp (B, E) ~ N(0, 1) -> (B, K), each entry ~ N(0, 1) for random M_W."""
        u = normal_to_uniform(z_id)[:, :, None] * normal_to_uniform(z_exp)[:, None, :]  # (B, I, E)
        n = uniform_to_normal(product_cdf(u.flatten(1)))  # (B, I*E)
        norms = torch.linalg.vector_norm(self.weight, dim=1).clamp_min(NORM_EPS)  # (K,)
        return (n @ self.weight.T) / norms  # (B, K)
