"""A dataset of meshes registered to one template topology.

CONVENTIONS: millimetres, Y up, the face looks down +Z; vertices are float32. Per-mesh arrays
have length M; per-subject arrays (`subject_table`) are aligned with `subjects()`, the sorted
unique subject ids.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import DatasetError, NonFiniteError, TopologyMismatchError
from ..mesh.template import Template
from ..typed import BoolArray, Float32Array, IntArray

FINITE_CHUNK = 256  # meshes checked per step, so a memmap is never loaded whole


@dataclass(eq=False)
class MeshDataset:
    """M meshes of N vertices each, with per-mesh labels.

    Attributes
    ----------
    vertices : (M, N, 3) float32, mm; may be a read-only np.memmap
    subject : (M,) str, subject ids
    expression : (M,) str, expression category, "" when unknown
    age : (M,) float32, years, nan when unknown
    neutral : (M,) bool, True for a neutral-expression scan
    path : (M,) str, source file, "" for generated meshes
    extras : name -> (M, ...) per-mesh arrays, e.g. "arkit" (M, 52)
    subject_table : name -> (S, ...) arrays aligned with `subjects()`, e.g. "age" (S,)
    template : the shared topology, when known
    meta : JSON-able description (source, layout, seed, generator parameters, ...)
    """

    vertices: Float32Array
    subject: np.ndarray
    expression: np.ndarray
    age: Float32Array
    neutral: BoolArray
    path: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    subject_table: dict[str, np.ndarray] = field(default_factory=dict)
    template: Template | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls, vertices: np.ndarray, subject: Sequence[str] | np.ndarray, *,
        expression: Sequence[str] | np.ndarray | None = None,
        age: Sequence[float] | np.ndarray | None = None,
        neutral: Sequence[bool] | np.ndarray | None = None,
        path: Sequence[str] | np.ndarray | None = None, **kwargs: Any,
    ) -> MeshDataset:
        """Build a dataset, filling unknown labels ("" expression/path, nan age, not neutral).

        `vertices` (M, N, 3) is kept as is when already float32 (a memmap stays a memmap);
        `kwargs` are the remaining fields (extras, subject_table, template, meta).
        """
        vertices = np.asanyarray(vertices, dtype=np.float32)
        m = len(vertices)
        return cls(
            vertices=vertices, subject=np.asarray(subject, dtype=str),
            expression=np.asarray([""] * m if expression is None else expression, dtype=str),
            age=np.asarray(np.full(m, np.nan) if age is None else age, dtype=np.float32),
            neutral=np.asarray(np.zeros(m) if neutral is None else neutral, dtype=bool),
            path=np.asarray([""] * m if path is None else path, dtype=str), **kwargs,
        )

    def __len__(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[1])

    def subjects(self) -> np.ndarray:
        """(S,) str, the sorted unique subject ids."""
        return np.unique(self.subject)

    def subject_index(self) -> IntArray:
        """(M,) int64, each mesh's row in `subjects()`."""
        return np.unique(self.subject, return_inverse=True)[1].astype(np.int64)

    def subset(self, indices: IntArray | BoolArray) -> MeshDataset:
        """The meshes at `indices` (ints or an (M,) bool mask), copied into memory.

        Extras are sliced; `subject_table` keeps the rows of the subjects that remain.
        """
        idx = np.arange(len(self))[np.asarray(indices)]
        keep = np.searchsorted(self.subjects(), np.unique(self.subject[idx]))
        return replace(
            self, vertices=np.asarray(self.vertices[idx]), subject=self.subject[idx],
            expression=self.expression[idx], age=self.age[idx], neutral=self.neutral[idx],
            path=self.path[idx], extras={k: np.asarray(v[idx]) for k, v in self.extras.items()},
            subject_table={k: np.asarray(v[keep]) for k, v in self.subject_table.items()},
            meta=dict(self.meta),
        )

    def validate(self) -> None:
        """Check shapes, dtypes and finiteness; raise a typed error naming what is wrong.

        Raises
        ------
        DatasetError
            inconsistent shapes or dtypes.
        TopologyMismatchError
            the template's vertex count differs from the meshes'.
        NonFiniteError
            a mesh holds NaN or inf (the error names that mesh's file when it has one).
        """
        where = self.meta.get("source") or "in-memory dataset"
        v = self.vertices
        if v.ndim != 3 or v.shape[2] != 3 or v.dtype != np.float32:
            raise DatasetError(where, f"vertices must be (M, N, 3) float32, got {v.shape} {v.dtype}")
        m, s = len(self), len(self.subjects())
        columns = {"subject": self.subject, "expression": self.expression, "age": self.age,
                   "neutral": self.neutral, "path": self.path}
        columns.update({f"extras['{k}']": a for k, a in self.extras.items()})
        for name, a in columns.items():
            if len(a) != m:
                raise DatasetError(where, f"{name} has {len(a)} rows, expected one per mesh ({m})")
        for name, a in self.subject_table.items():
            if len(a) != s:
                raise DatasetError(
                    where, f"subject_table['{name}'] has {len(a)} rows, expected one per subject ({s})")
        if self.template is not None and self.template.n_vertices != self.n_vertices:
            raise TopologyMismatchError(where, self.template.n_vertices, self.n_vertices)
        counts = self.nonfinite_counts()
        if counts.any():
            i = int(np.argmax(counts > 0))
            raise NonFiniteError(self.path[i] or f"{where} (mesh {i})", int(counts[i]))

    def nonfinite_counts(self) -> IntArray:
        """(M,) int64, the number of NaN/inf coordinates of each mesh (a memmap is read in chunks)."""
        return np.concatenate([
            (~np.isfinite(self.vertices[i:i + FINITE_CHUNK])).sum(axis=(1, 2))
            for i in range(0, len(self), FINITE_CHUNK)
        ] or [np.zeros(0)]).astype(np.int64)
