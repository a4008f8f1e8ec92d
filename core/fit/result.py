"""The result of fitting a scan: codes, pose, meshes in the template topology, residuals.

A saved fit is a folder (written to a temp folder next to it, then renamed into place):
registered.obj and neutral.obj (template UVs, in the scan's frame and units), fit.json (codes,
pose, rigid initialization, region errors, notes, seconds), residual.npy ((N,) float32 mm, NaN
where the scan has no data) and model_frame.npz (model_fit, offsets and neutral, (N, 3) float32
mm in the model frame, so a loaded fit equals the saved one exactly). Nothing is pickled.
"""
from __future__ import annotations

import json
import math
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import load_npz, replace_folder, save_npz_atomic
from ..errors import FitResultError
from ..mesh.align import SimilarityTransform
from ..mesh.io import write_obj
from ..mesh.template import Template
from ..typed import Float32Array, FloatArray
from .rigid import RigidFit

FORMAT_VERSION = 1
FILES = ("fit.json", "residual.npy", "model_frame.npz", "registered.obj", "neutral.obj")


@dataclass(frozen=True, eq=False)
class FitResult:
    """A scan fitted by a face model.

    Attributes
    ----------
    template : the model's template topology
    z_id : (I,) float32; z_exp : (E,) float32, the fitted codes
    pose : model frame -> scan frame (scan units), the inverse of the final rigid alignment
    model_fit : (N, 3) float32 mm, model frame, decode(z_id, z_exp)
    offsets : (N, 3) float32 mm, model frame, the non-rigid refinement (zeros without it)
    registered : (N, 3) float32 mm, model frame, model_fit + offsets
    neutral : (N, 3) float32 mm, model frame, decode(z_id, 0) + the (region-weighted) offsets
    residual : (N,) float32 mm, registered vertex -> scan surface distance, NaN where the scan
        has no data near the vertex
    rigid : the rigid initialization (scan -> model frame)
    seconds : wall time of the fit; notes : what the fit noticed, in words a user can read
    """

    template: Template
    z_id: Float32Array
    z_exp: Float32Array
    pose: SimilarityTransform
    model_fit: Float32Array
    offsets: Float32Array
    registered: Float32Array
    neutral: Float32Array
    residual: Float32Array
    rigid: RigidFit
    seconds: float
    notes: tuple[str, ...] = ()

    def in_scan_frame(self, vertices: FloatArray) -> Float32Array:
        """(N, 3) model-frame mm -> the scan's frame and units."""
        return self.pose.apply(np.asarray(vertices, np.float32))

    def errors(self) -> dict[str, float]:
        """`residual_errors` over all template vertices."""
        return residual_errors(self.residual)

    def region_errors(self) -> dict[str, dict[str, float]]:
        """Template region -> `residual_errors` over its vertices."""
        return {name: residual_errors(self.residual[ids]) for name, ids in self.template.regions.items()}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (NaN written as null): codes, pose, rigid fit, errors, notes."""
        return _finite({
            "format_version": FORMAT_VERSION,
            "template": {"name": self.template.name, "n_vertices": self.template.n_vertices,
                         "topology_hash": self.template.topology_hash()},
            "z_id": self.z_id.tolist(), "z_exp": self.z_exp.tolist(),
            "pose": _transform_json(self.pose),
            "rigid": {"transform": _transform_json(self.rigid.transform),
                      "rmse": float(self.rigid.rmse), "overlap": float(self.rigid.overlap),
                      "unit_scale": float(self.rigid.unit_scale)},
            "residual": self.errors(),
            "region_errors": self.region_errors(),
            "seconds": float(self.seconds), "notes": list(self.notes),
        })

    def save(self, folder: str | Path) -> None:
        """Write the fit folder atomically; an existing fit folder (or empty folder) is replaced,
        any other existing path is refused with FileExistsError."""
        folder = Path(folder)
        if folder.exists() and not (folder.is_dir() and (
                (folder / FILES[0]).is_file() or not any(folder.iterdir()))):
            raise FileExistsError(f"'{folder}' exists and is not a fit folder; choose a new or "
                                  "empty folder so nothing else gets overwritten.")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.tmp"
        tmp.mkdir()
        try:
            self._fill(tmp)
            replace_folder(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _fill(self, tmp: Path) -> None:
        t = self.template
        for name, vertices in (("registered.obj", self.registered), ("neutral.obj", self.neutral)):
            write_obj(tmp / name, self.in_scan_frame(vertices), t.faces, t.uvs, t.face_uvs)
        (tmp / "fit.json").write_text(json.dumps(self.to_json(), indent=2) + "\n", "utf-8")
        np.save(tmp / "residual.npy", self.residual.astype(np.float32), allow_pickle=False)
        save_npz_atomic(tmp / "model_frame.npz", model_fit=self.model_fit, offsets=self.offsets,
                        neutral=self.neutral)

    @classmethod
    def load(cls, folder: str | Path, template: Template) -> "FitResult":
        """Read a folder written by `save`; `template` must be the one the fit used.

        Raises FitResultError for a missing, incomplete, damaged or mismatched folder."""
        folder = Path(folder)
        doc = _read_json(folder / "fit.json")
        try:
            if doc["template"]["topology_hash"] != template.topology_hash():
                raise FitResultError(folder, "it was fitted with another template topology "
                                     f"({doc['template']['name']}); load it with that model")
            arrays = load_npz(folder / "model_frame.npz")
            residual = np.load(folder / "residual.npy", allow_pickle=False)
            rigid = doc["rigid"]
            result = cls(
                template=template, z_id=np.asarray(doc["z_id"], np.float32),
                z_exp=np.asarray(doc["z_exp"], np.float32), pose=_transform(doc["pose"]),
                model_fit=arrays["model_fit"], offsets=arrays["offsets"],
                registered=(arrays["model_fit"] + arrays["offsets"]).astype(np.float32),
                neutral=arrays["neutral"], residual=residual.astype(np.float32),
                rigid=RigidFit(_transform(rigid["transform"]), float(rigid["rmse"]),
                               float(rigid["overlap"]), float(rigid["unit_scale"])),
                seconds=float(doc["seconds"]), notes=tuple(doc["notes"]),
            )
        except FitResultError:
            raise
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise FitResultError(folder, f"it is incomplete or damaged ({e}); fit the scan again",
                                 e) from e
        n = template.n_vertices
        if result.model_fit.shape != (n, 3) or result.residual.shape != (n,):
            raise FitResultError(folder, f"its arrays do not have the template's {n} vertices; "
                                 "fit the scan again")
        return result


def residual_errors(residual: FloatArray) -> dict[str, float]:
    """mean, median and p95 (mm) of the finite values of an (M,) residual (NaN without any), and
    coverage, the fraction of the M vertices that have them (vertices with scan data)."""
    r = np.asarray(residual, np.float64)
    covered = r[np.isfinite(r)]
    stats = (float(covered.mean()), float(np.median(covered)), float(np.quantile(covered, 0.95))) \
        if covered.size else (math.nan,) * 3
    return dict(zip(("mean", "median", "p95"), stats), coverage=float(covered.size / max(r.size, 1)))


def compose(outer: SimilarityTransform, inner: SimilarityTransform) -> SimilarityTransform:
    """The similarity x -> outer(inner(x))."""
    s_out, s_in = float(np.asarray(outer.scale)), float(np.asarray(inner.scale))
    rotation = np.asarray(outer.rotation) @ np.asarray(inner.rotation)
    translation = s_out * np.asarray(outer.rotation) @ np.asarray(inner.translation) \
        + np.asarray(outer.translation)
    return SimilarityTransform(rotation, translation, s_out * s_in)


def _transform_json(t: SimilarityTransform) -> dict[str, Any]:
    return {"rotation": np.asarray(t.rotation, np.float64).tolist(),
            "translation": np.asarray(t.translation, np.float64).tolist(),
            "scale": float(np.asarray(t.scale)), "rmse": float(np.asarray(t.rmse))}


def _transform(d: dict[str, Any]) -> SimilarityTransform:
    rotation = np.asarray(d["rotation"], np.float64)
    translation = np.asarray(d["translation"], np.float64)
    if rotation.shape != (3, 3) or translation.shape != (3,):
        raise ValueError(f"a transform needs a (3, 3) rotation and (3,) translation, got "
                         f"{rotation.shape} and {translation.shape}")
    return SimilarityTransform(rotation, translation, float(d["scale"]), float(d["rmse"] or 0.0))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as e:
        raise FitResultError(path.parent, f"{path.name} is missing; choose a folder written by "
                             "a fit", e) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FitResultError(path.parent, f"{path.name} is unreadable ({e}); fit the scan again",
                             e) from e
    if not isinstance(doc, dict) or not isinstance(doc.get("format_version"), int):
        raise FitResultError(path.parent, f"{path.name} was not written by FaceForge")
    if doc["format_version"] > FORMAT_VERSION:
        raise FitResultError(path.parent, f"it was written by a newer FaceForge (format "
                             f"{doc['format_version']}); update FaceForge to open it")
    return doc


def _finite(x: Any) -> Any:
    """A copy of nested JSON data with NaN and inf floats replaced by None."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
