"""The editor under Xvfb with a really trained tiny model: launch, sliders, undo, projects, errors."""
import numpy as np
import pytest
from qtpy.QtWidgets import QDockWidget

from faceforge.app import files
from faceforge.app.settings import add_recent, startup_model


def viewport_points(window) -> np.ndarray:
    """The positions VTK is drawing, read back from the persistent vtkPolyData."""
    from vtkmodules.util.numpy_support import vtk_to_numpy

    return vtk_to_numpy(window.viewport.mesh.polydata.GetPoints().GetData()).copy()


def test_empty_state_explains_how_to_get_a_model(make_window, artifact):
    window = make_window()
    assert window.stack.currentWidget() is window.empty
    assert "Open Model" in window.empty.text() and "faceforge train" in window.empty.text()
    assert not window.identity.isEnabled() and window.status.text() == "no model"
    artifact(window, "empty_state")


def test_launch_shows_the_face_and_status(make_window, trained, artifact):
    folder, _ = trained
    window = make_window(folder)
    assert window.stack.currentWidget() is window.viewport
    mesh = window.viewport.mesh
    assert mesh.n_vertices == 3260 and f"{mesh.n_vertices} vertices" in window.status.text()
    assert "decode" in window.status.text()
    np.testing.assert_allclose(viewport_points(window), window.vertices, atol=1e-5)
    artifact(window, "main_window")


def test_startup_prefers_the_default_then_the_recent_model(settings, trained, monkeypatch):
    from faceforge.app import settings as app_settings
    from faceforge.core.models.registry import default_model_folder

    add_recent(settings, "recent/models", trained[0])
    assert startup_model(settings) == default_model_folder()  # the shipped model wins
    monkeypatch.setattr(app_settings, "default_model", lambda: None)  # an install without one
    assert startup_model(settings) == trained[0].resolve()
    settings.remove("recent/models")
    assert startup_model(settings) is None


def test_slider_drag_moves_face_and_one_undo_restores(make_window, trained, qtbot, wait_frame, artifact):
    window = make_window(trained[0])
    polydata = window.viewport.mesh.polydata
    before = viewport_points(window)
    slider = window.identity.axes.sliders["axis0"]
    for value in (0.5, 1.0, 1.5, 2.5):  # one drag: several values, then release
        slider.setValue(value)
    slider.sliderReleased.emit()
    wait_frame(window)
    moved = viewport_points(window)
    assert np.abs(moved - before).max() > 0.5  # mm
    assert window.viewport.mesh.polydata is polydata  # updated in place, never rebuilt
    assert window.identity.axes.sliders["axis0"].value() == pytest.approx(2.5)
    artifact(window, "identity_edited")
    assert window.doc.history.undo_label == "Identity direction 1"
    window.undo_action.trigger()
    wait_frame(window)
    np.testing.assert_allclose(viewport_points(window), before, atol=1e-4)
    assert window.identity.axes.sliders["axis0"].value() == pytest.approx(0.0, abs=0.01)
    assert window.doc.history.undo_label is None  # the whole drag was one step
    window.redo_action.trigger()
    wait_frame(window)
    np.testing.assert_allclose(viewport_points(window), moved, atol=1e-4)


def test_expression_preset_and_arkit_slider(make_window, trained, wait_frame, artifact):
    window = make_window(trained[0])
    neutral = window.vertices.copy()
    window.expression.preset.setCurrentText("mouth_stretch")
    wait_frame(window)
    assert window.doc.state.preset == "mouth_stretch"
    assert np.abs(window.vertices - neutral).max() > 0.5
    full = window.vertices.copy()
    sem = window.session.semantics
    window.expression.intensity.setValue(0.5)
    wait_frame(window)
    np.testing.assert_allclose(window.doc.state.z_exp, sem.category("mouth_stretch", 0.5), atol=1e-6)
    assert 0.1 < np.abs(window.vertices - neutral).max() < np.abs(full - neutral).max()  # half way, roughly
    window.expression.intensity.setValue(1.0)
    units = window.session.arkit_units
    jaw = window.expression.forms["Jaw"].sliders[str(units.index("jawOpen"))]
    jaw.setValue(1.0)
    wait_frame(window)
    assert window.doc.state.arkit[units.index("jawOpen")] == pytest.approx(1.0)
    window.findChild(QDockWidget, "ExpressionDock").raise_()
    artifact(window, "expression_edited")
    window.expression.neutral()
    wait_frame(window)
    np.testing.assert_allclose(window.vertices, neutral, atol=1e-4)


def test_attribute_slider_sets_the_attribute(make_window, trained, wait_frame):
    window = make_window(trained[0])
    sem = window.session.semantics
    slider = window.identity.attributes.sliders["age"]
    target = round(slider.minimum() + 0.8 * (slider.maximum() - slider.minimum()), 2)
    slider.setValue(target)
    wait_frame(window)
    assert float(sem.attribute(window.doc.state.z_id, "age")) == pytest.approx(target, abs=0.05)


def test_random_identity_is_seeded_and_projectable(make_window, trained, wait_frame):
    window = make_window(trained[0])
    window.identity.seed.setValue(7)
    window.identity.randomize()
    first = window.doc.state.z_id.copy()
    window.identity.seed.setValue(7)
    window.identity.randomize()
    np.testing.assert_array_equal(window.doc.state.z_id, first)
    window.identity.axes.sliders["axis0"].setValue(3.0)
    window.identity.axes.sliders["axis1"].setValue(3.0)
    low = window.identity.plausibility.value()
    window.identity.project()
    assert window.identity.plausibility.value() > low
    window.identity.reset()
    np.testing.assert_allclose(window.doc.state.z_id, window.session.semantics.identity_prior.mean, atol=1e-6)
    assert window.identity.axes.sliders["axis0"].value() == pytest.approx(0.0, abs=0.01)  # sliders follow


