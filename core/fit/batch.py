"""Fit scan files one at a time or a folder of them: what `faceforge fit` and `faceforge neutralize`
run. A failed scan becomes a row of the summary, never the end of the batch."""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FaceForgeError, ScanError
from ..mesh.io import FORMATS, write_obj
from ..models.base import FaceModel
from ..typed import Float32Array, FloatArray
from .fitting import FitOptions, FitProgress, fit_scan
from .result import FitResult
from .scan import load_scan

FRAMES = ("scan", "model")


@dataclass(frozen=True)
class BatchRow:
    """One scan of a batch: its output and how the fit went (error is empty on success).

    residual_mean : mm, mean registered-vertex distance to the scan where it has data
    coverage : fraction of template vertices with scan data near them
    """

    path: Path
    output: Path
    seconds: float
    error: str = ""
    residual_mean: float = math.nan
    coverage: float = math.nan

    @property
    def ok(self) -> bool:
        return not self.error


def scan_files(folder: str | Path) -> list[Path]:
    """The mesh files directly in `folder` (any of core.mesh.io.FORMATS), sorted by name."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FORMATS
                   and not p.name.startswith("."))
    if not files:
        raise ScanError(f"it holds no scan files ({', '.join(FORMATS)}); choose a folder with scans",
                        folder)
    return files


def output_names(paths: list[Path]) -> list[str]:
    """A distinct output name per scan: its stem, or its whole name when stems collide."""
    stems = [p.stem for p in paths]
    return [p.stem if stems.count(p.stem) == 1 else p.name.replace(".", "_") for p in paths]


def read_landmarks(path: str | Path) -> dict[str, Float32Array]:
    """A JSON object of landmark name -> [x, y, z] in scan coordinates."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ScanError(f"cannot read the landmarks ({e}); write a JSON object such as "
                        '{"nose_tip": [x, y, z], ...}', path) from e
    if not isinstance(doc, dict):
        raise ScanError('the landmarks must be a JSON object such as {"nose_tip": [x, y, z], ...}', path)
    out = {}
    for name, point in doc.items():
        p = np.asarray(point, dtype=object)
        if p.shape != (3,) or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in p):
            raise ScanError(f"landmark '{name}' must be three finite numbers [x, y, z], got {point!r}", path)
        out[name] = p.astype(np.float32)
    return out


def fit_file(model: FaceModel, path: str | Path, options: FitOptions = FitOptions(), *,
             landmarks: dict[str, Float32Array] | None = None, cancel: threading.Event | None = None
             ) -> Generator[FitProgress, None, FitResult]:
    """Load the scan at `path` and fit it (progress generator, like fit_scan)."""
    scan = load_scan(path)
    return (yield from fit_scan(model, scan, options, landmarks=landmarks, cancel=cancel))


def write_neutral(result: FitResult, path: str | Path, frame: str = "scan") -> None:
    """Write the neutralized face as an OBJ with the template's UVs, in the scan's frame and units
    (frame="scan") or the model frame in mm (frame="model")."""
    write_face(result, result.neutral, path, frame)


def write_face(result: FitResult, vertices: FloatArray, path: str | Path, frame: str = "scan") -> None:
    """Write (N, 3) model-frame mm `vertices` in the fit's template topology (its neutral, or its
    identity with another expression) as an OBJ with the template's UVs, in the scan's frame and
    units (frame="scan") or the model frame (frame="model")."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    t = result.template
    write_obj(path, result.in_scan_frame(vertices) if frame == "scan" else vertices, t.faces, t.uvs,
              t.face_uvs)


def run_batch(paths: list[Path], outputs: list[Path], fit: Callable[[Path], FitResult],
              save: Callable[[FitResult, Path], None]) -> Iterator[BatchRow]:
    """Fit and save every scan, yielding its row as soon as it is done.

    A FaceForgeError (unreadable file, not a face, ...) or any other exception fails that scan
    only; its message goes into the row.
    """
    for path, output in zip(paths, outputs):
        start = time.perf_counter()
        try:
            result = fit(path)
            save(result, output)
        except FaceForgeError as e:
            yield BatchRow(path, output, time.perf_counter() - start, str(e))
            continue
        except Exception as e:  # a bug on one scan must not lose the others; the row names it
            yield BatchRow(path, output, time.perf_counter() - start, f"{type(e).__name__}: {e}")
            continue
        errors = result.errors()
        yield BatchRow(path, output, time.perf_counter() - start, residual_mean=errors["mean"],
                       coverage=errors["coverage"])


def summary_table(rows: list[BatchRow]) -> str:
    """Plain-text table of a batch: scan, status, residual, coverage, seconds, output or error."""
    lines = [f"{'scan':<28} {'status':<7} {'residual mm':>11} {'coverage':>8} {'seconds':>8}  output / error"]
    for r in rows:
        residual = f"{r.residual_mean:.3f}" if r.ok else "-"
        coverage = f"{100 * r.coverage:.0f}%" if r.ok else "-"
        lines.append(f"{r.path.name:<28} {'ok' if r.ok else 'FAILED':<7} {residual:>11} {coverage:>8} "
                     f"{r.seconds:>8.1f}  {r.output if r.ok else r.error}")
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed} of {len(rows)} scans fitted" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)


def region_table(result: FitResult) -> str:
    """Plain-text table of the residual per template region (mm) and its coverage."""
    lines = [f"{'region':<10} {'mean':>7} {'median':>7} {'p95':>7} {'coverage':>8}   (mm)"]
    for name, e in sorted(result.region_errors().items()):
        cells = " ".join(f"{e[k]:>7.3f}" if math.isfinite(e[k]) else f"{'-':>7}" for k in ("mean", "median", "p95"))
        lines.append(f"{name:<10} {cells} {100 * e['coverage']:>7.0f}%")
    return "\n".join(lines)
