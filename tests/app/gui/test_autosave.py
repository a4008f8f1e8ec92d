"""Autosave and crash recovery with real windows and the shipped default model.

The crash is real: a child process edits in its own editor window, waits until the autosave
timer has written the document, and kills itself with SIGKILL.
"""
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QMessageBox

from faceforge.core.cache import cache_dir
from faceforge.core.document import AutosaveSlot, Project, State, Track

CLIENT = Path(__file__).parent / "clients" / "crash_editor.py"


@pytest.fixture
def autosaves():
    """The autosave folder (in the test cache); no test may leave files behind."""
    folder = cache_dir("autosave")
    assert list(folder.glob("*.ffproj")) == []
    yield folder
    assert list(folder.glob("*.ffproj")) == []


def crash_editor(settings, model) -> dict:
    settings.setValue("autosave/interval_s", 1)
    settings.sync()
    done = subprocess.run([sys.executable, str(CLIENT), str(model), settings.fileName()], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_crash_then_recover_restores_codes_and_keys(make_window, settings, default_model, autosaves, qtbot,
                                                    wait_frame, artifact):
    make_window()  # our display connection first (Xvfb -terminate must not see its last client go)
    crashed = crash_editor(settings, default_model)
    path = Path(crashed["autosave"])
    assert path.parent == autosaves and path.is_file() and crashed["title"].startswith("Untitled *")
    window = make_window()  # the next start
    assert window.notice.isVisible() and set(window.notice.buttons) == {"Recover", "Discard"}
    assert "did not close properly" in window.notice.text.text() and "untitled document" in window.notice.text.text()
    assert window.session is None and not window.doc.dirty
    artifact(window, "recovery_offered")
    with qtbot.waitSignal(window.session_changed, timeout=60_000):
        window.notice.buttons["Recover"].click()
    wait_frame(window)
    s, want = window.doc.state, crashed["state"]
    for name in ("z_id", "z_exp", "arkit"):
        np.testing.assert_array_equal(getattr(s, name), np.float32(want[name]), err_msg=name)
    assert s.preset == want["preset"] == "smile"
    for name in ("identity", "expression"):
        keys = getattr(s, name).keys
        assert [k.time for k in keys] == [t for t, _ in want[name]] and len(keys) == len(want[name]) > 0
        for key, (_, code) in zip(keys, want[name]):
            np.testing.assert_array_equal(key.code, np.float32(code))
    assert window.doc.dirty and window.doc.recovered and window.session.folder == default_model
    assert window.windowTitle().startswith("Untitled (recovered) *") and not window.notice.isVisible()
    np.testing.assert_allclose(window.vertices, window.session.decode(s.z_id.copy(), s.z_exp.copy())[0], atol=1e-4)
    artifact(window, "recovered")
    qtbot.waitUntil(lambda: window.autosaver.up_to_date)
    assert window.autosaver.slot.path == path and path.is_file()  # carries on in the same files
    window.doc.dirty = False
    window.close()  # a clean close removes them
    assert not path.exists() and not list(autosaves.iterdir())


def orphan(folder, model, source=None) -> AutosaveSlot:
    """The files a crashed window leaves: written, then its lock dropped."""
    slot = AutosaveSlot(folder)
    state = State.zeros(64, 64, 52).replace(z_id=np.full(64, 0.25), identity=Track().with_key(0.5, np.ones(64)))
    slot.write(Project(str(model), state, {}), source)
    slot.release()
    return slot


def test_discard_deletes_the_autosave(make_window, default_model, autosaves, tmp_path):
    slot = orphan(autosaves, default_model, tmp_path / "face.ffproj")
    window = make_window()
    assert "'face.ffproj'" in window.notice.text.text()
    window.notice.buttons["Discard"].click()
    assert not slot.path.exists() and not list(autosaves.iterdir()) and not window.notice.isVisible()
    assert not window.doc.dirty and window.session is None
    assert "Discarded" in window.statusBar().currentMessage()


def test_later_keeps_it_for_the_next_start(make_window, default_model, autosaves):
    slot = orphan(autosaves, default_model)
    first = make_window()
    assert make_window().notice.isHidden()  # claimed by the first window: offered once
    first.notice.close_button.click()  # not now
    assert slot.path.is_file()
    again = make_window()
    assert again.notice.isVisible()
    again.notice.buttons["Discard"].click()


def test_damaged_autosave_says_so_and_starts_clean(make_window, autosaves, artifact):
    (autosaves / "4242-0badf00d.ffproj").write_bytes(b"\x00\xff half a file")
    window = make_window()
    text = window.notice.text.text()
    assert window.notice.isVisible() and "cannot be read" in text and "not a FaceForge project" in text
    assert "starts with a new document" in text and list(window.notice.buttons) == ["OK"]
    assert not list(autosaves.iterdir())  # deleted
    assert not window.doc.dirty and not window.doc.recovered and window.session is None
    artifact(window, "recovery_damaged")
    window.notice.buttons["OK"].click()
    assert window.notice.isHidden()


def test_windows_keep_separate_autosaves(make_window, default_model, autosaves, qtbot):
    a, b = make_window(default_model), make_window(default_model)
    a.identity.axes.sliders["axis0"].setValue(1.0)
    a.timeline.add_key("identity")  # important: written at once
    b.expression.preset.setCurrentText("smile")
    b.timeline.add_key("expression")
    qtbot.waitUntil(lambda: a.autosaver.up_to_date and b.autosaver.up_to_date, timeout=10_000)
    assert a.autosaver.slot.path != b.autosaver.slot.path
    assert a.autosaver.slot.path.is_file() and b.autosaver.slot.path.is_file()
    assert make_window().notice.isHidden()  # live windows' autosaves are not offered
    from faceforge.core.document import open_project

    assert open_project(a.autosaver.slot.path).state.identity.times == [0.0]
    assert open_project(b.autosaver.slot.path).state.preset == "smile"
    answer_close(a, "Discard")  # the usual "save changes?" question, then a clean close
    assert not a.autosaver.slot.path.exists() and b.autosaver.slot.path.is_file()
    b.doc.dirty = False
    b.close()


def test_saving_clears_the_autosave(make_window, default_model, autosaves, qtbot, tmp_path):
    from faceforge.app import files

    window = make_window(default_model)
    window.timeline.add_key("identity")
    qtbot.waitUntil(lambda: window.autosaver.up_to_date)
    assert window.autosaver.slot.path.is_file()
    assert files.save_as(window, tmp_path / "face.ffproj")
    qtbot.waitUntil(lambda: not window.autosaver.writer.busy)
    assert not window.autosaver.slot.path.exists()


def answer_close(window, button: str) -> None:
    """Close `window` and answer its "save changes?" question with `button`."""
    asked = []

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        asked.append(box.text())
        box.button(getattr(QMessageBox.StandardButton, button)).click()

    QTimer.singleShot(0, click)
    assert window.close()
    assert asked and "Save the changes" in asked[0]
