"""Timeline ▸ OBJ sequence with the shipped default model: progress dialog, cancel, errors."""
from pathlib import Path

import numpy as np
from qtpy.QtWidgets import QProgressBar, QProgressDialog, QPushButton

from faceforge.app import files

ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"


def animate(window, duration: float, fps: float) -> None:
    tl = window.timeline
    tl.duration.setValue(duration)
    tl.fps.setValue(fps)
    tl.add_key("identity")
    tl.set_time(duration)
    window.identity.axes.sliders["axis0"].setValue(2.0)
    tl.add_key("identity")


def progress_values(dialog) -> list[int]:
    """Every value the dialog's bar shows from now on (GUI-side: nothing can be missed)."""
    values = []
    dialog.findChild(QProgressBar).valueChanged.connect(values.append)
    return values


def test_progress_dialog_follows_the_export(make_window, default_model, tmp_path, qtbot):
    from faceforge.core.mesh.io import read_mesh

    window = make_window(default_model)
    animate(window, 1.0, 4)
    files.export_sequence(window, tmp_path / "seq")
    dialog = window.findChild(QProgressDialog, "sequenceProgress")
    assert dialog is not None and dialog.isModal() and dialog.labelText().startswith("Exporting")
    values = progress_values(dialog)
    qtbot.waitUntil(lambda: "wrote" in window.statusBar().currentMessage(), timeout=60_000)
    assert values == [0, 1, 2, 3, 4, 5]
    objs = sorted((tmp_path / "seq").glob("frame_*.obj"))
    assert len(objs) == 5 and "wrote 10 file(s)" in window.statusBar().currentMessage()
    state = window.doc.state
    middle = read_mesh(objs[2]).vertices
    np.testing.assert_allclose(middle, window.session.decode(*state.sample(0.5))[0], atol=1e-3)
    qtbot.waitUntil(lambda: window.findChild(QProgressDialog, "sequenceProgress") is None)


def test_cancel_removes_the_partial_output(make_window, default_model, tmp_path, qtbot):
    window = make_window(default_model)
    animate(window, 10.0, 60)  # 601 frames: still running when Cancel is pressed
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    worker = files.export_sequence(window, folder)
    dialog = window.findChild(QProgressDialog, "sequenceProgress")
    cancel = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel")
    aborted = []
    worker.aborted.connect(lambda: aborted.append(True))  # emitted only after Cancel: connected in time

    def on_value(value: int) -> None:
        if value == 3:
            qtbot.waitExposed(dialog)
            ARTIFACTS.mkdir(exist_ok=True)
            dialog.grab().save(str(ARTIFACTS / "sequence_progress.png"))
            cancel.click()

    values = progress_values(dialog)
    dialog.findChild(QProgressBar).valueChanged.connect(on_value)
    qtbot.waitUntil(lambda: "cancelled" in window.statusBar().currentMessage(), timeout=120_000)
    assert aborted and 3 <= values[-1] < 601
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_folder_that_cannot_be_written_shows_a_typed_error(make_window, default_model, tmp_path, qtbot):
    window = make_window(default_model)
    (tmp_path / "file").write_text("not a folder")
    files.export_sequence(window, tmp_path / "file" / "seq")
    qtbot.waitUntil(lambda: window.error_box is not None, timeout=30_000)
    assert "folder cannot be created" in window.error_box.text() and "choose a folder" in window.error_box.text()
    assert (tmp_path / "file").is_file() and not list(tmp_path.glob("**/*.obj"))
    qtbot.waitUntil(lambda: window.findChild(QProgressDialog, "sequenceProgress") is None)
    window.error_box.close()


def test_an_unexpected_error_shows_a_dialog_and_removes_the_files(make_window, default_model, tmp_path, qtbot,
                                                                  monkeypatch, wait_frame):
    window = make_window(default_model)
    animate(window, 1.0, 4)
    wait_frame(window)
    model, calls = window.session.model, []
    decode = model.decode

    def failing(z_id, z_exp):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("out of memory (simulated)")  # torch raises RuntimeErrors
        return decode(z_id, z_exp)

    monkeypatch.setattr(model, "decode", failing)
    files.export_sequence(window, tmp_path / "seq")
    qtbot.waitUntil(lambda: window.error_box is not None, timeout=30_000)
    text = window.error_box.text()
    assert "Unexpected RuntimeError" in text and "out of memory" in text
    assert "Traceback" in window.error_box.detailedText()
    assert not list((tmp_path / "seq").glob("*.obj")) and window.vertices is not None
