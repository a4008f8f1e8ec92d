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

SAME_MODEL_MM = 0.01  # a fit's recorded face and its codes decoded again agree this well with its model


def transfer_expression(target: FitResult, source: FitResult | FloatArray,
                        model: FaceModel) -> Float32Array:
    """The target's identity with the source's expression, model frame, mm.

    target : a fit made with `model`
    source : another fit made with `model` (its z_exp is used), or expression codes (E,) or
        (B, E), e.g. from the editor's sliders or timeline
    Returns (N, 3) float32 for a fit or an (E,) code, (B, N, 3) for (B, E) codes.
    Raises ValueError when a fit was made with another model or the codes have the wrong size.
    """
    n = model.template.n_vertices
    if target.neutral.shape != (n, 3):
        raise TopologyMismatchError(None, n, len(target.neutral))
    for fit in (target, source) if isinstance(source, FitResult) else (target,):
        _check_fitted_with(fit, model)
    z_exp = np.asarray(source.z_exp if isinstance(source, FitResult) else source, np.float32)
    batch = z_exp.reshape(-1, z_exp.shape[-1]) if z_exp.ndim else z_exp
    if z_exp.ndim not in (1, 2) or batch.shape[1] != model.exp_dim:
        raise ValueError(f"expression codes must be (E,) or (B, E) with E = {model.exp_dim}, "
                         f"got shape {z_exp.shape}")
    z_id = np.repeat(target.z_id[None], len(batch), axis=0)
    offsets = target.neutral - model.decode(target.z_id[None], np.zeros_like(batch[:1]))[0]
    out = (model.decode(z_id, batch) + offsets).astype(np.float32)
    return out[0] if z_exp.ndim == 1 else out


def _check_fitted_with(fit: FitResult, model: FaceModel) -> None:
    """ValueError unless `fit`'s codes decode, with `model`, to the face it recorded."""
    if fit.z_id.shape != (model.id_dim,) or fit.z_exp.shape != (model.exp_dim,):
        raise ValueError(f"a fit has {fit.z_id.shape[0]}+{fit.z_exp.shape[0]}-d codes but the model expects "
                         f"{model.id_dim}+{model.exp_dim}; use the model the scan was fitted with")
    face = model.decode(fit.z_id[None], fit.z_exp[None])[0]
    if np.abs(face - fit.model_fit).max() > SAME_MODEL_MM:
        raise ValueError("a fit was made with another model (its codes decode to another face with this one); "
                         "use the model the scan was fitted with, or fit the scan again")
