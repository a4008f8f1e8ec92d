"""A raw scan in the viewport: the scan, the fitted mesh with its residual, the neutral face and
the scan's identity with the editor's expression.

    ScanLayer(viewport)                # its actors live in the viewport's renderer
      scan      vtkQuadricLODActor     # the display mesh (or points), semi-transparent, blue, a
                                       #   coarser copy while the camera moves; its user matrix
                                       #   maps scan -> model frame once aligned
      fit       scene.MeshActor        # registered mesh (template topology), residual heat map
      neutral   scene.MeshActor        # the neutralized face, beside the fit (+X)
      expression scene.MeshActor       # the fit's identity with the editor's expression (-X)
      colorbar  vtkScalarBarActor

Before a fit the scan is shown in its file's frame; afterwards everything is in the model frame
(mm, Y up, face toward +Z). While any of them is shown the editor's face is hidden.
"""
from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import vtkPolyDataMapper
from vtkmodules.vtkRenderingLOD import vtkQuadricLODActor

from .scene import MeshActor, make_colorbar

SCAN_RGB = (0.42, 0.68, 0.96)
SCAN_OPACITY = 0.45
SCAN_DEPTH_OFFSET = (2.0, 64.0)  # polygon offset (factor, units) pushing the scan behind the fit
NAN_RGBA = (0.62, 0.62, 0.64, 1.0)  # residual colour where the scan has no data
NEUTRAL_SPACING = 1.3  # the neutral (expression) face sits this many face widths right (left)
PARTS = ("scan", "fit", "neutral", "expression")


def similarity_matrix(transform) -> vtkMatrix4x4:
    """The 4x4 column-vector matrix of a `SimilarityTransform` (p' = s p R^T + t), or identity."""
    m = np.eye(4)
    if transform is not None:
        m[:3, :3] = float(transform.scale) * np.asarray(transform.rotation, np.float64)
        m[:3, 3] = np.asarray(transform.translation, np.float64)
    matrix = vtkMatrix4x4()
    matrix.DeepCopy(m.ravel())
    return matrix


def scan_polydata(vertices: np.ndarray, faces: np.ndarray | None, normals: np.ndarray) -> vtkPolyData:
    """(M, 3) points with (K, 3) triangles, or vertex cells when `faces` is None, and normals."""
    points = vtkPoints()
    points.SetData(numpy_to_vtk(np.ascontiguousarray(vertices, np.float32), deep=True))
    cells = vtkCellArray()
    if faces is None:
        ids = np.arange(len(vertices), dtype=np.int64)
        cells.SetData(1, numpy_to_vtkIdTypeArray(ids, deep=True))
    else:
        cells.SetData(3, numpy_to_vtkIdTypeArray(np.asarray(faces, np.int64).reshape(-1), deep=True))
    polydata = vtkPolyData()
    polydata.SetPoints(points)
    (polydata.SetVerts if faces is None else polydata.SetPolys)(cells)
    array = numpy_to_vtk(np.ascontiguousarray(normals, np.float32), deep=True)
    array.SetName("Normals")
    polydata.GetPointData().SetNormals(array)
    return polydata


