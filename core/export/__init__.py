"""Exports for artists: OBJ + MTL, binary FBX and glTF 2.0 (.glb) of a blendshape rig.

    from faceforge.core.export import Rig, Animation, ExportOptions, export
    export(Rig(template, neutral, {"jawOpen": jaw_open, ...}), "face.fbx", ExportOptions(units="cm"))
    export(rig_from_state(model, semantics, state), "face.glb")   # decoded by a model (from_model)

Each format module exposes an `{ext: fn}` dict; `EXPORTERS` merges them and `export` dispatches
on the file extension. Every file is written to a temp file and renamed into place.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ExportError
from . import fbx, gltf, obj
from .from_model import build_rig, rig_from_state, select_shapes, timeline_animation
from .rig import NAMINGS, UNITS, Animation, ExportOptions, Prepared, Rig, prepare, rename

EXPORTERS = {**obj.EXPORTERS, **gltf.EXPORTERS, **fbx.EXPORTERS}
"""File extension -> exporter `fn(rig, path, options) -> list[Path]` (the files written)."""

__all__ = ["EXPORTERS", "NAMINGS", "UNITS", "Animation", "ExportError", "ExportOptions", "Prepared", "Rig",
           "build_rig", "export", "prepare", "rename", "rig_from_state", "select_shapes",
           "timeline_animation"]


def export(rig: Rig, path: str | Path, options: ExportOptions | None = None) -> list[Path]:
    """Write `rig` to `path` in the format its extension names; returns every file written.

    Raises
    ------
    ExportError
        Unknown extension, bad rig data or options, or a destination that cannot be written.
    """
    path = Path(path)
    fn = EXPORTERS.get(path.suffix.lower())
    if fn is None:
        raise ExportError(f"unknown file type '{path.suffix}'; use one of {', '.join(sorted(EXPORTERS))}", path)
    return fn(rig, path, options or ExportOptions())
