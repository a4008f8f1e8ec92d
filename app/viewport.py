"""The live 3D viewport: VTK inside Qt (pyvistaqt habits).

    Viewport(QWidget)
      QVTKRenderWindowInteractor      # owns the vtkRenderWindow; trackball camera style
        vtkRenderer (scene.make_renderer: three-point lights, flat background)
          MeshActor                   # one persistent vtkPolyData, points rewritten in place
          MeshActor x 3               # comparison (input | reconstruction | neutralized, or a stored
                                      #   state and the current face): side by side or overlaid
          vtkScalarBarActor           # colour bar, shown with a heat map
          vtkCornerAnnotation         # labels of the comparison

Init order: interactor, renderer, style, then `Initialize()`; `set_topology` builds the mesh
once per model (the comparison meshes on first use). `show_vertices` writes points and
renders at once (the slider -> frame path); colour, camera and wireframe changes
`request_render`, coalesced to one render per event-loop turn; `close()` finalizes once.
Live frames are drawn without multisampling or a gradient background and copied to the
window as colour only (under software GL this cut a frame's CPU time from about 71 to 16 ms);
`grab_image` renders once with 8x multisampling.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import vtkmodules.qt

vtkmodules.qt.PyQtImpl = "PySide6"

from PIL import Image  # noqa: E402
from qtpy.QtCore import QTimer  # noqa: E402
from qtpy.QtWidgets import QVBoxLayout, QWidget  # noqa: E402
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor  # noqa: E402
from vtkmodules.util.numpy_support import vtk_to_numpy  # noqa: E402
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera  # noqa: E402
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation  # noqa: E402
from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter  # noqa: E402

from faceforge.core.cache import atomic_write_bytes  # noqa: E402

from .scene import SKIN_RGB, MeshActor, make_colorbar, make_renderer, set_camera_preset  # noqa: E402


COMPARED = 3  # meshes a comparison shows at most
LAYOUTS = ("side", "overlay")
SPACING = 1.15  # comparison meshes sit this many face widths apart
OVERLAY_RGB, OVERLAY_OPACITY = (0.42, 0.68, 0.96), 0.45  # the first mesh of an overlay
# Live frames skip multisampling: under software GL (llvmpipe) 4x MSAA triples the cost of a
# frame. Screenshots are rendered once with it, so saved images keep smooth silhouettes.
LIVE_MULTISAMPLES, SCREENSHOT_MULTISAMPLES = 0, 8


class Viewport(QWidget):
    """Shows one face mesh; see the module docstring."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.interactor = QVTKRenderWindowInteractor(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.interactor)
        self.renderer = make_renderer(gradient=False)
        self.window = self.interactor.GetRenderWindow()
        self.window.SetMultiSamples(LIVE_MULTISAMPLES)
        # Each frame is copied to the window as colour only: the default (BlitToHardware) also
        # copies the depth buffer through a textured draw, which nothing here reads.
        self.window.SetFrameBlitModeToBlitToCurrent()
        self.window.AddRenderer(self.renderer)
        self.interactor.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.colorbar = make_colorbar()
        self.renderer.AddViewProp(self.colorbar)
        self.labels = vtkCornerAnnotation()
        self.renderer.AddViewProp(self.labels)
        self.mesh: MeshActor | None = None
        self.compared: list[MeshActor] = []  # input, reconstruction, neutralized
        self.preset = "three_quarter"
        self._face_title = ""  # the editor's face's colour-bar title
        self._layout = ""  # the comparison's layout
        self.last_render_ms = 0.0  # duration of the last render call
        self._closed = False
        self._render_pending = False  # see `request_render`
        self.interactor.Initialize()

    def set_topology(self, vertices: np.ndarray, triangles: np.ndarray) -> None:
        """Build the mesh for a (new) model and frame it; later frames only `show_vertices`."""
        for actor in ([self.mesh] if self.mesh else []) + self.compared:
            self.renderer.RemoveActor(actor.actor)
        self.mesh = MeshActor(vertices, triangles)
        self.compared = [MeshActor(vertices, triangles) for _ in range(COMPARED)]
        for actor in [self.mesh, *self.compared]:
            self.renderer.AddActor(actor.actor)
        self.set_heatmap(None)
        self.hide_comparison()

    def show_vertices(self, vertices: np.ndarray) -> None:
        """Write (N, 3) mm positions into the persistent mesh and render."""
        self.mesh.update(vertices)
        self.render()

    def set_heatmap(self, values: np.ndarray | None, title: str = "", vmax: float | None = None) -> None:
        """Colour the editor's face by per-vertex (N,) values (mm) on a 0..`vmax` scale (default:
        their maximum) with a titled colour bar; None shows skin. Updated in place, so it can run
        per frame: before `show_vertices`, the two share one render."""
        self._face_title = title
        if self.mesh is not None:
            _color(self.mesh, values, vmax)
            if not self.comparing:  # a comparison's colour bar is its own
                self._show_colorbar(self.mesh, title)
        self.request_render()

    def _show_colorbar(self, mesh: MeshActor, title: str) -> None:
        """The colour bar shows `mesh`'s scale (hidden when the mesh has no heat map)."""
        mapper = mesh.actor.GetMapper()
        self.colorbar.SetVisibility(bool(mapper.GetScalarVisibility()))
        self.colorbar.SetLookupTable(mapper.GetLookupTable())
        self.colorbar.SetTitle(title)

    @property
    def comparing(self) -> bool:
        """The comparison meshes are shown (and the editor's face hidden)."""
        return bool(self.compared) and bool(self.compared[0].actor.GetVisibility())

    def show_comparison(self, meshes: list[np.ndarray], labels: list[str], heat: np.ndarray | None = None,
                        layout: str = "side") -> None:
        """Show up to three (N, 3) mm meshes instead of the editor's face; the second one is
        coloured by `heat` (N,) mm when given. The camera is aimed from the front when the
        comparison opens or changes layout; later updates keep the user's camera.

        layout : "side" puts them side by side along X; "overlay" puts them on one another, the
            first one translucent in its own colour so the second shows through it
        """
        if layout not in LAYOUTS:
            raise ValueError(f"unknown comparison layout {layout!r}; choose one of {LAYOUTS}")
        reframe = not self.comparing or layout != self._layout
        self._layout = layout
        width = max(float(np.ptp(m[:, 0])) for m in meshes) * SPACING if layout == "side" else 0.0
        for k, actor in enumerate(self.compared):
            shown = k < len(meshes)
            actor.actor.SetVisibility(shown)
            if shown:
                actor.update(meshes[k])
                actor.actor.SetPosition((k - (len(meshes) - 1) / 2) * width, 0.0, 0.0)
                overlaid = layout == "overlay" and k == 0
                actor.actor.GetProperty().SetColor(*(OVERLAY_RGB if overlaid else SKIN_RGB))
                actor.actor.GetProperty().SetOpacity(OVERLAY_OPACITY if overlaid else 1.0)
        self.mesh.actor.SetVisibility(False)
        _color(self.compared[1], heat, None)
        self._show_colorbar(self.compared[1], "distance (mm)")
        joiner = "   |   " if layout == "side" else "   over   "
        self.labels.SetText(vtkCornerAnnotation.UpperEdge, joiner.join(labels))
        if reframe:
            set_camera_preset(self.renderer, "front", self.renderer.ComputeVisiblePropBounds())
        self.request_render()

    def hide_comparison(self) -> None:
        """Back to the editor's face alone."""
        for actor in self.compared:
            actor.actor.SetVisibility(False)
        if self.mesh is not None:
            self.mesh.actor.SetVisibility(True)
            self._show_colorbar(self.mesh, self._face_title)
        self.labels.ClearAllTexts()
        self.reset_view()

    def set_face_visible(self, on: bool) -> None:
        """Show or hide the editor's face and its colour bar (e.g. while a raw scan is shown);
        takes effect at the next `render()`."""
        if self.mesh is not None:
            self.mesh.actor.SetVisibility(on)
            if not self.comparing:  # a comparison's colour bar is its own
                self.colorbar.SetVisibility(on and bool(self.mesh.actor.GetMapper().GetScalarVisibility()))

    def set_wireframe(self, on: bool) -> None:
        """Show edges over the surface (on) or smooth shading only."""
        if self.mesh is not None:
            self.mesh.actor.GetProperty().SetEdgeVisibility(on)
            self.mesh.actor.GetProperty().SetEdgeColor(0.25, 0.2, 0.2)
            self.request_render()

    def camera_preset(self, name: str) -> None:
        """Aim the camera from a `scene.CAMERA_PRESETS` direction at the mesh."""
        self.preset = name
        if self.mesh is not None:
            set_camera_preset(self.renderer, name, self.renderer.ComputeVisiblePropBounds())
            self.request_render()

    def reset_view(self) -> None:
        """Back to the last preset, framing the whole face."""
        self.camera_preset(self.preset)

    def view_state(self) -> dict:
        """Camera position, focal point and up vector (mm), for the project file."""
        c = self.renderer.GetActiveCamera()
        return {"position": list(c.GetPosition()), "focal_point": list(c.GetFocalPoint()),
                "view_up": list(c.GetViewUp()), "preset": self.preset}

    def set_view_state(self, view: dict) -> None:
        """Restore a `view_state` (an empty dict resets the view)."""
        if not view:
            self.reset_view()
            return
        c = self.renderer.GetActiveCamera()
        c.SetPosition(*view["position"])
        c.SetFocalPoint(*view["focal_point"])
        c.SetViewUp(*view["view_up"])
        self.preset = view.get("preset", self.preset)
        self.renderer.ResetCameraClippingRange()
        self.request_render()

    def request_render(self) -> None:
        """Render once at the next event-loop turn, however many changes ask before then (a
        model load recolours the mesh and re-aims the camera: one render for both)."""
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(0, self._render_if_pending)

    def _render_if_pending(self) -> None:
        if self._render_pending:
            self.render()

    def render(self) -> None:
        """Render now (GUI thread only; worker results arrive here through Qt signals)."""
        self._render_pending = False
        if not self._closed and self.isVisible():
            start = time.perf_counter()
            self.window.Render()
            self.last_render_ms = (time.perf_counter() - start) * 1000

    def grab_image(self) -> np.ndarray:
        """(H, W, 3) uint8 pixels of the current frame (rendered with multisampling), first row at the top."""
        self.window.SetMultiSamples(SCREENSHOT_MULTISAMPLES)
        self.window.Render()
        grab = vtkWindowToImageFilter()
        grab.SetInput(self.window)
        grab.ReadFrontBufferOff()
        grab.Update()
        self.window.SetMultiSamples(LIVE_MULTISAMPLES)
        image = grab.GetOutput()
        w, h, _ = image.GetDimensions()
        return vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3].copy()

    def save_screenshot(self, path: str | Path) -> None:
        """Write the current frame as PNG (atomically)."""
        import io

        buffer = io.BytesIO()
        Image.fromarray(self.grab_image()).save(buffer, format="PNG")
        atomic_write_bytes(path, buffer.getvalue())

    def close(self) -> bool:
        """Release the render window; safe to call twice."""
        if not self._closed:
            self._closed = True
            self.interactor.Finalize()
        return super().close()


def _color(mesh: MeshActor, values: np.ndarray | None, vmax: float | None) -> None:
    """Colour `mesh` by (N,) values (mm) on a magma 0..`vmax` scale (default: their maximum)."""
    if values is None:
        mesh.set_scalars(None)
        return
    top = float(vmax if vmax is not None else max(float(np.max(values)), 1e-6))
    mesh.set_scalars(values, (0.0, top), "magma")
