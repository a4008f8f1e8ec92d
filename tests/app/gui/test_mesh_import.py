"""Meshes in, neutral out: open a mesh, compare, take its codes; bad files change nothing."""
import numpy as np
import pytest

from faceforge.app import files
from faceforge.core.mesh.io import write_obj


def open_and_wait(qtbot, window, path):
    worker = files.open_mesh(window, path)
    with qtbot.waitSignal(worker.finished, timeout=20_000):
        pass


@pytest.fixture
def sample(trained, tmp_path):
    """A synthetic face of the training population written as OBJ: (path, vertices)."""
    _, data = trained
    vertices = np.asarray(data.vertices[27], np.float32)
    path = tmp_path / "sample.obj"
    write_obj(path, vertices, data.template.faces)
    return path, vertices


def test_open_mesh_shows_input_reconstruction_and_neutral(make_window, trained, sample, qtbot, artifact):
    window = make_window(trained[0])
    path, vertices = sample
    open_and_wait(qtbot, window, path)
    c = window.loaded.comparison
    assert c is not None and c.path == path
    vp = window.viewport
    assert vp.comparing and not vp.mesh.actor.GetVisibility() and vp.colorbar.GetVisibility()
    np.testing.assert_allclose(c.input, vertices)
    err = np.linalg.norm(vertices - c.reconstruction, axis=1)
    assert 0 < err.mean() < 10  # a trained model reconstructs to a few mm
    scalars = vp.compared[1].polydata.GetPointData().GetScalars()
    from vtkmodules.util.numpy_support import vtk_to_numpy
    np.testing.assert_allclose(vtk_to_numpy(scalars), err, atol=1e-4)
    xs = [a.actor.GetPosition()[0] for a in vp.compared]
    assert xs[0] < xs[1] < xs[2]  # side by side along X
    neutral_direct = window.session.model.neutralize(vertices[None])[0]
    np.testing.assert_allclose(c.neutral, neutral_direct, atol=1e-3)
    assert "mean" in window.loaded.info.text()
    artifact(window, "mesh_comparison")
    window.loaded.compare.set_on(False)
    assert not vp.comparing and vp.mesh.actor.GetVisibility()


def test_use_in_editor_takes_codes_and_undo_restores(make_window, trained, sample, qtbot, wait_frame, artifact):
    window = make_window(trained[0])
    state = window.doc.state
    open_and_wait(qtbot, window, sample[0])
    c = window.loaded.comparison
    window.loaded.use.click()
    wait_frame(window)
    np.testing.assert_array_equal(window.doc.state.z_id, c.z_id)
    np.testing.assert_array_equal(window.doc.state.z_exp, c.z_exp)
    np.testing.assert_allclose(window.vertices, c.reconstruction, atol=1e-4)
    assert not window.viewport.comparing
    artifact(window, "mesh_used_in_editor")
    window.undo_action.trigger()
    assert window.doc.state is state


def test_expression_transfer_and_identity_swap(make_window, trained, sample, qtbot, wait_frame):
    window = make_window(trained[0])
    window.identity.seed.setValue(3)
    window.identity.randomize()
    mine = window.doc.state.z_id.copy()
    open_and_wait(qtbot, window, sample[0])
    c = window.loaded.comparison
    window.loaded.take_exp.click()
    wait_frame(window)
    np.testing.assert_array_equal(window.doc.state.z_id, mine)
    np.testing.assert_array_equal(window.doc.state.z_exp, c.z_exp)
    expected, _ = window.session.decode(mine, c.z_exp)
    np.testing.assert_allclose(window.vertices, expected, atol=1e-4)
    window.loaded.take_id.click()
    wait_frame(window)
    np.testing.assert_array_equal(window.doc.state.z_id, c.z_id)
    np.testing.assert_array_equal(window.doc.state.z_exp, c.z_exp)
    assert window.doc.history.undo_label == "Identity from sample.obj"
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.doc.state.z_id, mine)


def _wrong_topology(path, vertices):
    write_obj(path, vertices[:-10], None)


def _unreadable(path, vertices):
    path.write_bytes(b"v 1 2\nf 1 2 x\n\x00\xff")


def _nans(path, vertices):
    bad = vertices.copy()
    bad[5] = np.nan
    path.write_text("".join(f"v {x} {y} {z}\n" for x, y, z in bad))


@pytest.mark.parametrize("make_bad, words", [(_wrong_topology, "3250 vertices"), (_unreadable, "bad.obj"),
                                             (_nans, "non-finite")])
def test_bad_mesh_shows_error_and_changes_nothing(make_window, trained, sample, tmp_path, qtbot, make_bad,
                                                  words, artifact):
    window = make_window(trained[0])
    state, vertices = window.doc.state, window.vertices
    path = tmp_path / "bad.obj"
    make_bad(path, sample[1])
    open_and_wait(qtbot, window, path)
    qtbot.waitUntil(lambda: window.error_box is not None)
    box = window.error_box
    assert box.isVisible() and words in box.text() and "bad.obj" in box.text()
    assert window.doc.state is state and window.vertices is vertices and not window.doc.history.undo_label
    assert window.loaded.comparison is None and not window.viewport.comparing
    if make_bad is _wrong_topology:
        artifact(box, "mesh_error_dialog")
    box.close()
