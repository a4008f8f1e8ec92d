"""Raw scan fitting in the editor: the jobs the scan panel runs in worker threads.

    load_for_display(path) -> LoadedScan         # core.fit.scan.load_scan + a lighter display copy
    fit_job(model, scan, options, landmarks, cancel)
        # generator: core.fit.fitting.fit_scan's FitProgress (the first with the RigidFit) -> FitResult

The fit itself always uses the full scan; only the display copy is reduced (above
`DISPLAY_LIMIT` vertices, to about `DISPLAY_TARGET`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceforge.core.mesh.io import FORMATS

from .workers import reported

SCAN_FILTER = "Scans (" + " ".join(f"*{s}" for s in FORMATS) + ")"
DISPLAY_LIMIT = 500_000  # scans with more vertices are shown reduced
DISPLAY_TARGET = 250_000  # about this many vertices are shown then
MAX_DIVISIONS = 320  # clustering bins along the longest side (memory grows as the cube)


@dataclass(frozen=True, eq=False)
class LoadedScan:
    """A prepared scan and what the viewport shows of it.

    scan : core.fit.scan.Scan (full resolution, file units and frame)
    vertices, normals : (M, 3) float32 display points and unit normals, scan units
    faces : (K, 3) int64 display triangles, or None for a point cloud
    """

    scan: object
    vertices: np.ndarray
    faces: np.ndarray | None
    normals: np.ndarray

    @property
    def name(self) -> str:
        return self.scan.path.name if self.scan.path is not None else "scan"

    def summary(self) -> str:
        """One line: file name, size, and how much of it is shown."""
        s = self.scan
        kind = f"{len(s.faces):,} triangles" if s.faces is not None else "point cloud"
        shown = f" (shown reduced to {len(self.vertices):,})" if len(self.vertices) < len(s.vertices) else ""
        return f"{self.name}: {len(s.vertices):,} vertices, {kind}{shown}"


def load_for_display(path: str | Path) -> LoadedScan:
    """Read and prepare a scan (runs in a worker). Raises MeshReadError or ScanError."""
    from faceforge.core.fit.scan import load_scan

    scan = load_scan(path)
    return LoadedScan(scan, *display_mesh(scan.vertices, scan.faces, scan.normals))


def display_mesh(vertices: np.ndarray, faces: np.ndarray | None, normals: np.ndarray,
                 limit: int = DISPLAY_LIMIT, target: int = DISPLAY_TARGET, seed: int = 0):
    """(vertices, faces or None, normals) to show: as given up to `limit` vertices, else about
    `target` of them (quadric clustering of a mesh, a random subset of a point cloud)."""
    if len(vertices) <= limit:
        return vertices, None if faces is None else np.asarray(faces, np.int64), normals
    if faces is None:
        keep = np.sort(np.random.default_rng(seed).choice(len(vertices), target, replace=False))
        return vertices[keep], None, normals[keep]
    from faceforge.core.mesh.geometry import vertex_normals

    from .scanview import scan_polydata

    polydata = scan_polydata(vertices, faces, normals)
    v, f = _cluster(polydata, 128)  # the count grows as divisions^2 (a surface): one correction
    v, f = _cluster(polydata, int(np.clip(128 * np.sqrt(target / max(len(v), 1)), 8, MAX_DIVISIONS)))
    return v, f, vertex_normals(v, f)


def _cluster(polydata, divisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric clustering on cubic bins, `divisions` along the longest side: (V, 3), (T, 3)."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkFiltersCore import vtkQuadricClustering

    extent = np.ptp(np.asarray(polydata.GetBounds()).reshape(3, 2), axis=1)
    cluster = vtkQuadricClustering()
    cluster.SetInputData(polydata)
    cluster.AutoAdjustNumberOfDivisionsOff()
    cluster.SetNumberOfDivisions(*np.maximum(np.ceil(divisions * extent / extent.max()), 1).astype(int).tolist())
    cluster.Update()
    out = cluster.GetOutput()
    v = vtk_to_numpy(out.GetPoints().GetData()).astype(np.float32)
    cells = vtk_to_numpy(out.GetPolys().GetConnectivityArray()).astype(np.int64)
    return v, cells.reshape(-1, 3)


def fit_job(model, scan, options=None, landmarks: dict[str, np.ndarray] | None = None,
            cancel: threading.Event | None = None):
    """core.fit.fitting.fit_scan for a superqt worker (alignment, landmarks and all in core).

    Yields FitProgress (the first carries the RigidFit); returns the FitResult. Raises ScanError,
    FitCancelled, or JobError for a RuntimeError, which superqt's GeneratorWorker would drop.
    """
    from faceforge.core.fit.fitting import FitOptions, fit_scan

    return (yield from reported(fit_scan(model, scan, options or FitOptions(), landmarks=landmarks or None,
                                         cancel=cancel)))


def summary(result) -> str:
    """The alignment, the time and the fit's notes, one item a line."""
    return "\n".join([f"{1 / float(result.pose.scale):.4g} mm per scan unit (guessed "
                      f"{result.rigid.unit_scale:g}) · {result.seconds:.1f} s", *result.notes])


def residual_line(result) -> str:
    """One line: mean, median and 95th percentile of the residual."""
    s = result.errors()
    return f"residual mean {s['mean']:.2f} mm, median {s['median']:.2f} mm, 95 % {s['p95']:.2f} mm"

