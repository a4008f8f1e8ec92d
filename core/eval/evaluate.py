"""Evaluate a `FaceModel` on a dataset: E_avd, E_id, E_exp, E_neu (mm), mean and median.

The model is only used through the `FaceModel` interface (`encode` gives the posterior means,
`decode`), so any model kind can be evaluated the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.dataset import MeshDataset
from ..data.stats import split_dataset
from ..errors import CheckpointError
from . import metrics as M

METRICS = ("e_avd", "e_id", "e_exp", "e_neu")


@dataclass(frozen=True)
class EvalReport:
    """Summary metrics and how many samples/groups each one averaged.

    metrics : "<metric>_mean" / "<metric>_median" -> mm (nan when not computable)
    counts : "<metric>" -> number of samples (e_avd, e_neu) or groups (e_id, e_exp)
    """

    metrics: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)


def true_neutrals(dataset: MeshDataset) -> tuple[np.ndarray | None, np.ndarray]:
    """((M, N, 3) float32 mm or None, (M,) bool): each mesh's ground-truth neutral, if known.

    `subject_table["neutral_vertices"]` (synthetic data) wins; otherwise the mean of the
    subject's neutral-flagged scans (FaceScape); subjects with neither have no E_neu.
    """
    m = len(dataset)
    sidx = dataset.subject_index()
    table = dataset.subject_table.get("neutral_vertices")
    if table is not None:
        return np.asarray(table, np.float32)[sidx], np.ones(m, bool)
    n_subjects = len(dataset.subjects())
    flagged = np.flatnonzero(dataset.neutral)
    if not len(flagged):
        return None, np.zeros(m, bool)
    per_subject = np.zeros((n_subjects, dataset.n_vertices, 3), np.float64)
    counts = np.bincount(sidx[flagged], minlength=n_subjects)
    for i in flagged:
        per_subject[sidx[i]] += dataset.vertices[i]
    have = counts > 0
    per_subject[have] /= counts[have, None, None]
    return per_subject.astype(np.float32)[sidx], have[sidx]


def predict(model, vertices: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """((M, N, 3) X^r, (M, N, 3) X^n) in mm from the posterior means, `batch` meshes at a time."""
    recon = np.empty(vertices.shape, np.float32)
    neutral = np.empty(vertices.shape, np.float32)
    for start in range(0, len(vertices), batch):
        x = np.asarray(vertices[start:start + batch], np.float32)
        z_id, z_exp = model.encode(x)
        both = model.decode(np.concatenate([z_id, z_id]), np.concatenate([z_exp, np.zeros_like(z_exp)]))
        recon[start:start + len(x)] = both[:len(x)]
        neutral[start:start + len(x)] = both[len(x):]
    return recon, neutral


def evaluate(model, dataset: MeshDataset, batch: int = 64) -> EvalReport:
    """All four metrics of `model` on `dataset` (usually the held-out subjects)."""
    if len(dataset) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    recon, neutral = predict(model, dataset.vertices, batch)
    values = {
        "e_avd": M.e_avd(dataset.vertices, recon),
        "e_id": M.e_id(neutral, dataset.subject),
        "e_exp": M.e_exp(recon, neutral, dataset.expression),
    }
    gt, known = true_neutrals(dataset)
    values["e_neu"] = M.e_neu(gt[known], neutral[known]) if gt is not None else np.zeros(0)
    out, counts = {}, {}
    for name in METRICS:
        for stat, v in M.summarize(values[name]).items():
            out[f"{name}_{stat}"] = v
        counts[name] = len(values[name])
    return EvalReport(metrics=out, counts=counts)


def held_out(model, dataset: MeshDataset, where: str | Path) -> tuple[MeshDataset, dict]:
    """The subjects of `dataset` that `model` did not train on, split as its training run split.

    Returns (held-out subset, the split recorded in the model: seed, test_fraction,
    test_subjects). CheckpointError (naming `where`) when the model records no split.
    """
    split = (model.metadata.get("train") or {}).get("split")
    if not split:
        raise CheckpointError(where, "it records no training split (it was not written by "
                              "'faceforge train'), so the held-out subjects are unknown")
    _, test = split_dataset(dataset, split["test_fraction"], split["seed"])
    return test, split
