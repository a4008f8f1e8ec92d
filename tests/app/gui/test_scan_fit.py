"""Raw scans in the editor with the shipped default model: load, fit with progress, inspect,
neutralize, the scan's identity with the editor's expression, use the codes (undoable), cancel,
bad inputs, unexpected errors, and manual landmarks."""
import numpy as np
import pytest
from qtpy.QtGui import QAction
from vtkmodules.util.numpy_support import vtk_to_numpy

from faceforge.app import scanfit
from faceforge.app.landmarks import MIN_PICKS
from faceforge.app.scanview import SCAN_OPACITY, SCAN_RGB
from faceforge.core.mesh.io import read_mesh, write_ply

LANDMARKS = ("nose_tip", "eye_outer_corner_r", "eye_outer_corner_l", "mouth_corner_r", "mouth_corner_l",
             "chin_front")


@pytest.fixture(scope="module")
def raw(default_model, tmp_path_factory):
    """(path, RawScan): an unseen face of the default model re-meshed to ~30k vertices, 0.2 mm
    noise, a random pose, in metres, written as binary PLY."""
    from faceforge.core.fit.rawscan import RawScanSpec, make_raw_scan, write_raw_scan
    from faceforge.core.models.registry import load_model

    model = load_model(default_model)
    rng = np.random.default_rng(5)
    z_id = (0.8 * rng.standard_normal((1, model.id_dim))).astype(np.float32)
    z_exp = (0.5 * rng.standard_normal((1, model.exp_dim))).astype(np.float32)
    scan = make_raw_scan(model.decode(z_id, z_exp)[0], model.template,
                         RawScanSpec(density=30_000, units="m", seed=3))
    path = tmp_path_factory.mktemp("scans") / "head.ply"
    write_raw_scan(path, scan)
    return path, scan


def load(qtbot, window, path):
    window.scan.load(path)
    qtbot.waitUntil(lambda: window.scan.loader is None, timeout=60_000)


def run_fit(qtbot, panel, timeout=180_000):
    """Wait until the panel's fit worker has finished (and the panel has seen it finish)."""
    qtbot.waitUntil(lambda: panel.worker is None, timeout=timeout)


@pytest.fixture
def shot(qtbot, artifact):
    """shot(window, name): let pending layouts settle, then save and check the screenshot."""
    def save(window, name):
        qtbot.wait(50)
        return artifact(window, name)

    return save


def scan_frame_error(result, raw) -> np.ndarray:
    """(N,) mm distance of the registered mesh to the ground truth, compared in the scan frame."""
    truth = raw.transform.apply(raw.truth)
    return np.linalg.norm(result.in_scan_frame(result.registered) - truth, axis=1) / float(raw.transform.scale)


