"""Reusable VTK scene pieces: mesh actor, lights, camera presets and background.

Shared by the off-screen renderer (`app.offscreen`) and the live Qt viewport.

CONVENTIONS: millimetres, Y up, the face looks down +Z, right-handed. The "front" camera
sits on +Z looking toward -Z with +Y up; "side" sits on +X (the subject's left).

One `MeshActor` is built once and then only has its points rewritten::

    vtkPolyData (points written in place by update())
      -> vtkTriangleMeshPointNormals (smooth, area-weighted, never split)
        -> vtkPolyDataMapper (optional per-vertex scalars through a vtkLookupTable)
          -> vtkActor (skin material)
"""
from __future__ import annotations

import math

import numpy as np
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL backend)
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray, vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkLookupTable, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkFiltersCore import vtkTriangleMeshPointNormals
from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor
from vtkmodules.vtkRenderingCore import vtkActor, vtkLightKit, vtkPolyDataMapper, vtkRenderer

from faceforge.core.errors import NonFiniteError, TopologyMismatchError

SKIN_RGB = (0.90, 0.72, 0.62)
BACKGROUND_TOP = (0.46, 0.47, 0.49)
BACKGROUND_BOTTOM = (0.17, 0.17, 0.18)
# The live viewport's flat background: the gradient is a full-window shaded quad per frame,
# about a fifth of a frame's cost under software GL.
BACKGROUND_FLAT = (0.30, 0.31, 0.33)
# Skin: mostly diffuse with a broad, weak highlight. Heat maps: flatter and matte so the
# colours read as values rather than as shading.
SKIN_MATERIAL = {"ambient": 0.04, "diffuse": 0.90, "specular": 0.12, "specular_power": 14.0}
HEATMAP_MATERIAL = {"ambient": 0.25, "diffuse": 0.75, "specular": 0.03, "specular_power": 14.0}
COLORBAR_TITLE_PX, COLORBAR_LABEL_PX = 14, 13  # colour-bar font sizes, points (about pixels)
VIEW_ANGLE = 25.0  # degrees, vertical; a longish lens flatters faces
FIT_PADDING = 1.08  # frame the bounds with 8 % air

_DEG = math.pi / 180.0
CAMERA_PRESETS = {
    "front": (0.0, 0.0, 1.0),
    "side": (1.0, 0.0, 0.0),
    "three_quarter": (
        math.sin(35 * _DEG) * math.cos(10 * _DEG),
        math.sin(10 * _DEG),
        math.cos(35 * _DEG) * math.cos(10 * _DEG),
    ),
}

# Colormap control points, evenly spaced (samples of matplotlib's viridis and magma and
# Moreland's cool-warm diverging map).
COLORMAPS = {
    "viridis": ("#440154", "#482878", "#3e4989", "#31688e", "#26828e",
                "#1f9e89", "#35b779", "#6dcd59", "#b4de2c", "#fde725"),
    "magma": ("#000004", "#1c1044", "#4f127b", "#812581", "#b5367a",
              "#e55064", "#fb8761", "#fec287", "#fcfdbf"),
    "coolwarm": ("#3b4cc0", "#6282ea", "#8db0fe", "#b8d0f9", "#dddddd",
                 "#f5c4ad", "#f49a7b", "#de604d", "#b40426"),
}


def _check_vertices(vertices: np.ndarray, n: int | None = None) -> np.ndarray:
    """Return `vertices` as (N, 3) float32, raising a typed error if unusable."""
    v = np.asarray(vertices)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must have shape (N, 3); received shape {v.shape}.")
    if n is not None and v.shape[0] != n:
        raise TopologyMismatchError(None, expected=n, received=v.shape[0])
    bad = int(np.size(v) - np.count_nonzero(np.isfinite(v)))
    if bad:
        raise NonFiniteError(None, bad)
    return v.astype(np.float32, copy=False)


