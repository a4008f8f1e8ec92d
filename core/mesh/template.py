"""The template topology every registered face shares.

CONVENTIONS: millimetres, Y up, the face looks down +Z, right-handed. Polygons are stored as
(F, 4) vertex indices; a triangle repeats nothing and pads its fourth corner with -1.
UVs are per corner (`face_uvs` indexes `uvs`), so seams keep their two UV coordinates.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cache import load_npz, save_npz_atomic
from ..typed import Float32Array, IntArray


@dataclass(frozen=True, eq=False)
class Template:
    """A face topology with its rest shape and annotations.

    Attributes
    ----------
    vertices : (N, 3) float32, mm
    faces : (F, 4) int32, quads; triangles pad with -1
    uvs : (T, 2) float32, texture coordinates in [0, 1], V up
    face_uvs : (F, 4) int32, per-corner index into `uvs` (-1 where `faces` is -1)
    landmarks : name -> vertex id
    regions : name -> (K,) int32 vertex ids
    mirror : (N,) int32, the left/right mirror vertex of each vertex (itself on the midline)
    name : a short label, e.g. "hm08-head"
    """

    vertices: Float32Array
    faces: IntArray
    uvs: Float32Array
    face_uvs: IntArray
    landmarks: dict[str, int] = field(default_factory=dict)
    regions: dict[str, IntArray] = field(default_factory=dict)
    mirror: IntArray | None = None
    name: str = "template"

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def triangles(self) -> IntArray:
        """(T, 3) int32 triangles: each quad (a, b, c, d) splits into (a, b, c) and (a, c, d)."""
        return triangulate(self.faces)

    def triangle_uvs(self) -> IntArray:
        """(T, 3) int32 per-corner UV indices matching `triangles()`."""
        return triangulate(self.face_uvs)

    def landmark_ids(self, names: list[str] | None = None) -> IntArray:
        """(L,) vertex ids of `names` (all landmarks, in stored order, when None)."""
        names = list(self.landmarks) if names is None else names
        return np.array([self.landmarks[n] for n in names], dtype=np.int32)

    def topology_hash(self) -> str:
        """Hex digest of the connectivity (faces only), used to key caches and checkpoints."""
        return hashlib.sha256(np.ascontiguousarray(self.faces, dtype=np.int32).tobytes()).hexdigest()[:16]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """All fields as named arrays (the metadata as UTF-8 JSON bytes)."""
        meta = {"name": self.name, "landmarks": self.landmarks, "regions": sorted(self.regions)}
        arrays = {
            "vertices": self.vertices, "faces": self.faces, "uvs": self.uvs,
            "face_uvs": self.face_uvs,
            "mirror": self.mirror if self.mirror is not None else np.zeros(0, np.int32),
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        }
        arrays.update({f"region/{k}": v for k, v in self.regions.items()})
        return arrays

    @classmethod
    def from_arrays(cls, z: dict[str, np.ndarray]) -> "Template":
        """Inverse of `to_arrays`."""
        meta = json.loads(z["meta"].tobytes().decode())
        return cls(
            vertices=z["vertices"].astype(np.float32), faces=z["faces"].astype(np.int32),
            uvs=z["uvs"].astype(np.float32), face_uvs=z["face_uvs"].astype(np.int32),
            landmarks={k: int(v) for k, v in meta["landmarks"].items()},
            regions={k: z[f"region/{k}"].astype(np.int32) for k in meta["regions"]},
            mirror=z["mirror"].astype(np.int32) if z["mirror"].size else None, name=meta["name"],
        )

    def replace(self, **changes) -> "Template":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def save(self, path: str | Path) -> None:
        """Write the template as one .npz (no pickles), atomically."""
        save_npz_atomic(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> "Template":
        """Read a template written by `save`."""
        return cls.from_arrays(load_npz(path))


def triangulate(polys: IntArray) -> IntArray:
    """Split (F, 4) polygons (triangles padded with -1) or (F, 3) triangles into (T, 3) int32."""
    polys = np.asarray(polys)
    if polys.ndim != 2 or polys.shape[1] not in (3, 4):
        raise ValueError(f"polygons must be (F, 3) or (F, 4), got shape {polys.shape}")
    if polys.shape[1] == 3:
        return polys.astype(np.int32)
    first = polys[:, [0, 1, 2]]
    quad = polys[:, 3] >= 0
    second = polys[quad][:, [0, 2, 3]]
    return np.concatenate([first, second]).astype(np.int32)