def test_fit_through_the_panel_overlays_residuals_and_codes_go_to_the_editor(
        make_window, default_model, raw, qtbot, wait_frame, shot, tmp_path):
    window = make_window(default_model)
    panel, layer, vp = window.scan, window.scan.layer, window.viewport
    state = window.doc.state
    action = next(a for a in window.findChildren(QAction) if a.objectName() == "Load Sc&an…")
    assert action.shortcut().toString() == "Ctrl+Shift+L" and not action.icon().isNull()
    load(qtbot, window, raw[0])
    assert panel.loaded is not None and panel.loaded.scan.faces is not None
    assert "head.ply" in panel.info.text() and f"{len(raw[1].vertices):,} vertices" in panel.info.text()
    scan_prop = layer.scan.GetProperty()
    assert layer.scan.GetVisibility() and scan_prop.GetOpacity() == pytest.approx(SCAN_OPACITY) and SCAN_OPACITY < 1
    assert scan_prop.GetColor() == pytest.approx(SCAN_RGB)
    assert not vp.mesh.actor.GetVisibility()  # the editor's face steps aside
    shot(window, "scan_loaded")

    progress = []
    worker = panel.fit()
    worker.yielded.connect(progress.append)
    assert not panel.fit_button.isEnabled() and panel.cancel_button.isEnabled()
    run_fit(qtbot, panel)
    result = panel.result
    assert result is not None and window.error_box is None
    stages = [p.stage for p in progress]
    assert stages[0] == "rigid" and "refine" in stages and progress[-1].step == progress[-1].total
    assert progress[0].rigid is result.rigid  # core's alignment, shown while the fit ran
    assert panel.progress.value() == panel.progress.maximum()

    # overlay: registered mesh with the residual heat map and a colour bar, scan in the model frame
    assert layer.fit.actor.GetVisibility() and layer.colorbar.GetVisibility()
    np.testing.assert_allclose(vtk_to_numpy(layer.fit.polydata.GetPoints().GetData()), result.registered, atol=1e-4)
    shown = vtk_to_numpy(layer.fit.polydata.GetPointData().GetScalars())
    np.testing.assert_array_equal(np.isnan(shown), np.isnan(result.residual))
    stats = result.errors()
    assert stats["coverage"] > 0.6 and stats["mean"] < 1.0 and stats["median"] < 0.5  # mm
    assert scan_frame_error(result, raw[1]).mean() < 3.0  # mm, against the ground truth
    matrix = np.array([[layer.matrix().GetElement(i, j) for j in range(4)] for i in range(4)])
    to_model = result.pose.inverse()
    np.testing.assert_allclose(matrix[:3, :3], float(to_model.scale) * to_model.rotation, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(matrix[:3, 3], to_model.translation, atol=1e-3)
    assert panel.table.rowCount() == 1 + len(result.template.regions)
    assert panel.table.item(0, 0).text() == "all" and panel.table.item(0, 1).text() == f"{stats['mean']:.2f}"
    assert "mm per scan unit" in panel.stats.text()
    assert window.doc.state is state  # fitting alone does not edit the document
    shot(window, "scan_fitted")

    panel.neutralize_button.click()
    assert layer.neutral.actor.GetVisibility() and panel.toggles["neutral"].isChecked()
    np.testing.assert_allclose(vtk_to_numpy(layer.neutral.polydata.GetPoints().GetData()), result.neutral, atol=1e-4)
    assert layer.neutral.actor.GetPosition()[0] > np.ptp(result.registered[:, 0])  # beside the fit
    shot(window, "scan_neutralized")

    out = tmp_path / "neutral.obj"
    panel.export_to(out)
    qtbot.waitUntil(out.exists, timeout=20_000)
    mesh = read_mesh(out)
    np.testing.assert_allclose(mesh.vertices, result.in_scan_frame(result.neutral), rtol=1e-5, atol=1e-6)
    assert mesh.uvs is not None

    check_editor_expression(window, qtbot, wait_frame, shot, tmp_path)

    panel.use.click()
    wait_frame(window)
    np.testing.assert_array_equal(window.doc.state.z_id, result.z_id)
    np.testing.assert_array_equal(window.doc.state.z_exp, result.z_exp)
    np.testing.assert_allclose(window.vertices, result.model_fit, atol=1e-3)
    assert window.doc.history.undo_label == "Use scan head.ply"
    assert vp.mesh.actor.GetVisibility() and not layer.active
    shot(window, "scan_used_in_editor")
    window.undo_action.trigger()
    wait_frame(window)
    assert window.doc.state is state and window.doc.history.undo_label is None


def apply_editor_expression(window, qtbot, z_exp) -> np.ndarray:
    """Set the editor's expression codes (undoable), click "Editor expression"; what is shown."""
    panel = window.scan
    window.doc.edit("Expression for the scan", z_exp=z_exp)
    panel.expression_button.click()
    assert panel.transfer is not None and not panel.expression_button.isEnabled()
    qtbot.waitUntil(lambda: panel.transfer is None, timeout=20_000)
    return vtk_to_numpy(panel.layer.expression.polydata.GetPoints().GetData())


def check_editor_expression(window, qtbot, wait_frame, shot, tmp_path) -> None:
    """The fitted scan's identity (codes and refinement) with the editor's expression: computed by
    core, shown left of the fit, exported as OBJ; the editor's z_exp = 0 gives the neutral."""
    from faceforge.core.fit.transfer import transfer_expression

    panel, layer, result = window.scan, window.scan.layer, window.scan.result
    model = window.session.model
    assert not panel.export_expression_button.isEnabled()
    z_exp = np.random.default_rng(1).normal(0.0, 1.0, model.exp_dim).astype(np.float32)
    shown = apply_editor_expression(window, qtbot, z_exp)
    np.testing.assert_allclose(shown, transfer_expression(result, z_exp, model), atol=1e-4)
    assert np.linalg.norm(shown - result.neutral, axis=1).max() > 2.0  # mm: the expression shows
    offsets = result.neutral - model.decode(result.z_id[None], np.zeros((1, model.exp_dim), np.float32))[0]
    np.testing.assert_allclose(shown - model.decode(result.z_id[None], z_exp[None])[0], offsets, atol=1e-3)
    assert layer.expression.actor.GetVisibility() and panel.toggles["expression"].isChecked()
    assert layer.expression.actor.GetPosition()[0] < -np.ptp(result.registered[:, 0])  # left of the fit
    assert layer.fit.actor.GetVisibility() and not window.viewport.mesh.actor.GetVisibility()
    shot(window, "scan_editor_expression")
    out = tmp_path / "expression.obj"
    panel.export_to(out, expression=True)
    qtbot.waitUntil(out.exists, timeout=20_000)
    mesh = read_mesh(out)
    np.testing.assert_allclose(mesh.vertices, result.in_scan_frame(shown), rtol=1e-5, atol=1e-6)
    assert mesh.uvs is not None and len(mesh.faces) == len(result.template.faces)
    neutral = apply_editor_expression(window, qtbot, np.zeros(model.exp_dim, np.float32))
    np.testing.assert_allclose(neutral, result.neutral, atol=1e-3)  # mm
    for _ in range(2):
        window.undo_action.trigger()
    wait_frame(window)


def test_cancel_mid_fit_leaves_the_editor_usable(make_window, default_model, raw, qtbot, wait_frame):
    window = make_window(default_model)
    panel = window.scan
    load(qtbot, window, raw[0])
    state, before = window.doc.state, window.vertices.copy()
    steps = []
    worker = panel.fit()
    worker.yielded.connect(steps.append)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=120_000)
    panel.cancel_button.click()
    run_fit(qtbot, panel, timeout=60_000)
    assert panel.result is None and panel.worker is None and window.error_box is None
    assert "cancelled" in panel.stage.text() and steps[-1].step < steps[-1].total
    assert panel.fit_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert window.doc.state is state and layer_matrix_is_identity(panel.layer)
    slider = window.identity.axes.sliders["axis0"]  # the editor still edits and renders
    slider.setValue(2.0)
    slider.sliderReleased.emit()
    wait_frame(window)
    assert np.abs(window.vertices - before).max() > 0.5