def test_save_and_reopen_project(make_window, trained, tmp_path, wait_frame):
    window = make_window(trained[0])
    window.identity.axes.sliders["axis1"].setValue(-1.5)
    window.expression.preset.setCurrentText("smile")
    window.timeline.add_key("identity")
    window.viewport.camera_preset("side")
    window.viewport.renderer.GetActiveCamera().Azimuth(20)  # the user turned the face a little
    wait_frame(window)
    edited, view = window.vertices.copy(), window.viewport.view_state()
    path = tmp_path / "face.ffproj"
    assert files.save_as(window, path)
    assert window.windowTitle().startswith("face.ffproj —")
    state = window.doc.state
    other = make_window(trained[0])
    files.load_project(other, path)
    wait_frame(other)
    assert other.doc.path == path and not other.doc.dirty
    assert other.doc.state.changed_fields(state) == set()
    np.testing.assert_allclose(other.vertices, edited, atol=1e-4)
    restored = other.viewport.view_state()
    assert restored["preset"] == "side"
    for key in ("position", "focal_point", "view_up"):
        np.testing.assert_allclose(restored[key], view[key], atol=1e-3)


@pytest.mark.parametrize("content", [b"\x00\xffgarbage", b'{"format": "faceforge-project", "version": 99}',
                                     b'{"format": "faceforge-project", "version": 1, "model": null, "state": {}}'])
def test_bad_project_shows_error_and_changes_nothing(make_window, trained, tmp_path, content, artifact):
    window = make_window(trained[0])
    window.identity.axes.sliders["axis0"].setValue(1.0)
    state, vertices = window.doc.state, window.vertices
    path = tmp_path / "bad.ffproj"
    path.write_bytes(content)
    files.load_project(window, path)
    box = window.error_box
    assert box is not None and box.isVisible() and "bad.ffproj" in box.text()
    assert window.doc.state is state and window.doc.dirty and window.vertices is vertices
    if content.startswith(b"\x00"):
        artifact(box, "error_dialog")
    box.close()


def test_project_of_another_model_size_is_refused(make_window, trained, tmp_path):
    from faceforge.core.document import Project, State, save_project

    window = make_window(trained[0])
    path = tmp_path / "other.ffproj"
    save_project(path, Project(str(trained[0]), State.zeros(3, 3), {}))
    state = window.doc.state
    files.load_project(window, path)
    assert "sizes" in window.error_box.text() and window.doc.state is state


def test_export_obj_of_current_face(make_window, trained, tmp_path, qtbot, wait_frame):
    from faceforge.core.mesh.io import read_mesh

    window = make_window(trained[0])
    window.identity.axes.sliders["axis2"].setValue(1.0)
    wait_frame(window)
    path = tmp_path / "face.obj"
    worker = files.export_obj(window, path)
    with qtbot.waitSignal(worker.finished, timeout=20_000):
        pass
    mesh = read_mesh(path)
    np.testing.assert_allclose(mesh.vertices, window.vertices, atol=1e-3)
    assert mesh.uvs is not None and len(mesh.uvs) > 0


def test_export_obj_to_unwritable_place_shows_error(make_window, trained, tmp_path, qtbot):
    window = make_window(trained[0])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    worker = files.export_obj(window, blocker / "face.obj")
    with qtbot.waitSignal(worker.finished, timeout=20_000):
        pass
    qtbot.waitUntil(lambda: window.error_box is not None)
    assert "cannot write there" in window.error_box.text()


def test_missing_model_folder_shows_error(make_window, tmp_path, qtbot):
    window = make_window()
    window.open_model(tmp_path / "nowhere")
    qtbot.waitUntil(lambda: window.error_box is not None, timeout=10_000)
    assert "nowhere" in window.error_box.text() and window.session is None


def test_timeline_keys_scrub_and_obj_sequence(make_window, trained, tmp_path, qtbot, wait_frame, artifact):
    window = make_window(trained[0])
    tl = window.timeline
    tl.duration.setValue(1.0)
    tl.fps.setValue(4)
    tl.add_key("identity")
    tl.add_key("expression")
    start = window.vertices.copy()
    tl.set_time(1.0)
    window.identity.axes.sliders["axis0"].setValue(2.0)
    tl.add_key("identity")  # only identity changes over time
    wait_frame(window)
    end = window.vertices.copy()
    tl.set_time(0.5)
    wait_frame(window)
    np.testing.assert_allclose(window.doc.state.sample(0.5)[0], window.doc.state.z_id / 2
                               + window.doc.state.identity.keys[0].code / 2, atol=1e-5)
    assert np.abs(window.vertices - start).max() > 0.1 and np.abs(window.vertices - end).max() > 0.1
    artifact(window, "timeline")
    worker = files.export_sequence(window, tmp_path / "seq")
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    objs = sorted((tmp_path / "seq").glob("frame_*.obj"))
    assert len(objs) == 5  # 1 s at 4 fps, both ends
    tl.set_time(1.0)
    tl.delete_keys()
    assert window.doc.state.identity.times == [0.0]
    window.undo_action.trigger()
    assert window.doc.state.identity.times == [0.0, 1.0]
