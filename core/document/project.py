"""Project files (`*.ffproj`): one UTF-8 JSON file with the model reference, state and view.

    {"format": "faceforge-project", "version": 1,
     "model": {"path": "/abs/run/checkpoint", "relative": "../run/checkpoint"},
     "state": {"z_id": [...], "z_exp": [...], "arkit": [...], "preset": "", "intensity": 1.0,
               "fps": 24.0, "duration": 4.0,
               "identity": {"interpolation": "linear", "keys": [{"time": 0.0, "code": [...]}]},
               "expression": {...},
               "snapshots": [{"name": "State 1", "z_id": [...], "z_exp": [...], "arkit": [...],
                              "preset": "", "intensity": 1.0}]},
     "view": {...}}

Written to a temp file and renamed, so a crash never leaves half a project. Reading checks
everything and raises `ProjectError` with the reason; nothing is half-applied.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import atomic_write_bytes
from .errors import ProjectError, ProjectWriteError
from .snapshots import Snapshot, fits
from .state import State
from .tracks import Keyframe, Track

FORMAT = "faceforge-project"
VERSION = 1
SUFFIX = ".ffproj"


@dataclass(frozen=True)
class Project:
    """What a project file holds: the model folder (or None), the state and the camera view."""

    model_path: str | None
    state: State
    view: dict[str, Any]


def save_project(path: str | Path, project: Project) -> None:
    """Write `project` to `path` atomically; raises `ProjectWriteError` when it cannot."""
    path = Path(path)
    doc = {"format": FORMAT, "version": VERSION, "model": _model_ref(project.model_path, path),
           "state": _state_to_json(project.state), "view": project.view}
    try:
        atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
    except OSError as exc:
        raise ProjectWriteError(path, f"{exc.strerror or exc}; choose another folder or free some space",
                                exc) from exc


def open_project(path: str | Path) -> Project:
    """Read a project file; raises `ProjectError` for anything unreadable or inconsistent."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(path, f"{exc.strerror or exc}", exc) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(path, f"it is not a FaceForge project (not JSON: {exc})", exc) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProjectError(path, f"it is not a FaceForge project (no \"format\": \"{FORMAT}\" field)")
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        raise ProjectError(path, f"it has format version {doc.get('version')!r}; this FaceForge reads "
                           f"versions up to {VERSION}, so update FaceForge to open it")
    try:
        state = _state_from_json(doc["state"])
        view = doc.get("view") or {}
        if not isinstance(view, dict):
            raise TypeError(f"'view' must be an object, not {type(view).__name__}")
        return Project(_resolve_model(doc.get("model"), path), state, view)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(path, f"it is damaged ({type(exc).__name__}: {exc}); open a backup or "
                           "the autosaved copy", exc) from exc


def check_sizes(project: Project, path: str | Path, id_dim: int, exp_dim: int, arkit_dim: int) -> None:
    """Raise `ProjectError` when the project's codes do not fit a model's sizes."""
    s = project.state
    got = (len(s.z_id), len(s.z_exp), len(s.arkit))
    if (got != (id_dim, exp_dim, arkit_dim) or any(len(k.code) != id_dim for k in s.identity.keys)
            or any(len(k.code) != exp_dim for k in s.expression.keys)
            or not all(fits(x, id_dim, exp_dim, arkit_dim) for x in s.snapshots)):
        raise ProjectError(path, f"its codes have sizes (identity {got[0]}, expression {got[1]}, ARKit "
                           f"{got[2]}) but the model has ({id_dim}, {exp_dim}, {arkit_dim}); open it "
                           "with the model it was made with")


def _model_ref(model_path: str | None, project_path: Path) -> dict[str, str] | None:
    if model_path is None:
        return None
    absolute = Path(model_path).resolve()
    try:
        relative = os.path.relpath(absolute, project_path.resolve().parent)
    except ValueError:  # another drive on Windows
        relative = str(absolute)
    return {"path": str(absolute), "relative": relative}


def _resolve_model(ref: Any, project_path: Path) -> str | None:
    """The model folder: next to the project when the relative path exists, else the absolute one."""
    if ref is None:
        return None
    near = project_path.resolve().parent / ref["relative"]
    return str(near.resolve()) if near.exists() else str(ref["path"])


def _state_to_json(s: State) -> dict[str, Any]:
    return {"z_id": s.z_id.tolist(), "z_exp": s.z_exp.tolist(), "arkit": s.arkit.tolist(),
            "preset": s.preset, "intensity": s.intensity, "fps": s.fps, "duration": s.duration,
            "identity": _track_to_json(s.identity), "expression": _track_to_json(s.expression),
            "snapshots": [_snapshot_to_json(x) for x in s.snapshots]}


def _track_to_json(t: Track) -> dict[str, Any]:
    return {"interpolation": t.interpolation,
            "keys": [{"time": k.time, "code": k.code.tolist()} for k in t.keys]}


def _state_from_json(d: dict[str, Any]) -> State:
    return State(z_id=_codes(d["z_id"], "z_id"), z_exp=_codes(d["z_exp"], "z_exp"),
                 arkit=_codes(d.get("arkit", []), "arkit"), preset=str(d.get("preset", "")),
                 intensity=float(d.get("intensity", 1.0)), fps=float(d.get("fps", 24.0)),
                 duration=float(d.get("duration", 4.0)), identity=_track_from_json(d.get("identity", {})),
                 expression=_track_from_json(d.get("expression", {})),
                 snapshots=tuple(_snapshot_from_json(x) for x in d.get("snapshots", [])))


def _track_from_json(d: dict[str, Any]) -> Track:
    keys = tuple(Keyframe(float(k["time"]), _codes(k["code"], "keyframe code")) for k in d.get("keys", []))
    return Track(keys, str(d.get("interpolation", "linear")))


def _snapshot_to_json(x: Snapshot) -> dict[str, Any]:
    return {"name": x.name, "z_id": x.z_id.tolist(), "z_exp": x.z_exp.tolist(), "arkit": x.arkit.tolist(),
            "preset": x.preset, "intensity": x.intensity}


def _snapshot_from_json(d: dict[str, Any]) -> Snapshot:
    return Snapshot(str(d["name"]), _codes(d["z_id"], "snapshot z_id"), _codes(d["z_exp"], "snapshot z_exp"),
                    _codes(d.get("arkit", []), "snapshot arkit"), str(d.get("preset", "")),
                    float(d.get("intensity", 1.0)))


def _codes(values: Any, name: str) -> np.ndarray:
    """A finite 1-D float32 array, or ValueError naming the field."""
    a = np.asarray(values, dtype=np.float32)
    if a.ndim != 1:
        raise ValueError(f"'{name}' must be a list of numbers; received shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"'{name}' holds non-finite values")
    return a
