"""Similarity alignment of corresponding point sets (weighted Procrustes, Umeyama 1991).

CONVENTION: row vectors. A similarity maps points (..., P, 3) as p' = s * p @ R.T + t, with R a
(3, 3) rotation, t (3,) in mm and s a unitless scale. Leading batch axes (B, ...) broadcast.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..typed import FloatArray


@dataclass(frozen=True, eq=False)
class SimilarityTransform:
    """p' = scale * p @ rotation.T + translation.

    Attributes
    ----------
    rotation : (..., 3, 3) float64, proper unless fitted with reflection=True
    translation : (..., 3) float64, mm
    scale : float, or (...,) float64 for a batch
    rmse : float (or (...,)), mm: weighted root-mean-square residual of the fit, 0 if not fitted
    """

    rotation: FloatArray
    translation: FloatArray
    scale: float | FloatArray = 1.0
    rmse: float | FloatArray = 0.0

    def apply(self, points: FloatArray) -> FloatArray:
        """Transform (..., P, 3) points; float32 stays float32."""
        return apply_similarity(points, self.rotation, self.translation, self.scale)

    def inverse(self) -> "SimilarityTransform":
        """The transform mapping target back to source (its rmse is in source units)."""
        s = np.asarray(self.scale, np.float64)
        t = -np.einsum("...i,...ij->...j", self.translation, self.rotation) / s[..., None]
        return SimilarityTransform(
            np.swapaxes(self.rotation, -1, -2), t, _item(1.0 / s), _item(self.rmse / s)
        )


def apply_similarity(
    points: FloatArray,
    rotation: FloatArray,
    translation: FloatArray,
    scale: float | FloatArray = 1.0,
) -> FloatArray:
    """p' = scale * p @ rotation.T + translation for points (..., P, 3); float32 stays float32."""
    p = np.asarray(points)
    s = np.asarray(scale, np.float64)[..., None, None]
    out = s * (p.astype(np.float64) @ np.swapaxes(rotation, -1, -2))
    out = out + np.asarray(translation, np.float64)[..., None, :]
    return out.astype(np.result_type(p.dtype, np.float32))


def procrustes(
    source: FloatArray,
    target: FloatArray,
    weights: FloatArray | None = None,
    scale: bool = True,
    reflection: bool = False,
) -> SimilarityTransform:
    """Least-squares similarity mapping `source` onto `target`.

    Minimises sum_i w_i |s * p_i @ R.T + t - q_i|^2 (Umeyama 1991).

    Parameters
    ----------
    source, target : (..., N, 3) float, mm, corresponding rows
    weights : (N,) or (..., N) non-negative float, default uniform
    scale : fit s (else s = 1)
    reflection : allow det(R) = -1
    """
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    if src.shape != dst.shape or src.ndim < 2 or src.shape[-1] != 3:
        raise ValueError(
            f"source and target must both be (..., N, 3), got {src.shape} and {dst.shape}"
        )
    w = np.ones(src.shape[-2]) if weights is None else np.asarray(weights, np.float64)
    if w.shape[-1] != src.shape[-2] or np.any(w < 0) or np.any(w.sum(axis=-1) <= 0):
        raise ValueError(f"weights must be (N,) = ({src.shape[-2]},), non-negative and not all "
                         f"zero, got shape {w.shape}")
    w = w / w.sum(axis=-1, keepdims=True)
    mu_src = np.einsum("...n,...nc->...c", w, src)
    mu_dst = np.einsum("...n,...nc->...c", w, dst)
    a, b = src - mu_src[..., None, :], dst - mu_dst[..., None, :]
    cov = np.einsum("...n,...ni,...nj->...ij", w, b, a)  # (..., 3, 3) sum w b a^T
    u, sigma, vt = np.linalg.svd(cov)
    d = np.ones_like(sigma)
    if not reflection:
        d[..., -1] = np.sign(np.linalg.det(u @ vt))
    rotation = (u * d[..., None, :]) @ vt
    s = np.ones(sigma.shape[:-1])
    if scale:
        variance = np.einsum("...n,...n->...", w, (a**2).sum(axis=-1))
        if np.any(variance <= 0):
            raise ValueError("source points all coincide: scale and rotation are undefined")
        s = (sigma * d).sum(axis=-1) / variance
    translation = mu_dst - s[..., None] * np.einsum("...ij,...j->...i", rotation, mu_src)
    residual = apply_similarity(src, rotation, translation, s) - dst
    rmse = np.sqrt(np.einsum("...n,...n->...", w, (residual**2).sum(axis=-1)))
    return SimilarityTransform(rotation, translation, _item(s), _item(rmse))


def _item(x: FloatArray) -> float | FloatArray:
    """A Python float for 0-d values, the array otherwise."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x
