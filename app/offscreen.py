"""Off-screen rendering of meshes to PNG: single thumbnails and labelled grids.

Headless Linux: with no DISPLAY, VTK's generic `vtkRenderWindow` factory tries X first,
logs "bad X server connection" on stderr, then falls back to EGL. `new_window` asks for a
`vtkEGLRenderWindow` directly in that case (unless the user chose a class through
VTK_DEFAULT_OPENGL_WINDOW), so headless renders are silent.

A grid is one render window: a label renderer covering the whole window (flat background,
`vtkTextActor` labels in the top and left margins) under one renderer per tile. Every tile
camera aims at its own mesh's bounds from the same distance, so sizes compare across tiles.
"""
from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import vtkmodules.vtkRenderingFreeType  # noqa: F401  (registers the text renderer)
import vtkmodules.vtkRenderingOpenGL2 as vtk_gl
from PIL import Image
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import (
    vtkRenderer,
    vtkRenderWindow,
    vtkTextActor,
    vtkTextProperty,
    vtkTextRenderer,
    vtkWindowToImageFilter,
)

from faceforge.core.cache import atomic_write_bytes

from .scene import MeshActor, camera_distance, make_renderer, set_camera_preset

MARGIN_RGB = (0.11, 0.11, 0.12)
LABEL_RGB = (0.88, 0.88, 0.88)
MULTISAMPLES = 8
TILE_GAP = 2  # pixels of margin colour between tiles


def new_window(width: int, height: int) -> vtkRenderWindow:
    """An off-screen render window of `width` x `height` pixels that works without a display."""
    headless = sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
    if headless and not os.environ.get("VTK_DEFAULT_OPENGL_WINDOW"):
        window = vtk_gl.vtkEGLRenderWindow()
    else:
        window = vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetMultiSamples(MULTISAMPLES)
    window.SetSize(width, height)
    return window


def capture(window: vtkRenderWindow) -> np.ndarray:
    """Render `window` and return its pixels, (H, W, 3) uint8, first row at the top."""
    window.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()
    grab.Update()
    image = grab.GetOutput()
    width, height, _ = image.GetDimensions()
    rgb = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, 3)
    return rgb[::-1].copy()


def save_png(rgb: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W, 3) uint8 image to `path` as PNG through a temp file; return the path."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def render_mesh(vertices: np.ndarray, triangles: np.ndarray, path: str | Path,
                size: tuple[int, int] = (512, 512), preset: str = "three_quarter",
                scalars: np.ndarray | None = None, *,
                value_range: tuple[float, float] | None = None, cmap: str = "viridis") -> Path:
    """Render one mesh to a PNG.

    Parameters
    ----------
    vertices : (N, 3) float, mm
    triangles : (T, 3) int
    path : PNG file to write (atomically)
    size : (width, height) in pixels
    preset : camera preset, see `scene.CAMERA_PRESETS`
    scalars : optional (N,) per-vertex values drawn as a heat map with `cmap` over `value_range`

    Returns
    -------
    Path of the written PNG
    """
    mesh = MeshActor(vertices, triangles)
    if scalars is not None:
        mesh.set_scalars(scalars, value_range, cmap)
    distance = camera_distance(preset, vertices, size[0] / size[1])
    window = new_window(*size)
    renderer = make_renderer(mesh)
    window.AddRenderer(renderer)
    set_camera_preset(renderer, preset, mesh.bounds(), distance)
    return _finish(window, path)


