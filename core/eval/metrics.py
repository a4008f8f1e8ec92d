"""Reconstruction, disentanglement and neutralization metrics (Li et al., WSDF, Sec. IV-C).

Plain numpy. Meshes are (M, N, 3) float in mm; every metric is in mm. Each function returns
the per-sample (or per-group) values; `summarize` turns them into the mean and median that
the paper's tables report.

- AVD(X, Y) = 1/|V| sum_v ||X(v) - Y(v)||_2
- E_avd = AVD(X, X^r) per sample (Eq. 9)
- E_neu = AVD(X^neu, X^n) per sample, X^neu the subject's true neutral (Eq. 11)
- E_id = std_{samples, v} ||X^n(v) - X^mean(v)||_2 per subject, X^mean the mean neutralized
  face of that subject (Eq. 10; the std runs over all its samples and vertices, as in the
  IB-VAE and official WSDF evaluation code)
- E_exp: the same statistic per expression category on D = X^r - X^n (the expression with
  the identity removed), compared across the subjects showing that category
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..typed import FloatArray

UNCATEGORIZED = ("", "mixture")  # labels that are not one expression category (unknown; random mixtures)
CHUNK = 64  # meshes per float64 block, so a large test set is never copied to float64 whole


def avd(a: FloatArray, b: FloatArray) -> FloatArray:
    """(M,) average vertex distance (mm) between (M, N, 3) and (M, N, 3) or (N, 3) meshes."""
    b = np.asarray(b)
    out = np.empty(len(a))
    for i in range(0, len(a), CHUNK):
        bi = b[i:i + CHUNK] if b.ndim == 3 else b
        d = np.asarray(a[i:i + CHUNK], np.float64) - np.asarray(bi, np.float64)
        out[i:i + CHUNK] = np.linalg.norm(d, axis=-1).mean(axis=-1)
    return out


def e_avd(vertices: FloatArray, recon: FloatArray) -> FloatArray:
    """(M,) E_avd = AVD(X, X^r) in mm (Eq. 9)."""
    return avd(vertices, recon)


def e_neu(true_neutral: FloatArray, neutralized: FloatArray) -> FloatArray:
    """(M,) E_neu = AVD(X^neu, X^n) in mm (Eq. 11); `true_neutral` is (M, N, 3) or (N, 3)."""
    return avd(neutralized, true_neutral)


def spread(meshes: FloatArray) -> float:
    """std over samples and vertices of ||X_i(v) - mean_i X_i(v)||_2 (mm), for (K, N, 3)."""
    m = np.asarray(meshes, np.float64)
    m = m - m[:1]  # shifted to the first sample: exact zeros for identical meshes, less cancellation
    d = np.linalg.norm(m - m.mean(axis=0, keepdims=True), axis=-1)  # (K, N)
    return float(d.std())


def e_id(neutralized: FloatArray, subject: Iterable) -> dict[str, float]:
    """E_id of every subject with >= 2 samples: `spread` of its neutralized faces X^n (Eq. 10).

    neutralized : (M, N, 3) mm
    subject : (M,) subject id of each sample
    Returns subject id -> E_id (mm); identical neutralized faces give 0.
    """
    _check_labels(neutralized, subject)
    return _grouped(lambda rows: neutralized[rows], np.asarray(subject), ())


def e_exp(recon: FloatArray, neutralized: FloatArray, expression: Iterable,
          exclude: Iterable[str] = UNCATEGORIZED) -> dict[str, float]:
    """E_exp of every expression category with >= 2 samples: `spread` of D = X^r - X^n.

    The identity is removed by subtracting each sample's own neutralization, so a perfectly
    disentangled model gives the same D to every subject showing a category, and E_exp 0.
    Labels in `exclude` (unknown, random mixtures) are not categories and are skipped.

    recon, neutralized : (M, N, 3) mm
    expression : (M,) category label of each sample
    Returns category -> E_exp (mm).
    """
    _check_labels(recon, expression)
    def d(rows):
        return np.asarray(recon[rows], np.float64) - np.asarray(neutralized[rows], np.float64)

    return _grouped(d, np.asarray(expression), tuple(exclude))


def _check_labels(meshes: FloatArray, labels: Iterable) -> None:
    if len(np.asarray(labels)) != len(meshes):
        raise ValueError(f"{len(np.asarray(labels))} labels for {len(meshes)} meshes")


def summarize(values: Iterable[float] | dict[str, float]) -> dict[str, float]:
    """{"mean", "median"} of the values (nan when there are none)."""
    v = np.asarray(list(values.values()) if isinstance(values, dict) else list(values), np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "median": float("nan")}
    return {"mean": float(v.mean()), "median": float(np.median(v))}


def _grouped(meshes, labels: np.ndarray, exclude: tuple[str, ...]) -> dict[str, float]:
    """`spread` of meshes(rows) for the rows of each label (groups are built one at a time)."""
    out = {}
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if str(label) in exclude or len(rows) < 2:
            continue
        out[str(label)] = spread(meshes(rows))
    return out
