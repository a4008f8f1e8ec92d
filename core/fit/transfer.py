"""Expression transfer between fitted scans, and a fitted identity with any expression code.

A fit's identity is its z_id plus the identity-specific refinement carried by its neutral
(neutral - decode(z_id, 0)); an expression is a z_exp. So target with source's expression is

    decode(target.z_id, source.z_exp) + (target.neutral - decode(target.z_id, 0)),

which gives back target.neutral for z_exp = 0.
"""
from __future__ import annotations

import numpy as np

from ..errors import TopologyMismatchError
from ..models.base import FaceModel
from ..typed import Float32Array, FloatArray
from .result import FitResult


def transfer_expression(target: FitResult, source: FitResult | FloatArray,
                        model: FaceModel) -> Float32Array:
    """The target's identity with the source's expression, model frame, mm.

    target : a fit made with `model`
    source : another fit (its z_exp is used), or expression codes (E,) or (B, E), e.g. from the
        editor's sliders or timeline
    Returns (N, 3) float32 for a fit or an (E,) code, (B, N, 3) for (B, E) codes.
    """
    n = model.template.n_vertices
    if target.neutral.shape != (n, 3):
        raise TopologyMismatchError(None, n, len(target.neutral))
    if target.z_id.shape != (model.id_dim,):
        raise ValueError(f"the target fit has a {target.z_id.shape[0]}-d identity code but the "
                         f"model expects {model.id_dim}; use the model the scan was fitted with")
    z_exp = np.asarray(source.z_exp if isinstance(source, FitResult) else source, np.float32)
    batch = z_exp.reshape(-1, z_exp.shape[-1]) if z_exp.ndim else z_exp
    if z_exp.ndim not in (1, 2) or batch.shape[1] != model.exp_dim:
        raise ValueError(f"expression codes must be (E,) or (B, E) with E = {model.exp_dim}, "
                         f"got shape {z_exp.shape}")
    z_id = np.repeat(target.z_id[None], len(batch), axis=0)
    offsets = target.neutral - model.decode(target.z_id[None], np.zeros_like(batch[:1]))[0]
    out = (model.decode(z_id, batch) + offsets).astype(np.float32)
    return out[0] if z_exp.ndim == 1 else out