def render_grid(meshes: Sequence[np.ndarray], triangles: np.ndarray, path: str | Path,
                rows: int, cols: int, row_labels: Sequence[str] | None = None,
                col_labels: Sequence[str] | None = None, tile: tuple[int, int] = (256, 256),
                preset: str = "three_quarter") -> Path:
    """Render meshes sharing `triangles` into one PNG grid, filled row by row.

    Parameters
    ----------
    meshes : at most rows * cols arrays, each (N, 3) float, mm
    triangles : (T, 3) int, shared by every mesh
    path : PNG file to write (atomically)
    rows, cols : grid shape
    row_labels, col_labels : optional texts, `rows` and `cols` of them, drawn in margins
    tile : (width, height) of one tile in pixels
    preset : camera preset, see `scene.CAMERA_PRESETS`

    Returns
    -------
    Path of the written PNG
    """
    _check_grid(len(meshes), rows, cols, row_labels, col_labels)
    actors = [MeshActor(v, triangles) for v in meshes]
    tw, th = tile
    distance = max(camera_distance(preset, v, tw / th) for v in meshes)
    style = _label_style(th)
    left, top = _left_margin(row_labels, style), _top_margin(col_labels, style)
    width, height = left + cols * tw, top + rows * th
    window = new_window(width, height)
    window.AddRenderer(_label_renderer(style, row_labels, col_labels, left, top, tile, height))
    for i, mesh in enumerate(actors):
        r, c = divmod(i, cols)
        x0, y1 = left + c * tw + TILE_GAP / 2, height - top - r * th - TILE_GAP / 2
        x1, y0 = x0 + tw - TILE_GAP, y1 - th + TILE_GAP
        renderer = make_renderer(mesh, viewport=(x0 / width, y0 / height, x1 / width, y1 / height))
        window.AddRenderer(renderer)
        set_camera_preset(renderer, preset, mesh.bounds(), distance)
    return _finish(window, path)


def _finish(window: vtkRenderWindow, path: str | Path) -> Path:
    """Capture `window` to `path`, then release its GL context."""
    try:
        return save_png(capture(window), path)
    finally:
        window.Finalize()


def _check_grid(n: int, rows: int, cols: int, row_labels: Sequence[str] | None,
                col_labels: Sequence[str] | None) -> None:
    """Raise ValueError if the meshes or labels do not fit a rows x cols grid."""
    if rows < 1 or cols < 1 or not 0 < n <= rows * cols:
        raise ValueError(f"a {rows} x {cols} grid holds 1..{rows * cols} meshes; received {n}.")
    for name, labels, want in (("row_labels", row_labels, rows), ("col_labels", col_labels, cols)):
        if labels is not None and len(labels) != want:
            raise ValueError(
                f"{name} needs {want} entries, one per grid line; received {len(labels)}.")


def _label_style(tile_height: int) -> vtkTextProperty:
    """Text style for grid labels, sized to the tile."""
    style = vtkTextProperty()
    style.SetFontFamilyToArial()
    style.SetFontSize(max(11, tile_height // 16))
    style.SetColor(*LABEL_RGB)
    style.SetVerticalJustificationToCentered()
    return style


def _left_margin(labels: Sequence[str] | None, style: vtkTextProperty) -> int:
    """Pixels the row labels need: the widest text plus padding (0 without labels)."""
    if not labels:
        return 0
    measure = vtkTextRenderer.GetInstance()
    bbox = [0, 0, 0, 0]
    widths = []
    for text in labels:
        measure.GetBoundingBox(style, str(text), bbox, 72)
        widths.append(bbox[1] - bbox[0])
    return max(widths) + 2 * style.GetFontSize()


def _top_margin(labels: Sequence[str] | None, style: vtkTextProperty) -> int:
    """Pixels the column labels need: one line plus padding (0 without labels)."""
    return 2 * style.GetFontSize() if labels else 0


def _label_renderer(style: vtkTextProperty, row_labels: Sequence[str] | None,
                    col_labels: Sequence[str] | None, left: int, top: int,
                    tile: tuple[int, int], height: int) -> vtkRenderer:
    """Whole-window renderer with a flat margin colour and the label texts (pixels, y up)."""
    renderer = vtkRenderer()
    renderer.SetBackground(*MARGIN_RGB)
    tw, th = tile
    pad = style.GetFontSize()
    for c, text in enumerate(col_labels or ()):
        renderer.AddViewProp(_text(text, style, left + (c + 0.5) * tw, height - top / 2, "center"))
    for r, text in enumerate(row_labels or ()):
        renderer.AddViewProp(_text(text, style, left - pad, height - top - (r + 0.5) * th, "right"))
    return renderer


def _text(text: str, style: vtkTextProperty, x: float, y: float, justify: str) -> vtkTextActor:
    """A text actor at pixel (x, y), centred vertically, justified "center" or "right"."""
    actor = vtkTextActor()
    actor.SetInput(str(text))
    prop = actor.GetTextProperty()
    prop.ShallowCopy(style)
    if justify == "center":
        prop.SetJustificationToCentered()
    else:
        prop.SetJustificationToRight()
    actor.SetPosition(x, y)
    return actor