def test_unexpected_errors_in_load_or_fit_are_shown_and_the_editor_stays_usable(
        make_window, default_model, raw, qtbot, wait_frame, monkeypatch):
    from faceforge.core.fit import fitting
    from faceforge.core.fit import scan as scans

    window = make_window(default_model)
    panel = window.scan
    load(qtbot, window, raw[0])
    loaded, state, before = panel.loaded, window.doc.state, window.vertices.copy()

    def broken_alignment(*args, **kwargs):
        raise RuntimeError("simulated failure in the alignment")

    monkeypatch.setattr(fitting, "auto_align", broken_alignment)  # a RuntimeError, as torch raises
    panel.fit()
    run_fit(qtbot, panel)
    qtbot.waitUntil(lambda: window.error_box is not None)
    box = window.error_box
    assert box.isVisible() and box.windowTitle() == "Cannot fit scan"
    assert "Unexpected RuntimeError: simulated failure in the alignment" in box.text()
    assert "broken_alignment" in box.detailedText()  # the traceback, for a report
    assert panel.stage.text() == "fit failed" and panel.result is None and panel.fit_button.isEnabled()
    assert layer_matrix_is_identity(panel.layer) and panel.layer.scan.GetVisibility()
    box.close()

    def broken_reader(path):
        raise KeyError("simulated reader bug")

    monkeypatch.setattr(scans, "load_scan", broken_reader)
    load(qtbot, window, raw[0])
    qtbot.waitUntil(lambda: window.error_box is not box)
    assert window.error_box.isVisible() and window.error_box.windowTitle() == "Cannot load scan"
    assert "Unexpected KeyError" in window.error_box.text() and "simulated reader bug" in window.error_box.text()
    assert panel.loaded is loaded and panel.load_button.isEnabled() and panel.fit_button.isEnabled()
    window.error_box.close()
    assert window.doc.state is state and not window.doc.history.undo_label
    slider = window.identity.axes.sliders["axis0"]  # the editor still edits and renders
    panel.layer.show(scan=False)
    slider.setValue(2.0)
    slider.sliderReleased.emit()
    wait_frame(window)
    assert np.abs(window.vertices - before).max() > 0.5 and window.viewport.mesh.actor.GetVisibility()


