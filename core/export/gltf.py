"""glTF 2.0 binary (.glb) export: one mesh with morph targets and a `weights` animation.

CONVENTIONS: glTF's own, whatever `ExportOptions.units` says: metres, +Y up, +Z front,
right-handed (our axes, so only the scale changes), texture V measured from the top (flipped).
glTF has no quads, so the template's quads are split into triangles, and a glTF vertex carries
one UV, so vertices are split at UV seams; `seam_split` gives the map back to template vertices.

Morph targets hold POSITION and NORMAL offsets; each accessor is sparse when that is smaller,
and a target that moves nothing stores one zero entry.
Target names are in `mesh.extras.targetNames` (read by Blender, three.js, Babylon.js), default
weights are 0, and the animation drives the node's `weights` (0..1) with LINEAR samplers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pygltflib as gl

from ..mesh.geometry import vertex_normals
from ..mesh.template import Template
from .rig import ExportOptions, Prepared, Rig, prepare, write_file

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
NORMAL_EPS = 1e-6  # a normal offset component below this is no change (unit normals in float32)


@dataclass(frozen=True, eq=False)
class SeamSplit:
    """The template as glTF vertices: one per distinct (vertex, UV) pair of the triangles.

    vertex_ids : (M,) int64, the template vertex of each glTF vertex (ascending)
    uv_ids : (M,) int64, its template UV
    triangles : (T, 3) int64, triangles over glTF vertices, counter-clockwise as the template's
    """

    vertex_ids: np.ndarray
    uv_ids: np.ndarray
    triangles: np.ndarray


def seam_split(template: Template) -> SeamSplit:
    """Split template vertices where they carry more than one UV; see `SeamSplit`."""
    n_uv = len(template.uvs)
    key = template.triangles().astype(np.int64) * n_uv + template.triangle_uvs()
    unique, inverse = np.unique(key.ravel(), return_inverse=True)
    return SeamSplit(unique // n_uv, unique % n_uv, inverse.reshape(-1, 3))


def export_glb(rig: Rig, path: str | Path, options: ExportOptions = ExportOptions()) -> list[Path]:
    """Write `rig` as a .glb at `path` (metres, whatever `options.units` says); returns [path]."""
    path = Path(path)
    write_file(path, glb_bytes(prepare(rig, options, units="m"), options.normals))
    return [path]


def glb_bytes(data: Prepared, normals: bool = True) -> bytes:
    """The .glb file of a prepared rig (offsets already in metres)."""
    split = seam_split(data.template)
    tris = data.template.triangles()
    buf = _Buffer()
    neutral = data.neutral[split.vertex_ids].astype(np.float32)  # (M, 3)
    uv = data.template.uvs[split.uv_ids].astype(np.float32)
    uv[:, 1] = 1.0 - uv[:, 1]
    attributes = gl.Attributes(POSITION=buf.dense(neutral, bounds=True), TEXCOORD_0=buf.dense(uv))
    if normals:
        base = vertex_normals(data.neutral, tris)  # (N, 3)
        attributes.NORMAL = buf.dense(base[split.vertex_ids])
    index_type = np.uint16 if len(neutral) < 65535 else np.uint32
    indices = buf.dense(split.triangles.astype(index_type).ravel(), target=ELEMENT_ARRAY_BUFFER)
    targets = []
    for offset in data.offsets:
        target = gl.Attributes(POSITION=buf.morph(offset[split.vertex_ids].astype(np.float32), bounds=True))
        if normals:
            turned = vertex_normals(data.neutral + offset, tris) - base
            turned[np.abs(turned) < NORMAL_EPS] = 0.0  # rounding noise, not a change: keeps it sparse
            target.NORMAL = buf.morph(turned[split.vertex_ids].astype(np.float32))
        targets.append(target)
    primitive = gl.Primitive(attributes=attributes, indices=indices, material=0, mode=gl.TRIANGLES,
                             targets=targets)
    mesh = gl.Mesh(name=data.name, primitives=[primitive], weights=[0.0] * len(targets),
                   extras={"targetNames": list(data.names)} if targets else {})
    material = gl.Material(name=data.name, doubleSided=False, pbrMetallicRoughness=gl.PbrMetallicRoughness(
        baseColorFactor=[0.8, 0.68, 0.62, 1.0], metallicFactor=0.0, roughnessFactor=0.6))
    doc = gl.GLTF2(asset=gl.Asset(version="2.0", generator="FaceForge"), scene=0,
                   scenes=[gl.Scene(nodes=[0])], nodes=[gl.Node(name=data.name, mesh=0)], meshes=[mesh],
                   materials=[material])
    if data.times is not None and targets:
        times = buf.dense(data.times.astype(np.float32), target=None, bounds=True)
        weights = buf.dense(np.ascontiguousarray(data.weights, np.float32).ravel(), target=None)
        doc.animations = [gl.Animation(
            name=data.name, samplers=[gl.AnimationSampler(input=times, output=weights, interpolation="LINEAR")],
            channels=[gl.AnimationChannel(sampler=0, target=gl.AnimationChannelTarget(node=0, path="weights"))])]
    doc.accessors, doc.bufferViews = buf.accessors, buf.views
    blob = bytes(buf.data)
    doc.buffers = [gl.Buffer(byteLength=len(blob))]
    doc.set_binary_blob(blob)
    return b"".join(doc.save_to_bytes())


_COMPONENT = {np.dtype(np.float32): gl.FLOAT, np.dtype(np.uint32): gl.UNSIGNED_INT,
              np.dtype(np.uint16): gl.UNSIGNED_SHORT, np.dtype(np.uint8): gl.UNSIGNED_BYTE}
_TYPE = {1: gl.SCALAR, 2: gl.VEC2, 3: gl.VEC3}


class _Buffer:
    """The binary chunk with its buffer views and accessors, each view 4-byte aligned."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[gl.BufferView] = []
        self.accessors: list[gl.Accessor] = []

    def view(self, array: np.ndarray, target: int | None) -> int:
        self.data += b"\x00" * (-len(self.data) % 4)
        raw = np.ascontiguousarray(array).tobytes()
        self.views.append(gl.BufferView(buffer=0, byteOffset=len(self.data), byteLength=len(raw), target=target))
        self.data += raw
        return len(self.views) - 1

    def dense(self, array: np.ndarray, target: int | None = ARRAY_BUFFER, bounds: bool = False) -> int:
        """An accessor over a new view of `array`, (M,) or (M, C); `bounds` adds min/max."""
        return self._accessor(array, bounds, bufferView=self.view(array, target))

    def morph(self, values: np.ndarray, bounds: bool = False) -> int:
        """A morph target accessor for (M, 3) float32 offsets: sparse, dense or empty, the smallest."""
        moved = np.flatnonzero(np.any(values != 0, axis=1))
        if len(moved) == 0:  # a shape that moves nothing: one zero entry (assimp can't read data-less accessors)
            moved = np.zeros(1, np.int64)
        index_type = np.uint8 if len(values) <= 256 else np.uint16 if len(values) <= 65536 else np.uint32
        sparse_size = len(moved) * (np.dtype(index_type).itemsize + values.itemsize * 3)
        if sparse_size >= values.nbytes:
            return self.dense(values, bounds=bounds)
        ids = moved.astype(index_type)
        sparse = gl.Sparse(
            count=len(moved),
            indices=gl.AccessorSparseIndices(bufferView=self.view(ids, None), byteOffset=0,
                                             componentType=_COMPONENT[ids.dtype]),
            values=gl.AccessorSparseValues(bufferView=self.view(values[moved], None), byteOffset=0))
        return self._accessor(values, bounds, bufferView=None, byteOffset=None, sparse=sparse)

    def _accessor(self, array: np.ndarray, bounds: bool, **fields) -> int:
        width = 1 if array.ndim == 1 else array.shape[1]
        lo = array.min(axis=0).reshape(-1).tolist() if bounds else None
        hi = array.max(axis=0).reshape(-1).tolist() if bounds else None
        self.accessors.append(gl.Accessor(componentType=_COMPONENT[array.dtype], count=len(array),
                                          type=_TYPE[width], min=lo, max=hi, **fields))
        return len(self.accessors) - 1


EXPORTERS = {".glb": export_glb}
