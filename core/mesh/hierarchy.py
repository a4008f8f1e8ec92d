"""The mesh hierarchy of a Spiral++ encoder/decoder: coarse levels, sampling matrices, spirals.

Follows CoMA (Ranjan et al. 2018) and SpiralNet++ (Gong et al. 2019) without psbody/openmesh:
level i+1 keeps a subset of level i's vertices (`decimate`), `down[i]` selects them, and
`up[i]` writes each fine vertex as the barycentric combination of its closest point on the
coarse mesh (coarse vertices at their original positions). Level 0 is the input mesh.
"""
from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import trimesh
from scipy import sparse

from ..cache import cache_dir, load_npz, save_npz_atomic
from ..typed import FloatArray, IntArray
from .decimate import decimate
from .spiral import spiral_indices
from .template import Template, triangulate

if TYPE_CHECKING:
    from pathlib import Path

    import torch

FORMAT_VERSION = 1  # bump when the algorithm or the file layout changes (invalidates caches)


class TorchHierarchy(NamedTuple):
    """`MeshHierarchy` as tensors: float32 sparse COO `down`/`up`, int64 `spirals`."""

    down: tuple[torch.Tensor, ...]
    up: tuple[torch.Tensor, ...]
    spirals: tuple[torch.Tensor, ...]