def layer_matrix_is_identity(layer) -> bool:
    m = layer.matrix()
    return np.allclose([[m.GetElement(i, j) for j in range(4)] for i in range(4)], np.eye(4))


def _garbage(path):
    path.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 9\n\x00\xff\x13garbage")


def _empty(path):
    path.write_bytes(b"")


def _all_nan(path):
    write_ply(path, np.full((500, 3), np.nan, np.float32), None)


@pytest.mark.parametrize("make_bad, words", [(_garbage, "bad.ply"), (_empty, "empty"), (_all_nan, "usable")])
def test_unreadable_scan_shows_error_and_keeps_everything(make_window, default_model, raw, tmp_path, qtbot,
                                                          make_bad, words):
    window = make_window(default_model)
    load(qtbot, window, raw[0])
    loaded, state, vertices = window.scan.loaded, window.doc.state, window.vertices
    scan_actor = window.scan.layer.scan
    path = tmp_path / "bad.ply"
    make_bad(path)
    load(qtbot, window, path)
    qtbot.waitUntil(lambda: window.error_box is not None)
    box = window.error_box
    assert box.isVisible() and words in box.text() and "bad.ply" in box.text()
    assert window.scan.loaded is loaded and window.scan.layer.scan is scan_actor and scan_actor.GetVisibility()
    assert window.doc.state is state and window.vertices is vertices and not window.doc.history.undo_label
    assert window.scan.fit_button.isEnabled()
    box.close()


def test_not_a_face_says_so_and_offers_landmarks(make_window, default_model, tmp_path, qtbot, shot):
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=5, radius=95.0)
    path = tmp_path / "ball.ply"
    write_ply(path, np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces))
    window = make_window(default_model)
    state, vertices = window.doc.state, window.vertices
    load(qtbot, window, path)
    window.scan.fit()
    run_fit(qtbot, window.scan)
    qtbot.waitUntil(lambda: window.error_box is not None)
    box = window.error_box
    assert "does not look like a face" in box.text() and "landmarks" in box.informativeText(), box.text()
    assert window.scan.result is None and window.doc.state is state and window.vertices is vertices
    assert window.scan.layer.scan.GetVisibility() and not window.scan.picker.active
    qtbot.waitExposed(box)
    shot(box, "scan_not_a_face")
    pick = next(b for b in box.buttons() if "Pick landmarks" in b.text())
    pick.click()
    assert window.scan.picker.active and window.scan.pick_button.isChecked()
    assert window.scan.picker.current == "nose_tip"


def look_at_face(window, raw) -> None:
    """Point the camera at the scan's face from the front (in the scan's frame)."""
    t = raw.transform
    rotation = np.asarray(t.rotation)
    focal = t.apply(raw.truth).mean(axis=0)
    camera = window.viewport.renderer.GetActiveCamera()
    camera.SetFocalPoint(*focal)
    camera.SetPosition(*(focal + rotation @ np.array([0.0, 0.0, 650.0]) * float(t.scale)))
    camera.SetViewUp(*(rotation @ np.array([0.0, 1.0, 0.0])))
    window.viewport.renderer.ResetCameraClippingRange()
    window.viewport.render()


def display_point(window, point) -> tuple[float, float]:
    renderer = window.viewport.renderer
    renderer.SetWorldPoint(*point, 1.0)
    renderer.WorldToDisplay()
    return renderer.GetDisplayPoint()[:2]


