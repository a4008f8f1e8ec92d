"""`faceforge` as a user starts it (gui.run): the shipped default model, a face, no dialog."""
import numpy as np


def test_first_launch_opens_the_default_model_with_a_face_and_no_dialog(qapp, settings, default_model,
                                                                        monkeypatch, artifact):
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from faceforge.app import gui
    from faceforge.app import settings as app_settings
    from faceforge.app.window import MainWindow

    monkeypatch.setattr(app_settings, "app_settings", lambda: settings)  # fresh settings: a first launch
    seen = {}

    def look() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or windows[0].vertices is None or windows[0].decoder.busy:
            return  # not up yet: the timer looks again
        window = windows[0]
        seen.update(folder=window.session.folder, status=window.status.text(), modal=qapp.activeModalWidget(),
                    points=window.viewport.mesh.n_vertices, vertices=window.vertices.copy(),
                    pixels=artifact(window, "first_launch"))
        timer.stop()
        window.doc.dirty = False
        window.close()
        qapp.quit()

    timer = QTimer(interval=100)
    timer.timeout.connect(look)
    timer.start()
    QTimer.singleShot(60_000, qapp.quit)  # a launch that never shows a face fails below, not hangs
    assert gui.run() == 0
    assert seen, "no face within 60 s"
    assert seen["folder"] == default_model and seen["modal"] is None
    assert seen["points"] == 3260 and "3260 vertices" in seen["status"] and "decode" in seen["status"]
    assert np.isfinite(seen["vertices"]).all() and np.ptp(seen["vertices"], axis=0).min() > 50  # a head, mm