class ScanLayer:
    """See the module docstring. `visible` holds the wanted visibility of each part."""

    def __init__(self, viewport):
        self.viewport = viewport
        self.renderer = viewport.renderer
        self.scan: vtkQuadricLODActor | None = None
        self.fit: MeshActor | None = None
        self.neutral: MeshActor | None = None
        self.expression: MeshActor | None = None
        self.visible = {part: False for part in PARTS}
        self.colorbar = make_colorbar("residual (mm)")
        self.renderer.AddViewProp(self.colorbar)

    @property
    def active(self) -> bool:
        """Something of the scan is on screen (and the editor's face hidden)."""
        return any(self._shown(part) for part in PARTS)

    def set_scan(self, vertices: np.ndarray, faces: np.ndarray | None, normals: np.ndarray) -> None:
        """Show a new scan's display mesh in its file's frame; any fit shown before is dropped."""
        self.clear()
        self.scan = vtkQuadricLODActor()  # a coarse copy while the camera moves
        self.scan.StaticOn()
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(scan_polydata(vertices, faces, normals))
        mapper.ScalarVisibilityOff()
        mapper.SetResolveCoincidentTopologyToPolygonOffset()  # the fit wins where both coincide
        mapper.SetRelativeCoincidentTopologyPolygonOffsetParameters(*SCAN_DEPTH_OFFSET)
        self.scan.SetMapper(mapper)
        prop = self.scan.GetProperty()
        prop.SetColor(*SCAN_RGB)
        prop.SetOpacity(SCAN_OPACITY)
        prop.SetSpecular(0.15)
        prop.SetPointSize(2.0)
        self.renderer.AddActor(self.scan)
        self.visible.update(scan=True, fit=False, neutral=False, expression=False)
        self.refresh()

    def set_transform(self, transform) -> None:
        """Place the scan with a scan -> model `SimilarityTransform` (None: the file's frame)."""
        if self.scan is not None:
            self.scan.SetUserMatrix(similarity_matrix(transform))
            self.refresh()

    def matrix(self) -> vtkMatrix4x4:
        """The scan actor's scan -> world matrix (identity before alignment)."""
        matrix = self.scan.GetUserMatrix() if self.scan is not None else None
        return matrix if matrix is not None else vtkMatrix4x4()

    def set_fit(self, triangles: np.ndarray, registered: np.ndarray, residual: np.ndarray,
                neutral: np.ndarray, vmax: float) -> None:
        """Show the registered (N, 3) mm mesh coloured by its (N,) residual in mm (NaN: no data,
        grey) on a 0..`vmax` scale, and keep the neutral face ready beside it; an expression shown
        for an earlier fit goes."""
        self._drop(("expression",))
        self.visible["expression"] = False
        if self.fit is None or self.fit.n_vertices != len(registered):
            self._drop_meshes()
            self.fit, self.neutral = MeshActor(registered, triangles), MeshActor(neutral, triangles)
            for mesh in (self.fit, self.neutral):
                self.renderer.AddActor(mesh.actor)
        self.fit.update(registered)
        self.neutral.update(neutral)
        self.neutral.actor.SetPosition(float(np.ptp(registered[:, 0])) * NEUTRAL_SPACING, 0.0, 0.0)
        self.fit.set_scalars(residual, (0.0, vmax), "magma")
        lut = self.fit.actor.GetMapper().GetLookupTable()
        lut.SetNanColor(*NAN_RGBA)
        self.colorbar.SetLookupTable(lut)
        self.visible["fit"] = True
        self.refresh()

    def set_expression(self, triangles: np.ndarray, vertices: np.ndarray) -> None:
        """Show (N, 3) mm `vertices` (the fit's identity with another expression) left of the fit."""
        if self.fit is None:
            return
        if self.expression is None or self.expression.n_vertices != len(vertices):
            self._drop(("expression",))
            self.expression = MeshActor(vertices, triangles)
            self.renderer.AddActor(self.expression.actor)
        self.expression.update(vertices)
        xmin, xmax = self.fit.bounds()[:2]
        width = xmax - xmin
        self.expression.actor.SetPosition(-width * NEUTRAL_SPACING, 0.0, 0.0)
        self.show(expression=True)

    def clear_fit(self) -> None:
        """Forget the fit (the scan stays, back in its file's frame)."""
        self._drop_meshes()
        self.set_transform(None)
        self.refresh()

    def show(self, **parts: bool) -> None:
        """Show or hide parts by name, e.g. show(scan=False, neutral=True); then re-frame."""
        self.visible.update(parts)
        self.refresh()
        self.viewport.reset_view()

    def clear(self) -> None:
        """Remove everything; the editor's face comes back."""
        if self.scan is not None:
            self.renderer.RemoveActor(self.scan)
            self.scan = None
        self._drop_meshes()
        self.refresh()

    def _drop_meshes(self) -> None:
        self._drop(("fit", "neutral", "expression"))

    def _drop(self, parts: tuple[str, ...]) -> None:
        for part in parts:
            mesh = getattr(self, part)
            if mesh is not None:
                self.renderer.RemoveActor(mesh.actor)
            setattr(self, part, None)

    def _shown(self, part: str) -> bool:
        return self.visible[part] and getattr(self, part) is not None

    def refresh(self) -> None:
        """Apply `visible` to the actors and the editor's face, and render."""
        for part in PARTS:
            actor = getattr(self, part)
            if actor is not None:
                (actor if part == "scan" else actor.actor).SetVisibility(self._shown(part))
        self.colorbar.SetVisibility(self._shown("fit"))
        self.viewport.set_face_visible(not self.active and not self.viewport.comparing)
        self.viewport.render()

