"""OBJ + MTL export: the neutral with UVs, and on request one OBJ per shape and one per frame.

Every OBJ keeps the template's vertex order and quads, so any tool that builds blendshapes
from same-topology meshes (Maya's Shape Editor, Blender's "Join as Shapes") can use them.
Files: `<stem>.obj`, `<stem>.mtl`, `<stem>_shapes/<shape>.obj`, `<stem>_frames/<stem>_<frame>.obj`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..mesh.geometry import vertex_normals
from ..mesh.io import write_obj
from .rig import ExportOptions, Prepared, Rig, destination, prepare, safe_filename, write_file

_MTL = """# FaceForge material
newmtl {name}
Ka 0.000 0.000 0.000
Kd 0.800 0.680 0.620
Ks 0.100 0.100 0.100
Ns 20.0
d 1.0
illum 2
"""


def export_obj(rig: Rig, path: str | Path, options: ExportOptions = ExportOptions()) -> list[Path]:
    """Write `rig` as OBJ + MTL (plus shape and frame OBJs on request); returns the files written.

    Coordinates are in `options.units`; faces are the template's quads; UVs per corner.
    """
    path = Path(path)
    data = prepare(rig, options)
    if options.obj_sequence and data.times is None:
        raise ExportError("an OBJ sequence needs an animation; the rig has none", path)
    mtl = path.with_suffix(".mtl")
    write_file(mtl, _MTL.format(name=path.stem).encode())
    written = [mtl]
    _write(path, data, data.neutral, mtl.name, options.normals)
    written.append(path)
    if options.obj_shapes:
        folder = path.parent / f"{path.stem}_shapes"
        for name, offset in zip(data.names, data.offsets):
            target = folder / f"{safe_filename(name)}.obj"
            _write(target, data, data.neutral + offset, f"../{mtl.name}", options.normals)
            written.append(target)
    if options.obj_sequence:
        written += _sequence(path, data, f"../{mtl.name}", options.normals)
    return written


def frame_times(data: Prepared) -> np.ndarray:
    """(F,) s, one frame every 1/fps from the first key to the last (inclusive)."""
    assert data.times is not None and data.fps is not None
    count = int(np.floor((data.times[-1] - data.times[0]) * data.fps + 1e-6)) + 1
    return data.times[0] + np.arange(count) / data.fps


def _sequence(path: Path, data: Prepared, mtl: str, normals: bool) -> list[Path]:
    """One OBJ per frame. The first is written by `write_obj`; the others reuse its UV, material
    and face lines and format only their `v` and `vn` lines (several times faster)."""
    folder = path.parent / f"{path.stem}_frames"
    tris = data.template.triangles()
    written: list[Path] = []
    lines: list[str] = []
    blocks: dict[str, int] = {}
    for t in frame_times(data):
        # einsum, not tensordot: a BLAS matrix-vector product this small is slower
        vertices = data.neutral + np.einsum("s,snc->nc", data.sample(t).astype(np.float64), data.offsets)
        target = folder / f"{path.stem}_{int(round(t * data.fps)):04d}.obj"
        if not written:
            _write(target, data, vertices, mtl, normals)
            with destination(target):
                lines = target.read_text().split("\n")
            blocks = {tag: next(k for k, line in enumerate(lines) if line.startswith(tag + " "))
                      for tag in (("v", "vn") if normals else ("v",))}
        else:
            _replace(lines, blocks["v"], "v", vertices)
            if normals:
                _replace(lines, blocks["vn"], "vn", vertex_normals(vertices, tris))
            write_file(target, "\n".join(lines).encode())
        written.append(target)
    return written


def _replace(lines: list[str], start: int, tag: str, rows: np.ndarray) -> None:
    """Overwrite the `tag` lines from `start` with `rows`, formatted `%.9g` as `write_obj` does."""
    text = (f"{tag} %.9g %.9g %.9g\n" * len(rows)) % tuple(rows.astype(np.float32).ravel().tolist())
    lines[start:start + len(rows)] = text.split("\n")[:-1]


def _write(path: Path, data: Prepared, vertices: np.ndarray, mtl: str, normals: bool) -> None:
    t = data.template
    with destination(path):
        write_obj(path, vertices, t.faces, t.uvs, t.face_uvs,
                  normals=vertex_normals(vertices, t.triangles()) if normals else None, mtl_name=mtl)


EXPORTERS = {".obj": export_obj}