def _check_triangles(triangles: np.ndarray, n_vertices: int) -> np.ndarray:
    """Return `triangles` as (T, 3) int64 vertex ids, checked against `n_vertices`."""
    t = np.asarray(triangles)
    if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0:
        raise ValueError(f"triangles must have shape (T, 3) with T > 0; received {t.shape}.")
    if t.min() < 0 or t.max() >= n_vertices:
        raise ValueError(
            f"triangles index vertices {t.min()}..{t.max()}, but the mesh has "
            f"{n_vertices} vertices (valid ids are 0..{n_vertices - 1})."
        )
    return t.astype(np.int64)


def make_colorbar(title: str = "") -> vtkScalarBarActor:
    """A hidden colour bar at the viewport's right edge (magma until a lookup table is set)."""
    bar = vtkScalarBarActor()
    bar.SetLookupTable(make_lookup_table("magma"))
    bar.SetTitle(title)
    bar.SetNumberOfLabels(4)
    bar.SetMaximumWidthInPixels(70)
    bar.SetPosition(0.88, 0.1)
    bar.SetWidth(0.1)
    bar.SetHeight(0.78)
    # Fixed text sizes (VTK would shrink a title to the bar's width) and the title clear of the top label.
    bar.UnconstrainedFontSizeOn()
    bar.SetVerticalTitleSeparation(8)
    title, labels = bar.GetTitleTextProperty(), bar.GetLabelTextProperty()
    for text, size in ((title, COLORBAR_TITLE_PX), (labels, COLORBAR_LABEL_PX)):
        text.SetFontSize(size)
        text.ItalicOff()
        text.SetColor(0.92, 0.92, 0.92)
    title.SetJustificationToRight()
    bar.SetVisibility(False)
    return bar


def make_lookup_table(cmap: str = "viridis", n: int = 256) -> vtkLookupTable:
    """Build a `vtkLookupTable` of `n` colours from a name in `COLORMAPS`."""
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown colormap {cmap!r}; choose one of {sorted(COLORMAPS)}.")
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in COLORMAPS[cmap]])
    x = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, n)
    rgba = np.full((n, 4), 255, np.uint8)
    rgba[:, :3] = np.stack([np.interp(t, x, stops[:, k]) for k in range(3)], 1).round()
    lut = vtkLookupTable()
    lut.SetNumberOfTableValues(n)
    lut.SetTable(numpy_to_vtk(rgba, deep=True))
    return lut


