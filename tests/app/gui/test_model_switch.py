"""Model switcher with real checkpoints: two tiny models of the default topology (8/8 codes), the
shipped default model (same topology, 64/64 codes) and a tiny model of the head with its mouth
(another topology, trained here by the real trainer)."""
import numpy as np
import pytest
from qtpy.QtCore import QThreadPool, QTimer
from qtpy.QtWidgets import QApplication, QMessageBox

from faceforge.core.models.registry import default_model_folder


@pytest.fixture(scope="module")
def mouth_model(tmp_path_factory, tiny_trainer):
    """A tiny WSDF of the head with the mouth part: 3,640 vertices, another topology."""
    result, _, _ = tiny_trainer(tmp_path_factory.mktemp("mouth"), steps=100, parts=("mouth",))
    return result.checkpoint


class Answer:
    """Answer the "Switch model" question with `button` whenever it shows up; `asked` keeps its texts."""

    def __init__(self, button: str):
        self.button, self.asked, self.active = button, [], True
        QTimer.singleShot(0, self._poll)

    def _poll(self) -> None:
        if not self.active:
            return
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "switchModelBox":
            self.asked.append(box.text())
            box.button(getattr(QMessageBox.StandardButton, self.button)).click()
        QTimer.singleShot(20, self._poll)

    def stop(self) -> None:
        self.active = False


def edit(window) -> None:
    """Identity, expression and keys of both tracks: unsaved work."""
    window.identity.axes.sliders["axis0"].setValue(1.5)
    window.expression.preset.setCurrentText("smile")
    window.timeline.add_key("identity")
    window.timeline.add_key("expression")


def switch(window, folder, qtbot, wait_frame, answer: str | None = None) -> Answer:
    answering = Answer(answer or "Cancel")
    try:
        with qtbot.waitSignal(window.session_changed, timeout=60_000):
            window.open_model(folder)
        wait_frame(window)
    finally:
        answering.stop()
    return answering


def test_same_topology_and_sizes_keep_the_codes(make_window, trained, tiny_model, qtbot, wait_frame):
    window = make_window(trained[0])
    edit(window)
    wait_frame(window)
    before, face = window.doc.state, window.vertices.copy()
    asked = switch(window, tiny_model[2], qtbot, wait_frame).asked
    assert asked == []  # nothing would be lost: no question
    assert window.session.folder == tiny_model[2] and window.doc.model_path == str(tiny_model[2])
    assert window.doc.state.changed_fields(before) == set() and window.doc.dirty
    assert "codes and keyframes kept" in window.statusBar().currentMessage()
    np.testing.assert_allclose(window.vertices, window.session.decode(before.z_id.copy(), before.z_exp.copy())[0],
                               atol=1e-4)
    assert np.abs(window.vertices - face).max() > 0.01  # another decoder, same codes
    assert window.doc.history.undo_label.startswith("Switch to model")
    window.undo_action.trigger()
    wait_frame(window)
    assert window.session.folder == trained[0] and window.doc.state.changed_fields(before) == set()
    np.testing.assert_allclose(window.vertices, face, atol=1e-4)


def test_other_latent_sizes_ask_then_reset_and_undo_brings_it_back(make_window, trained, qtbot, wait_frame,
                                                                    artifact):
    default = default_model_folder()
    if default is None:
        pytest.skip("this install ships no default model")
    window = make_window(trained[0])
    edit(window)
    wait_frame(window)
    before, face = window.doc.state, window.vertices.copy()
    asked = switch(window, default, qtbot, wait_frame, "Discard").asked
    assert len(asked) == 1 and "other latent sizes" in asked[0] and "Save the project first?" in asked[0]
    s = window.doc.state
    assert window.session.folder == default and len(s.z_id) == 64 and len(s.z_exp) == 64
    assert s.changed_fields(window.session.new_state()) == set() and not s.identity.keys and not s.expression.keys
    message = window.statusBar().currentMessage()
    assert "identity 8 → 64" in message and "kept nothing" in message
    assert window.notice.isVisible() and window.notice.text.text() == message
    artifact(window, "model_switch_sizes")
    window.undo_action.trigger()
    wait_frame(window)
    assert window.session.folder == trained[0] and window.doc.state.changed_fields(before) == set()
    assert window.identity.axes.sliders["axis0"].value() == pytest.approx(1.5)
    np.testing.assert_allclose(window.vertices, face, atol=1e-4)
    window.redo_action.trigger()
    wait_frame(window)
    assert window.session.folder == default and len(window.doc.state.z_id) == 64


def test_cancel_keeps_everything(make_window, trained, qtbot, wait_frame):
    default = default_model_folder()
    if default is None:
        pytest.skip("this install ships no default model")
    window = make_window(trained[0])
    edit(window)
    before, session = window.doc.state, window.session
    answering = Answer("Cancel")
    window.open_model(default)
    qtbot.waitUntil(lambda: "Kept model" in window.statusBar().currentMessage(), timeout=60_000)
    answering.stop()
    assert len(answering.asked) == 1 and window.session is session and window.doc.state is before


def test_other_topology_resets_with_a_message(make_window, trained, mouth_model, qtbot, wait_frame, artifact):
    window = make_window(trained[0])
    edit(window)
    wait_frame(window)
    before = window.doc.state
    asked = switch(window, mouth_model, qtbot, wait_frame, "Discard").asked
    assert len(asked) == 1 and "another face topology" in asked[0]
    assert window.session.n_vertices == 3640 and window.viewport.mesh.n_vertices == 3640
    assert window.vertices.shape == (3640, 3)
    s = window.doc.state
    assert s.changed_fields(window.session.new_state()) == set()  # reset: codes, keys, timeline
    text = window.notice.text.text()
    assert "another face topology (3640 vertices)" in text and "reset (codes and keyframes)" in text
    assert text == window.statusBar().currentMessage() and window.doc.dirty
    artifact(window, "model_switch_topology")
    window.undo_action.trigger()
    wait_frame(window)
    assert window.session.n_vertices == 3260 and window.vertices.shape == (3260, 3)
    assert window.notice.isHidden()  # the notice was about the switch just undone
    assert window.doc.state.changed_fields(before) == set()


def test_untouched_document_starts_over_without_a_question(make_window, trained, mouth_model, qtbot, wait_frame):
    window = make_window(trained[0])
    asked = switch(window, mouth_model, qtbot, wait_frame).asked
    assert asked == [] and window.session.n_vertices == 3640 and not window.doc.dirty
    assert window.doc.history.undo_label is None and window.notice.isHidden()


def test_the_latest_open_wins(make_window, trained, tiny_model, qtbot, wait_frame):
    """E.g. the start-up model still loading when the user opens a project of another model."""
    window = make_window()
    shown = []
    window.session_changed.connect(lambda: shown.append(window.session.folder))
    window.open_model(trained[0])
    window.open_model(tiny_model[2])
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    QThreadPool.globalInstance().waitForDone(60_000)  # both loads have finished ...
    wait_frame(window)  # ... and their results were delivered
    assert shown == [tiny_model[2]] and window.doc.history.undo_label is None
