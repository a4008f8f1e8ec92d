"""Per-vertex normalization statistics and subject-disjoint train/test splits."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..typed import Float32Array
from .dataset import MeshDataset

STD_FLOOR = 1e-3  # mm: a vertex that barely moves is not blown up by 1/std


@dataclass(frozen=True, eq=False)
class NormStats:
    """Per-vertex mean and standard deviation; x_norm = (x - mean) / std.

    Attributes
    ----------
    mean : (N, 3) float32, mm
    std : (N, 3) float32, mm, floored at `STD_FLOOR`
    """

    mean: Float32Array
    std: Float32Array

    def __post_init__(self) -> None:
        mean = np.ascontiguousarray(self.mean, dtype=np.float32)
        std = np.maximum(np.asarray(self.std, dtype=np.float32), np.float32(STD_FLOOR))
        if mean.ndim != 2 or mean.shape[1] != 3 or std.shape != mean.shape:
            raise ValueError(f"mean and std must both be (N, 3), got {mean.shape} and {std.shape}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def normalize(self, x: Any) -> Any:
        """(..., N, 3) mm -> normalized; numpy array or torch tensor (same type, device, dtype)."""
        mean, std = self._like(x)
        return (x - mean) / std

    def denormalize(self, x: Any) -> Any:
        """Inverse of `normalize`: (..., N, 3) normalized -> mm."""
        mean, std = self._like(x)
        return x * std + mean

    def to_dict(self) -> dict[str, Float32Array]:
        """{"mean", "std"} (N, 3) float32 arrays: safetensors-ready; `.tolist()` them for JSON."""
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NormStats:
        """Inverse of `to_dict`; values may be arrays, CPU tensors or nested lists."""
        return cls(mean=np.asarray(d["mean"]), std=np.asarray(d["std"]))

    def _like(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, np.ndarray):
            return self.mean, self.std
        import torch

        return (torch.as_tensor(self.mean, dtype=x.dtype, device=x.device),
                torch.as_tensor(self.std, dtype=x.dtype, device=x.device))


def compute_stats(vertices: np.ndarray, chunk: int = 256) -> NormStats:
    """Per-vertex mean and (population) std of (M, N, 3) mm meshes.

    Reads `chunk` meshes at a time, so a memmap is never loaded whole, and merges the chunks
    in float64 with Chan et al.'s pairwise update (stable when std << |mean|).
    """
    if vertices.ndim != 3 or vertices.shape[2] != 3 or len(vertices) == 0:
        raise ValueError(f"vertices must be (M, N, 3) with M >= 1, got {vertices.shape}")
    n, mean, m2 = 0, np.zeros(vertices.shape[1:]), np.zeros(vertices.shape[1:])
    for start in range(0, len(vertices), chunk):
        block = np.asarray(vertices[start:start + chunk], dtype=np.float64)  # (B, N, 3)
        nb, mb = len(block), block.mean(axis=0)
        delta, total = mb - mean, n + nb
        mean += delta * (nb / total)
        m2 += ((block - mb) ** 2).sum(axis=0) + delta**2 * (n * nb / total)
        n = total
    return NormStats(mean=mean, std=np.sqrt(m2 / n))


def subject_split(subjects: np.ndarray, test_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split subject ids into sorted (train_ids, test_ids), disjoint and deterministic.

    Subjects are ranked by a hash of (seed, id), so the split does not depend on their order and
    adding subjects moves few existing ones; round(S * test_fraction) of them (at least 1 when
    test_fraction > 0, at most S - 1) go to test. `subjects` may repeat (one id per mesh).
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    ids = np.unique(np.asarray(subjects, dtype=str))
    n_test = 0 if test_fraction == 0 else min(max(round(len(ids) * test_fraction), 1), len(ids) - 1)
    if test_fraction > 0 and n_test < 1:
        raise ValueError(f"a test split needs at least 2 subjects, got {len(ids)}")
    ranked = sorted(range(len(ids)), key=lambda i: hashlib.sha256(f"{seed}:{ids[i]}".encode()).digest())
    test = np.zeros(len(ids), bool)
    test[ranked[:n_test]] = True
    return ids[~test], ids[test]


def split_dataset(dataset: MeshDataset, test_fraction: float = 0.1, seed: int = 0) -> tuple[MeshDataset, MeshDataset]:
    """(train, test) subsets of `dataset` with disjoint subjects (see `subject_split`)."""
    _, test_ids = subject_split(dataset.subject, test_fraction, seed)
    in_test = np.isin(dataset.subject, test_ids)
    return dataset.subset(~in_test), dataset.subset(in_test)