class MeshActor:
    """One displayed mesh: a persistent `vtkPolyData` with smooth normals and skin material.

    Parameters
    ----------
    vertices : (N, 3) float, mm
    triangles : (T, 3) int, vertex ids; kept for the life of the actor
    color : RGB in [0, 1]
    """

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray,
                 color: tuple[float, float, float] = SKIN_RGB):
        v = _check_vertices(vertices)
        self._polydata = _build_polydata(v, _check_triangles(triangles, len(v)))
        self._xyz = vtk_to_numpy(self._polydata.GetPoints().GetData())  # (N, 3) view
        self._scalars: np.ndarray | None = None
        self._cmap: str | None = None  # name of the mapper's lookup table
        normals = vtkTriangleMeshPointNormals()
        normals.SetInputData(self._polydata)
        self._mapper = vtkPolyDataMapper()
        self._mapper.SetInputConnection(normals.GetOutputPort())
        self._mapper.ScalarVisibilityOff()
        self._mapper.InterpolateScalarsBeforeMappingOn()
        self.actor = vtkActor()
        self.actor.SetMapper(self._mapper)
        self.actor.GetProperty().SetColor(*color)
        _apply_material(self.actor, SKIN_MATERIAL)

    @property
    def polydata(self) -> vtkPolyData:
        """The persistent input `vtkPolyData` (never replaced)."""
        return self._polydata

    @property
    def n_vertices(self) -> int:
        """Number of vertices N."""
        return len(self._xyz)

    def bounds(self) -> tuple[float, ...]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) of the current points, mm."""
        return self._polydata.GetPoints().GetBounds()

    def update(self, vertices: np.ndarray) -> None:
        """Write new positions, (N, 3) mm, into the existing points; normals follow."""
        self._xyz[:] = _check_vertices(vertices, self.n_vertices)
        self._polydata.GetPoints().GetData().Modified()

    def set_scalars(self, values: np.ndarray | None,
                    value_range: tuple[float, float] | None = None,
                    cmap: str = "viridis") -> None:
        """Colour by per-vertex `values` (N,), e.g. an error in mm; None restores the skin.

        `value_range` maps to the ends of `cmap` (default: min and max of `values`). Scalars are
        written in place and the lookup table is only rebuilt when `cmap` changes, so this can
        run every frame.
        """
        if values is None:
            self._mapper.ScalarVisibilityOff()
            _apply_material(self.actor, SKIN_MATERIAL)
            return
        s = np.asarray(values, dtype=np.float32).reshape(-1)
        if len(s) != self.n_vertices:
            raise TopologyMismatchError(None, expected=self.n_vertices, received=len(s))
        self._write_scalars(s)
        lo, hi = value_range if value_range is not None else (float(s.min()), float(s.max()))
        if cmap != self._cmap:
            self._mapper.SetLookupTable(make_lookup_table(cmap))
            self._cmap = cmap
        self._mapper.SetScalarRange(lo, hi if hi > lo else lo + 1e-6)
        self._mapper.ScalarVisibilityOn()
        _apply_material(self.actor, HEATMAP_MATERIAL)

    def _write_scalars(self, s: np.ndarray) -> None:
        """Write into the point-data scalars array, creating it on first use."""
        if self._scalars is None:
            array = numpy_to_vtk(s, deep=True)
            array.SetName("scalars")
            self._polydata.GetPointData().SetScalars(array)
            self._scalars = vtk_to_numpy(array)
        else:
            self._scalars[:] = s
            self._polydata.GetPointData().GetScalars().Modified()


def _build_polydata(vertices: np.ndarray, triangles: np.ndarray) -> vtkPolyData:
    """Create the polydata once; points are a float32 array we can view from numpy."""
    points = vtkPoints()
    points.SetData(numpy_to_vtk(vertices, deep=True))
    cells = vtkCellArray()
    cells.SetData(3, numpy_to_vtkIdTypeArray(triangles.reshape(-1), deep=True))
    polydata = vtkPolyData()
    polydata.SetPoints(points)
    polydata.SetPolys(cells)
    return polydata


def _apply_material(actor: vtkActor, material: dict[str, float]) -> None:
    """Set Phong lighting coefficients, e.g. `SKIN_MATERIAL`, on the actor's property."""
    prop = actor.GetProperty()
    prop.SetInterpolationToPhong()
    prop.SetAmbient(material["ambient"])
    prop.SetDiffuse(material["diffuse"])
    prop.SetSpecular(material["specular"])
    prop.SetSpecularPower(material["specular_power"])
    prop.SetSpecularColor(1.0, 0.95, 0.90)


def add_three_point_lights(renderer: vtkRenderer) -> vtkLightKit:
    """Replace the renderer's lights with a soft key / fill / back light kit (camera-relative)."""
    renderer.RemoveAllLights()
    kit = vtkLightKit()
    kit.SetKeyLightIntensity(1.0)
    kit.SetKeyLightWarmth(0.58)
    kit.SetKeyToFillRatio(5.0)
    kit.SetKeyToHeadRatio(11.0)
    kit.SetKeyToBackRatio(2.5)
    kit.AddLightsToRenderer(renderer)
    return kit


Viewport = tuple[float, float, float, float]


