"""Stored states: keep faces, take their identity or expression, compare them, save them."""
import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QDockWidget

from faceforge.app import files


def edit_face(window, wait_frame, axis: float, preset: str):
    window.identity.axes.sliders["axis0"].setValue(axis)
    window.expression.preset.setCurrentText(preset)
    wait_frame(window)
    return window.doc.state


def test_store_take_expression_and_identity_then_undo(make_window, trained, wait_frame):
    window = make_window(trained[0])
    panel = window.states
    assert not panel.apply_button.isEnabled()  # nothing stored yet
    smiling = edit_face(window, wait_frame, 2.0, "smile")
    panel.store_button.click()
    assert [s.name for s in window.doc.state.snapshots] == ["State 1"] and panel.list.count() == 1
    assert panel.selected == 0 and panel.exp_button.isEnabled()
    other = edit_face(window, wait_frame, -2.0, "anger")
    panel.exp_button.click()  # expression transfer onto the current identity
    wait_frame(window)
    s = window.doc.state
    np.testing.assert_array_equal(s.z_id, other.z_id)
    np.testing.assert_array_equal(s.z_exp, smiling.z_exp)
    assert window.expression.preset.currentText() == "smile"  # the sliders came along
    np.testing.assert_allclose(window.vertices, window.session.decode(other.z_id, smiling.z_exp)[0], atol=1e-4)
    panel.id_button.click()  # identity swap
    wait_frame(window)
    np.testing.assert_array_equal(window.doc.state.z_id, smiling.z_id)
    assert window.doc.history.undo_label == "Identity from State 1"
    window.undo_action.trigger()
    window.undo_action.trigger()
    wait_frame(window)
    np.testing.assert_array_equal(window.doc.state.z_exp, other.z_exp)
    panel.delete_button.click()
    assert panel.list.count() == 0 and not panel.apply_button.isEnabled()
    window.undo_action.trigger()
    assert panel.list.count() == 1


def test_rename_by_editing_the_name_and_a_taken_name_is_refused(make_window, trained, wait_frame):
    window = make_window(trained[0])
    panel = window.states
    panel.store_button.click()
    panel.store_button.click()
    panel.list.item(1).setText("grin")
    assert [s.name for s in window.doc.state.snapshots] == ["State 1", "grin"]
    panel.list.item(1).setText("State 1")
    assert [s.name for s in window.doc.state.snapshots] == ["State 1", "grin"]
    assert panel.list.item(1).text() == "grin" and "already called" in window.statusBar().currentMessage()


def test_compare_side_by_side_and_overlaid_with_distance(make_window, trained, wait_frame, artifact):
    window = make_window(trained[0])
    window.findChild(QDockWidget, "StatesDock").raise_()
    panel, vp = window.states, window.viewport
    stored = edit_face(window, wait_frame, 2.0, "smile")
    panel.store_button.click()
    current = edit_face(window, wait_frame, -2.0, "mouth_stretch")
    panel.compare.set_on(True)
    assert panel.comparer.busy and not vp.comparing  # decoded in the comparison worker, not here
    wait_frame(window)
    np.testing.assert_allclose(vp.renderer.GetActiveCamera().GetDirectionOfProjection(), (0, 0, -1), atol=1e-6)
    assert vp.comparing and not vp.compared[2].actor.GetVisibility() and vp.colorbar.GetVisibility()
    a, b = (window.session.decode(s.z_id, s.z_exp)[0] for s in (stored, current))
    from vtkmodules.util.numpy_support import vtk_to_numpy
    np.testing.assert_allclose(vtk_to_numpy(vp.compared[1].polydata.GetPointData().GetScalars()),
                               np.linalg.norm(a - b, axis=1), atol=1e-3)
    x0, x1 = (vp.compared[k].actor.GetPosition()[0] for k in (0, 1))
    assert x0 < x1
    artifact(window, "states_side_by_side")
    panel.compare.layout_choice.setCurrentText("Overlay")
    wait_frame(window)
    assert vp.compared[0].actor.GetPosition() == vp.compared[1].actor.GetPosition()
    assert vp.compared[0].actor.GetProperty().GetOpacity() < 1.0
    artifact(window, "states_overlay")
    camera = vp.renderer.GetActiveCamera()
    camera.Azimuth(25.0)  # the user turns the view
    turned = camera.GetPosition()
    lut = vp.compared[1].actor.GetMapper().GetLookupTable()
    window.expression.preset.setCurrentText("smile")  # the comparison follows the face
    wait_frame(window)
    s = window.doc.state
    now = window.session.decode(s.z_id, s.z_exp)[0]
    np.testing.assert_allclose(vtk_to_numpy(vp.compared[1].polydata.GetPointData().GetScalars()),
                               np.linalg.norm(now - a, axis=1), atol=1e-3)
    np.testing.assert_allclose(camera.GetPosition(), turned)  # the user's camera is kept
    assert vp.compared[1].actor.GetMapper().GetLookupTable() is lut  # recoloured in place
    panel.compare.set_on(False)
    assert not vp.comparing and vp.mesh.actor.GetVisibility()


def test_states_are_saved_with_the_project(make_window, trained, tmp_path, wait_frame):
    window = make_window(trained[0])
    edit_face(window, wait_frame, 1.0, "smile")
    window.states.store_button.click()
    path = tmp_path / "states.ffproj"
    assert files.save_as(window, path)
    other = make_window(trained[0])
    files.load_project(other, path)
    wait_frame(other)
    assert other.doc.state.snapshots == window.doc.state.snapshots and other.states.list.count() == 1
    assert other.states.list.item(0).flags() & Qt.ItemFlag.ItemIsEditable
