"""One training forward pass of WSDF with all its losses, as the module DDP wraps.

DistributedDataParallel synchronizes gradients only for a forward pass that runs through
the wrapper, so the whole loss computation (two encoders, re-coupler, generator, the
Jacobian JVP) lives in `WSDFStep.forward`. Losses with weight 0 are never computed.
"""
from __future__ import annotations

import torch

from . import losses as L
from .config import LossConfig


class WSDFStep(torch.nn.Module):
    """Losses of one identity-aware batch.

    Parameters
    ----------
    net : the WSDFNet (encode / recouple / generate / decode on normalized vertices)
    loss : weights and parameters
    std : (N, 3) per-vertex std (mm) of the normalization, to measure L_jac in mm
    dataset_size : number of training meshes (L_mi's estimator)
    """

    def __init__(self, net: torch.nn.Module, loss: LossConfig, std: torch.Tensor, dataset_size: int):
        super().__init__()
        self.net = net
        self.loss = loss
        self.weights = loss.weights()
        self.dataset_size = int(dataset_size)
        self.register_buffer("std2", std.square().to(torch.float32), persistent=False)

    def forward(self, x: torch.Tensor, eps_id: torch.Tensor, eps_exp: torch.Tensor,
                bank: torch.Tensor | None, alpha: torch.Tensor | None
                ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """(losses, X^r) for one batch.

        x : (B, N, 3) normalized input meshes
        eps_id, eps_exp : (B, id_dim), (B, exp_dim) standard-normal noise (reparameterization)
        bank, alpha : (B, N, 3) normalized pseudo-neutral of each sample's subject and (B,)
            its confidence; None when L_neu is off
        Returns the unweighted losses plus "total" (Eq. 8), and X^r (B, N, 3) normalized,
        detached, for the Neutral Bank update (None when no loss needs it).
        """
        w, net = self.weights, self.net
        mu_id, lv_id, mu_exp, lv_exp = net.encode(x)
        z_id = L.reparameterize(mu_id, lv_id, eps_id)
        z_exp = L.reparameterize(mu_exp, lv_exp, eps_exp)
        need_rec = w["rec"] > 0 or w["neu"] > 0  # the bank update needs X^r even if L_rec is off
        need_neu = w["neu"] > 0
        out: dict[str, torch.Tensor] = {}
        recon = neutral = None
        if need_rec and need_neu:  # one generator pass over [X^r; X^n]
            b = x.shape[0]
            coupled = net.recouple(torch.cat([z_id, z_id]), torch.cat([z_exp, torch.zeros_like(z_exp)]))
            recon, neutral = net.generate(coupled).split(b)
        elif need_rec:
            recon = net.decode(z_id, z_exp)
        if w["rec"] > 0:
            out["rec"] = L.reconstruction_loss(recon, x)
        if w["kl"] > 0:
            out["kl"] = L.kl_loss(mu_id, lv_id) + L.kl_loss(mu_exp, lv_exp)
        if need_neu:
            out["neu"] = L.neutralization_loss(neutral, bank, alpha)
        if w["jac"] > 0:
            out["jac"] = L.jacobian_loss(net.decode, z_id, z_exp, self.loss.jac_gamma, self.std2,
                                         full=self.loss.jac_method == "full")
        if w["mi"] > 0:
            out["mi"] = L.mi_loss(mu_id, lv_id, z_id, self.dataset_size)
        out["total"] = L.combine(out, w)
        return out, None if recon is None else recon.detach()