def make_renderer(*meshes: MeshActor, viewport: Viewport = (0.0, 0.0, 1.0, 1.0),
                  gradient: bool = True) -> vtkRenderer:
    """A renderer showing `meshes` with the studio lights and background.

    `viewport` is (xmin, ymin, xmax, ymax) as window fractions, origin bottom-left;
    `gradient` chooses the gradient background, else the flat `BACKGROUND_FLAT`.
    """
    renderer = vtkRenderer()
    renderer.SetViewport(*viewport)
    set_background(renderer, gradient)
    add_three_point_lights(renderer)
    for mesh in meshes:
        renderer.AddActor(mesh.actor)
    return renderer


def set_background(renderer: vtkRenderer, gradient: bool = True) -> None:
    """Neutral grey gradient, lighter at the top (or the flat grey between its ends)."""
    renderer.SetGradientBackground(gradient)
    renderer.SetBackground(*(BACKGROUND_BOTTOM if gradient else BACKGROUND_FLAT))
    renderer.SetBackground2(*BACKGROUND_TOP)


def _preset_direction(preset: str) -> np.ndarray:
    """Unit vector from the focal point toward the camera for a preset name."""
    if preset not in CAMERA_PRESETS:
        raise ValueError(
            f"unknown camera preset {preset!r}; choose one of {sorted(CAMERA_PRESETS)}.")
    return np.asarray(CAMERA_PRESETS[preset])


def _view_basis(preset: str) -> np.ndarray:
    """(3, 3) rows: camera right, up and backward (toward the camera) for a preset."""
    back = _preset_direction(preset)
    right = np.cross((0.0, 1.0, 0.0), back)
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(back, right), back])


def camera_distance(preset: str, points: np.ndarray, aspect: float = 1.0) -> float:
    """Distance (mm) from the centre of the points' bounds at which every point is in view.

    Parameters
    ----------
    preset : camera preset name
    points : (M, 3) mm, e.g. a mesh's vertices (tight fit) or its 8 bounding-box corners
    aspect : viewport width / height
    """
    p = np.asarray(points, dtype=float)
    p = p - (p.min(0) + p.max(0)) / 2
    x, y, z = _view_basis(preset) @ p.T  # camera-space offsets, (M,) each
    tan_v = math.tan(VIEW_ANGLE * _DEG / 2)
    need = np.maximum(np.abs(x) / (tan_v * aspect), np.abs(y) / tan_v) * FIT_PADDING + z
    return float(need.max())


def set_camera_preset(renderer: vtkRenderer, preset: str, bounds: tuple[float, ...],
                      distance: float | None = None) -> float:
    """Aim the renderer's camera at the centre of `bounds` from a preset direction.

    Parameters
    ----------
    renderer : the renderer whose active camera is moved
    preset : "front", "side" or "three_quarter"
    bounds : (xmin, xmax, ymin, ymax, zmin, zmax), mm
    distance : camera distance in mm; default fits the corners of `bounds` (pass one
        value, see `camera_distance`, to several renderers to give them the same zoom)

    Returns
    -------
    float, the distance used (mm)
    """
    b = np.asarray(bounds, dtype=float).reshape(3, 2)
    if distance is None:
        corners = np.stack(np.meshgrid(*b, indexing="ij"), -1).reshape(-1, 3)
        distance = camera_distance(preset, corners, _aspect(renderer))
    center = b.mean(1)
    camera = renderer.GetActiveCamera()
    camera.SetViewAngle(VIEW_ANGLE)
    camera.SetFocalPoint(*center)
    camera.SetPosition(*(center + distance * _preset_direction(preset)))
    camera.SetViewUp(0.0, 1.0, 0.0)
    renderer.ResetCameraClippingRange(tuple(bounds))
    return distance


def _aspect(renderer: vtkRenderer) -> float:
    """Width / height of the renderer's viewport in pixels (1 before it has a window)."""
    window = renderer.GetRenderWindow()
    if window is None or min(window.GetSize()) <= 0:
        return 1.0
    return renderer.GetTiledAspectRatio()