def test_manual_landmarks_align_and_fit(make_window, default_model, raw, qtbot, shot):
    from qtpy.QtCore import QPoint, Qt

    from faceforge.core.fit.fitting import STAGES, FitOptions

    path, scan = raw
    window = make_window(default_model)
    panel = window.scan
    load(qtbot, window, path)
    panel.pick_button.click()
    assert panel.picker.active and not panel.align_button.isEnabled()
    look_at_face(window, scan)
    template = window.session.model.template
    truth = scan.transform.apply(scan.truth[[template.landmarks[n] for n in LANDMARKS]])  # scan frame
    size = window.viewport.interactor.size()
    x, y = display_point(window, truth[0])
    qtbot.mouseClick(window.viewport.interactor, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(x), size.height() - 1 - round(y)))  # a real click: nose tip
    assert list(panel.picker.picks) == ["nose_tip"]
    for point in truth[1:]:
        assert panel.picker.pick_display(*display_point(window, point))
    assert list(panel.picker.picks) == list(LANDMARKS) and len(panel.picker.spheres) == len(LANDMARKS)
    unit = 1.0 / float(scan.transform.scale)  # mm per scan unit
    offset = (np.stack([panel.picker.picks[n] for n in LANDMARKS]) - truth) * unit  # mm, scan axes
    view = np.asarray(scan.transform.rotation) @ np.array([0.0, 0.0, 1.0])
    across = np.linalg.norm(offset - np.outer(offset @ view, view), axis=1)
    assert (across < 1.0).all() and (np.linalg.norm(offset, axis=1) < 10.0).all()  # the surface under it
    panel.undo_pick.click()
    assert "chin_front" not in panel.picker.picks and panel.picker.current == "chin_front"
    assert panel.align_button.isEnabled() and len(panel.picker.picks) >= MIN_PICKS
    shot(window, "scan_landmarks")
    panel.options = FitOptions(stages=STAGES[:2], refine=False)  # a short fit: the alignment is the point
    panel.align_button.click()
    run_fit(qtbot, panel)
    result = panel.result
    assert result is not None and window.error_box is None and not panel.picker.active
    rigid = result.rigid.transform  # scan -> model
    angle = np.degrees(np.arccos(np.clip((np.trace(rigid.rotation @ scan.transform.rotation) - 1) / 2, -1, 1)))
    # core refines the picks' alignment by ICP on the scan: measured 0.34 degrees, 0.98, 1.18 mm
    assert angle < 1.5 and float(rigid.scale) * float(scan.transform.scale) == pytest.approx(1.0, abs=0.04)
    assert result.rigid.overlap > 0.9  # measured on the scan, not on the 5 picks
    assert scan_frame_error(result, scan).mean() < 2.0  # mm
    sphere = panel.picker.spheres["nose_tip"]
    assert sphere.GetUserMatrix() is panel.layer.matrix()  # the spheres follow the aligned scan
    shot(window, "scan_landmarks_fitted")


def test_big_scans_are_shown_reduced(default_model):
    from faceforge.core.mesh.subdivide import loop_subdivide
    from faceforge.core.models.registry import load_model

    t = load_model(default_model).template
    sub = loop_subdivide(t.vertices, t.triangles(), iterations=2)  # 52k vertices
    normals = np.zeros_like(sub.vertices)
    v, f, n = scanfit.display_mesh(sub.vertices, sub.triangles, normals, limit=20_000, target=8_000)
    assert 4_000 < len(v) < 16_000 and f.max() < len(v) and n.shape == v.shape
    assert np.ptp(v, axis=0) == pytest.approx(np.ptp(sub.vertices, axis=0), rel=0.05)
    v, f, n = scanfit.display_mesh(sub.vertices, None, normals, limit=20_000, target=8_000)
    assert len(v) == 8_000 and f is None
    same = scanfit.display_mesh(sub.vertices, sub.triangles, normals, limit=len(sub.vertices))
    assert same[0] is sub.vertices


def test_point_cloud_is_shown_as_points_and_picked(make_window, default_model, raw, tmp_path, qtbot):
    path, scan = raw
    cloud = tmp_path / "cloud.ply"
    write_ply(cloud, scan.vertices, None)
    window = make_window(default_model)
    load(qtbot, window, cloud)
    shown = window.scan.layer.scan.GetMapper().GetInput()
    assert window.scan.loaded.scan.faces is None and "point cloud" in window.scan.info.text()
    assert shown.GetNumberOfVerts() == shown.GetNumberOfPoints() == len(window.scan.loaded.scan.vertices)
    assert shown.GetNumberOfPolys() == 0
    window.scan.pick_button.click()
    look_at_face(window, scan)
    nose = scan.transform.apply(scan.truth[[window.session.model.template.landmarks["nose_tip"]]])[0]
    assert window.scan.picker.pick_display(*display_point(window, nose))
    assert np.linalg.norm(window.scan.picker.picks["nose_tip"] - nose) / float(scan.transform.scale) < 3.0  # mm
