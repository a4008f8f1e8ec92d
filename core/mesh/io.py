"""Read and write meshes: OBJ by a small parser that keeps vertex order, quads and UVs; PLY, STL,
OFF and GLB through trimesh.

Vertex order is preserved exactly (registered meshes are identified by vertex index), except for
STL, which stores unindexed triangles and is welded on read. Polygons follow the template layout:
(F, 4) int32, triangles padded with -1; polygons with more than 4 corners are fan-triangulated.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from ..cache import atomic_write_bytes
from ..constants import tol
from ..errors import MeshReadError, NonFiniteError
from ..typed import Float32Array, FloatArray, IntArray
from .template import triangulate

FORMATS = (".obj", ".ply", ".stl", ".off", ".glb")
_FLOAT = "%.9g"  # 9 significant digits: every float32 survives a text round trip exactly


@dataclass(frozen=True, eq=False)
class MeshData:
    """A mesh as read from disk.

    Attributes
    ----------
    vertices : (N, 3) float32, mm
    faces : (F, 4) int32, triangles padded with -1; None for a point cloud
    uvs : (T, 2) float32 texture coordinates, or None
    face_uvs : (F, 4) int32 per-corner index into `uvs` (-1 where `faces` is -1), or None
    """

    vertices: Float32Array
    faces: IntArray | None = None
    uvs: Float32Array | None = None
    face_uvs: IntArray | None = None


def read_mesh(path: str | Path, allow_nonfinite: bool = False) -> MeshData:
    """Read an OBJ, PLY, STL, OFF or GLB file (GLB scenes are concatenated, transforms applied).

    UVs are kept when every face has one per corner (OBJ `f v/vt`) or per vertex (PLY, GLB).
    Through trimesh, quads are split into triangles and mixed PLY faces come back reordered.
    `allow_nonfinite` keeps NaN/inf vertices for the caller to drop (raw scans).

    Raises
    ------
    MeshReadError
        Missing, empty, unsupported, damaged, or vertex-less file, or bad face indices.
    NonFiniteError
        NaN or infinite coordinates.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise MeshReadError(path, f"unsupported format '{suffix}'; use one of {', '.join(FORMATS)}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MeshReadError(path, f"cannot open it ({e.strerror}); check the path", e) from e
    if not data:
        raise MeshReadError(path, "the file is empty (0 bytes); re-export it from the source tool")
    mesh = _read_obj(path, data) if suffix == ".obj" else _read_trimesh(path, data, suffix[1:])
    return _validated(path, mesh, allow_nonfinite)


def write_obj(
    path: str | Path,
    vertices: FloatArray,
    faces: IntArray | None,
    uvs: FloatArray | None = None,
    face_uvs: IntArray | None = None,
    normals: FloatArray | None = None,
    mtl_name: str | None = None,
) -> None:
    """Write an OBJ atomically, quads as quads.

    Parameters
    ----------
    vertices : (N, 3) float, mm, written at float32 precision (float32 input round-trips exactly)
    faces : (F, 4) int, -1 padded, or (F, 3) triangles; None writes only the points
    uvs, face_uvs : (T, 2) float and per-corner (F, 4) or (F, 3) int, written as `vt` / `f v/vt`
    normals : (N, 3) float per-vertex normals, written as `vn` (same index as the vertex)
    mtl_name : material library file next to `path` (e.g. "head.mtl"); writes `mtllib head.mtl`
        and `usemtl head`, so the library must define a material named after its stem.
    """
    if (uvs is None) != (face_uvs is None):
        raise ValueError("write_obj needs both `uvs` and `face_uvs`, or neither")
    if faces is None and face_uvs is not None:
        raise ValueError("write_obj got `face_uvs` but no `faces`")
    lines = [] if mtl_name is None else [f"mtllib {mtl_name}"]
    lines += _float_lines("v", _points(vertices, 3, "vertices"))
    if uvs is not None:
        lines += _float_lines("vt", _points(uvs, 2, "uvs"))
    if normals is not None:
        if np.shape(normals) != np.shape(vertices):
            raise ValueError(f"`normals` {np.shape(normals)} must match `vertices` "
                             f"{np.shape(vertices)}: one normal per vertex")
        lines += _float_lines("vn", _points(normals, 3, "normals"))
    if mtl_name is not None:
        lines.append(f"usemtl {Path(mtl_name).stem}")
    if faces is not None:
        polys = _polygons(faces)
        corner_uvs = None if face_uvs is None else _polygons(face_uvs)
        if corner_uvs is not None and corner_uvs.shape != polys.shape:
            raise ValueError(f"`face_uvs` {corner_uvs.shape} must match `faces` {polys.shape}")
        lines += _face_lines(polys, corner_uvs, normals is not None)
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def write_ply(path: str | Path, vertices: FloatArray, faces: IntArray | None) -> None:
    """Write a binary PLY atomically through trimesh (quads are split into triangles).

    vertices : (N, 3) float, mm, stored as float32; faces : (F, 4) or (F, 3) int, or None.
    """
    points = _points(vertices, 3, "vertices")
    if faces is None:
        geometry = trimesh.PointCloud(points)
    else:
        geometry = trimesh.Trimesh(points, triangulate(faces), process=False, validate=False)
    atomic_write_bytes(path, geometry.export(file_type="ply", encoding="binary"))


def _read_trimesh(path: Path, data: bytes, file_type: str) -> MeshData:
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=file_type, process=False)
    except Exception as e:  # trimesh raises anything from ValueError to IndexError on bad files
        raise MeshReadError(
            path, f"the file is damaged or not a valid {file_type.upper()} file ({e}); "
            "re-export it from the source tool", e,
        ) from e
    if isinstance(loaded, trimesh.Scene):
        loaded = loaded.to_geometry()
    if isinstance(loaded, trimesh.PointCloud):
        return MeshData(np.asarray(loaded.vertices))
    if not isinstance(loaded, trimesh.Trimesh):
        raise MeshReadError(path, f"it holds no mesh or points (got {type(loaded).__name__})")
    if file_type == "stl":
        loaded.merge_vertices()
    if len(loaded.faces) == 0:
        return MeshData(np.asarray(loaded.vertices))
    faces = _polygons(loaded.faces)
    uv = getattr(loaded.visual, "uv", None)
    if uv is None or len(uv) != len(loaded.vertices):
        return MeshData(np.asarray(loaded.vertices), faces)
    return MeshData(np.asarray(loaded.vertices), faces, np.asarray(uv), faces)