@dataclass(frozen=True, eq=False)
class MeshHierarchy:
    """Levels 0 (finest) to K (coarsest) of a mesh.

    Attributes
    ----------
    n_vertices : (K + 1) vertex counts N_i
    triangles : K + 1 arrays (T_i, 3) int32
    down : K csr (N_{i+1}, N_i) float32, one 1 per row (the kept vertex)
    up : K csr (N_i, N_{i+1}) float32, barycentric rows summing to 1; identity on kept vertices
    spirals : K + 1 arrays (N_i, L) int64, see `spiral_indices`
    """

    n_vertices: tuple[int, ...]
    triangles: tuple[IntArray, ...]
    down: tuple[sparse.csr_array, ...]
    up: tuple[sparse.csr_array, ...]
    spirals: tuple[IntArray, ...]

    @property
    def n_levels(self) -> int:
        """K, the number of down-sampling steps."""
        return len(self.down)

    def to_torch(self) -> TorchHierarchy:
        """The matrices as float32 sparse COO tensors and the spirals as int64 tensors."""
        import torch

        def coo(m: sparse.csr_array) -> torch.Tensor:
            m = m.tocoo()
            idx = torch.from_numpy(np.vstack([m.row, m.col]).astype(np.int64))
            return torch.sparse_coo_tensor(idx, torch.from_numpy(m.data), m.shape,
                                           check_invariants=True).coalesce()

        return TorchHierarchy(
            down=tuple(coo(m) for m in self.down), up=tuple(coo(m) for m in self.up),
            spirals=tuple(torch.from_numpy(s) for s in self.spirals),
        )

    def save(self, path: str | Path) -> None:
        """Write the hierarchy as one .npz (no pickles)."""
        arrays: dict[str, np.ndarray] = {"n_vertices": np.array(self.n_vertices, np.int64)}
        for i, (tri, spiral) in enumerate(zip(self.triangles, self.spirals)):
            arrays[f"triangles/{i}"], arrays[f"spirals/{i}"] = tri, spiral
        for i, (down, up) in enumerate(zip(self.down, self.up)):
            arrays[f"kept/{i}"] = down.indices
            arrays.update({f"up/{i}/{k}": getattr(up, k) for k in ("data", "indices", "indptr")})
        save_npz_atomic(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> MeshHierarchy:
        """Read a hierarchy written by `save`."""
        z = load_npz(path)
        n = [int(k) for k in z["n_vertices"]]
        levels = range(len(n) - 1)
        return cls(
            n_vertices=tuple(n),
            triangles=tuple(z[f"triangles/{i}"] for i in range(len(n))),
            down=tuple(_selection(z[f"kept/{i}"], n[i]) for i in levels),
            up=tuple(sparse.csr_array(
                (z[f"up/{i}/data"], z[f"up/{i}/indices"], z[f"up/{i}/indptr"]),
                shape=(n[i], n[i + 1])) for i in levels),
            spirals=tuple(z[f"spirals/{i}"] for i in range(len(n))),
        )


def build_hierarchy(vertices: FloatArray, faces_or_triangles: IntArray,
                    factors: Sequence[float] = (4, 4, 4, 4), spiral_length: int = 9,
                    dilation: int = 1) -> MeshHierarchy:
    """Decimate `len(factors)` times and derive the sampling matrices and spirals.

    Parameters
    ----------
    vertices : (N, 3) float, mm
    faces_or_triangles : (F, 4) polygons padded with -1, or (T, 3) triangles
    factors : vertex-count reduction of each level, each > 1
    spiral_length, dilation : see `spiral_indices`, the same at every level
    """
    verts = np.asarray(vertices, dtype=np.float64)
    tris = [triangulate(faces_or_triangles)]
    counts, down, up = [len(verts)], [], []
    for level, factor in enumerate(factors):
        kept, coarse = decimate(verts, tris[-1], factor)
        if len(kept) == len(verts):
            raise ValueError(
                f"level {level} ({len(verts)} vertices) cannot be decimated any further; "
                f"pass fewer factors than {tuple(factors)}"
            )
        down.append(_selection(kept, len(verts)))
        up.append(_barycentric_up(verts, kept, coarse))
        verts = verts[kept]
        tris.append(coarse)
        counts.append(len(kept))
    spirals = [spiral_indices(t, n, spiral_length, dilation) for t, n in zip(tris, counts)]
    return MeshHierarchy(tuple(counts), tuple(tris), tuple(down), tuple(up), tuple(spirals))


def load_or_build_hierarchy(template: Template, factors: Sequence[float] = (4, 4, 4, 4),
                            spiral_length: int = 9, dilation: int = 1) -> MeshHierarchy:
    """`build_hierarchy` of the template's rest shape, cached in the user cache.

    The key holds the topology hash, a digest of the rest shape (decimation and up-sampling
    depend on positions), the parameters and `FORMAT_VERSION`. An unreadable entry is rebuilt.
    """
    shape = hashlib.sha256(np.ascontiguousarray(template.vertices, np.float32)).hexdigest()[:8]
    params = "x".join(f"{f:g}" for f in factors)
    name = f"{template.topology_hash()}-{shape}-f{params}-L{spiral_length}-d{dilation}"
    path = cache_dir("hierarchy") / f"{name}-v{FORMAT_VERSION}.npz"
    if path.exists():
        try:
            return MeshHierarchy.load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass
    hierarchy = build_hierarchy(template.vertices, template.faces, factors, spiral_length,
                                dilation)
    hierarchy.save(path)
    return hierarchy


def _selection(kept: IntArray, n_fine: int) -> sparse.csr_array:
    """(M, n_fine) float32 csr with a single 1 at column kept[j] of row j."""
    m = len(kept)
    return sparse.csr_array((np.ones(m, np.float32), np.asarray(kept, np.int64),
                             np.arange(m + 1)), shape=(m, n_fine))


def _barycentric_up(verts: FloatArray, kept: IntArray, coarse: IntArray) -> sparse.csr_array:
    """(N, M) float32 csr: kept vertices copy themselves; the others interpolate the coarse
    triangle holding their closest point on the coarse mesh (kept vertices' positions)."""
    n, m = len(verts), len(kept)
    rest = np.setdiff1d(np.arange(n), kept)
    mesh = trimesh.Trimesh(verts[kept], coarse, process=False)
    closest, _, face = trimesh.proximity.closest_point(mesh, verts[rest])
    corners = coarse[face]  # (R, 3)
    bary = trimesh.triangles.points_to_barycentric(mesh.vertices[corners], closest)
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(1, keepdims=True)
    rows = np.concatenate([kept, np.repeat(rest, 3)])
    cols = np.concatenate([np.arange(m), corners.ravel()])
    vals = np.concatenate([np.ones(m), bary.ravel()]).astype(np.float32)
    up = sparse.csr_array((vals, (rows, cols)), shape=(n, m))
    up.eliminate_zeros()
    return up
