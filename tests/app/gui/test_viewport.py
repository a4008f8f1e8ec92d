"""The live viewport: frames reach the window itself, screenshots are antialiased."""
import numpy as np

from faceforge.app.viewport import LIVE_MULTISAMPLES


def on_screen(viewport) -> np.ndarray:
    """(H, W, 3) uint8: what the X server shows where the 3D view is (grabbed from the root
    window, so it is the displayed picture, not VTK's own buffers)."""
    from qtpy.QtCore import QPoint
    from qtpy.QtGui import QGuiApplication, QImage

    view = viewport.interactor
    corner = view.mapToGlobal(QPoint(0, 0))
    image = QGuiApplication.primaryScreen().grabWindow(0, corner.x(), corner.y(), view.width(), view.height())
    image = image.toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def face_x(rgb: np.ndarray) -> float:
    """Mean column (pixels) of the skin-coloured pixels (NaN if none); the background is grey."""
    r, b = rgb[..., 0].astype(int), rgb[..., 2].astype(int)
    columns = np.nonzero((r - b > 40) & (r > 100))[1]
    return float(columns.mean()) if len(columns) else float("nan")


def live_frame(viewport) -> np.ndarray:
    """(H, W, 3) uint8 of the last live frame, read from VTK without re-rendering."""
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

    grab = vtkWindowToImageFilter()
    grab.SetInput(viewport.window)
    grab.ShouldRerenderOff()
    grab.ReadFrontBufferOff()
    grab.Update()
    w, h, _ = grab.GetOutput().GetDimensions()
    return vtk_to_numpy(grab.GetOutput().GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3].copy()


def shows_last_frame(viewport) -> bool:
    """The window shows the frame VTK rendered last (after a resize, the frame may be stale)."""
    screen, live = on_screen(viewport), live_frame(viewport)
    return screen.shape == live.shape and np.any(screen != live, axis=-1).mean() < 1e-3


def test_frames_reach_the_window_before_and_after_a_screenshot(make_window, trained, qtbot, tmp_path):
    from PIL import Image

    window = make_window(trained[0])
    viewport, v = window.viewport, window.vertices
    viewport.show_vertices(v)
    qtbot.waitUntil(lambda: shows_last_frame(viewport), timeout=5_000)
    x0 = face_x(on_screen(viewport))
    viewport.show_vertices(v + np.float32([30.0, 0.0, 0.0]))  # mm to the subject's left
    qtbot.waitUntil(lambda: shows_last_frame(viewport), timeout=5_000)
    x1 = face_x(on_screen(viewport))
    assert x1 > x0 + 15  # pixels
    live = live_frame(viewport)
    viewport.save_screenshot(tmp_path / "shot.png")
    shot = np.asarray(Image.open(tmp_path / "shot.png").convert("RGB"))
    differs = np.abs(shot.astype(int) - live).max(-1) > 12  # levels; shading and background move by 1-2
    assert 0 < differs.mean() < 0.02  # multisampling smoothed the silhouette, nothing else changed
    assert viewport.window.GetMultiSamples() == LIVE_MULTISAMPLES
    viewport.show_vertices(v)
    qtbot.waitUntil(lambda: shows_last_frame(viewport), timeout=5_000)
    assert face_x(on_screen(viewport)) < x1 - 15


def test_view_changes_coalesce_into_one_render(make_window, trained, qtbot):
    window = make_window(trained[0])
    viewport = window.viewport
    renders = []
    tag = viewport.window.AddObserver("EndEvent", lambda *_: renders.append(1))
    viewport.set_wireframe(True)
    viewport.camera_preset("front")
    viewport.set_heatmap(np.linspace(0.0, 2.0, viewport.mesh.n_vertices), "distance (mm)")
    assert renders == []  # nothing drawn yet: one render waits for the event loop
    qtbot.waitUntil(lambda: len(renders) == 1, timeout=5_000)
    qtbot.wait(50)
    viewport.show_vertices(window.vertices)  # a decoded frame is drawn at once
    viewport.window.RemoveObserver(tag)
    assert len(renders) == 2
    assert viewport.mesh.actor.GetProperty().GetEdgeVisibility() and viewport.colorbar.GetVisibility()


def test_screenshot_to_an_unwritable_place_says_so(make_window, trained, tmp_path):
    from faceforge.app import files

    window = make_window(trained[0])
    assert files.save_screenshot(window, tmp_path / "face.png") and (tmp_path / "face.png").stat().st_size > 1000
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert not files.save_screenshot(window, blocker / "face.png")
    assert window.error_box is not None and "Cannot save screenshot" in window.error_box.windowTitle()
    assert blocker.read_text() == "not a folder" and window.vertices is not None