def _read_obj(path: Path, data: bytes) -> MeshData:
    """Parse `v`, `vt` and `f` lines (negative indices allowed); other statements are ignored."""
    verts: list[list[float]] = []
    uvs: list[list[float]] = []
    rows: list[list[int]] = []  # per polygon: 4 raw vertex refs, 4 raw UV refs (0 = none)
    defined: list[tuple[int, int]] = []  # (v, vt) counts when the polygon was read
    text = data.decode("utf-8", errors="replace")  # only names and comments can be non-ASCII
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        try:
            if not tokens:
                continue
            if tokens[0] == "v":
                verts.append(_obj_floats(tokens, 3))
            elif tokens[0] == "vt":
                uvs.append(_obj_floats(tokens, 2))
            elif tokens[0] == "f":
                polygons = _obj_face(tokens[1:])
                rows += polygons
                defined += [(len(verts), len(uvs))] * len(polygons)
        except ValueError as e:
            raise MeshReadError(path, f"line {number} is malformed ({e}); the file may be "
                                "truncated or not an OBJ", e) from e
    v = np.array(verts, np.float64).reshape(-1, 3)
    if not rows:
        return MeshData(v)
    raw, counts = np.array(rows, np.int64), np.array(defined, np.int64)
    faces = _obj_resolve(path, raw[:, :4], counts[:, :1])
    if np.any((raw[:, 4:] == 0) & (raw[:, :4] != 0)):  # some corner without UV: drop all UVs
        return MeshData(v, faces)
    return MeshData(v, faces, np.array(uvs, np.float64).reshape(-1, 2),
                    _obj_resolve(path, raw[:, 4:], counts[:, 1:]))


def _obj_floats(tokens: list[str], count: int) -> list[float]:
    if len(tokens) <= count:
        raise ValueError(f"'{tokens[0]}' needs {count} numbers, got {len(tokens) - 1}")
    return [float(x) for x in tokens[1:count + 1]]


def _obj_face(tokens: list[str]) -> list[list[int]]:
    """Raw references of a polygon as [v0..v3, vt0..vt3] rows, 0-padded; fans beyond 4 corners."""
    refs = [token.split("/") for token in tokens]
    v = [int(r[0]) for r in refs]
    t = [int(r[1]) if len(r) > 1 and r[1] else 0 for r in refs]
    if len(v) < 3 or 0 in v:
        raise ValueError(f"a face needs 3 or more corners with non-zero indices, got {tokens}")
    if len(v) <= 4:
        pad = [0] * (4 - len(v))
        return [v + pad + t + pad]
    return [[v[0], v[k], v[k + 1], 0, t[0], t[k], t[k + 1], 0] for k in range(1, len(v) - 1)]


def _obj_resolve(path: Path, raw: IntArray, defined: IntArray) -> IntArray:
    """0-based ids of 1-based or negative (relative to `defined`) references; -1 where raw is 0."""
    ids = np.where(raw > 0, raw - 1, defined + raw)
    if np.any((raw < 0) & (ids < 0)):
        raise MeshReadError(path, "a relative (negative) face index points before the first "
                            "element; the file is damaged")
    ids[raw == 0] = -1
    return ids


def _validated(path: Path, mesh: MeshData, allow_nonfinite: bool = False) -> MeshData:
    """Check coordinates and indices; cast to float32 / int32."""
    v = np.asarray(mesh.vertices, np.float64)
    if len(v) == 0:
        raise MeshReadError(path, "it contains no vertices; check that it is really a mesh file")
    finite = np.isfinite(v)
    if not allow_nonfinite and not finite.all():
        raise NonFiniteError(path, int(np.count_nonzero(~finite)))
    largest = np.abs(v[finite]).max(initial=0.0)
    if largest > tol.finite_max:
        raise MeshReadError(path, f"coordinates reach {largest:.3g}, beyond "
                            f"{tol.finite_max:g} mm; the file is corrupt or not in millimetres")
    _check_indices(path, mesh.faces, len(v), "vertices")
    uvs = None if mesh.uvs is None else np.asarray(mesh.uvs, np.float32)
    _check_indices(path, mesh.face_uvs, 0 if uvs is None else len(uvs), "texture coordinates")
    return MeshData(
        v.astype(np.float32), None if mesh.faces is None else mesh.faces.astype(np.int32), uvs,
        None if mesh.face_uvs is None else mesh.face_uvs.astype(np.int32),
    )


def _check_indices(path: Path, polys: IntArray | None, count: int, what: str) -> None:
    if polys is None:
        return
    used = polys[(polys != -1) | (np.arange(4) < 3)]  # only the 4th corner may be -1
    if used.size and (used.min() < 0 or used.max() >= count):
        raise MeshReadError(path, f"faces reference {what} outside 0..{count - 1} (got "
                            f"{used.min()}..{used.max()}); the file is damaged")


def _points(array: FloatArray, width: int, name: str) -> Float32Array:
    out = np.asarray(array, np.float32)
    if out.ndim != 2 or out.shape[1] != width:
        raise ValueError(f"`{name}` must be (N, {width}), got shape {out.shape}")
    return out


def _polygons(polys: IntArray) -> IntArray:
    """(F, 3) or (F, 4) -> (F, 4) int32, -1 padded."""
    polys = np.asarray(polys)
    if polys.ndim != 2 or polys.shape[1] not in (3, 4):
        raise ValueError(f"polygons must be (F, 3) or (F, 4), got shape {polys.shape}")
    return np.pad(polys.astype(np.int32), ((0, 0), (0, 4 - polys.shape[1])), constant_values=-1)


def _float_lines(tag: str, rows: Float32Array) -> list[str]:
    fmt = " ".join([tag] + [_FLOAT] * rows.shape[1])
    return [fmt % tuple(row) for row in rows.tolist()]


def _face_lines(faces: IntArray, face_uvs: IntArray | None, normals: bool) -> list[str]:
    """`f` lines with 1-based `v`, `v/vt`, `v//vn` or `v/vt/vn` corners (vn index = v index)."""
    corner = {(False, False): "{0}", (False, True): "{0}//{0}", (True, False): "{0}/{1}",
              (True, True): "{0}/{1}/{0}"}[(face_uvs is not None, normals)]
    uv_rows = (faces if face_uvs is None else face_uvs).tolist()
    lines = []
    for face, uv in zip(faces.tolist(), uv_rows):
        size = 4 if face[3] >= 0 else 3
        lines.append("f " + " ".join(corner.format(face[k] + 1, uv[k] + 1) for k in range(size)))
    return lines
