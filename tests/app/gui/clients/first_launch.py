"""Start the editor as `faceforge` does (gui.run), wait for the first face, report, quit.

    python first_launch.py SCREENSHOT_PNG

Prints one JSON line: the model folder, status text, visible dialogs, vertex count and the
face's extent (mm); saves a screenshot. Display, cache and settings folder come from the caller.
"""
import json
import sys

import numpy as np


def main(screenshot: str) -> int:
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication, QDialog

    from faceforge.app import gui
    from faceforge.app.window import MainWindow

    app = QApplication(["faceforge"])

    def look() -> None:
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or windows[0].vertices is None or windows[0].decoder.busy:
            return  # not up yet: the timer looks again
        window = windows[0]
        window.screenshot(screenshot)
        print(json.dumps({"folder": str(window.session.folder), "status": window.status.text(),
                          "dialogs": [d.objectName() or type(d).__name__ for d in window.findChildren(QDialog)
                                      if d.isVisible()],
                          "vertices": window.viewport.mesh.n_vertices,
                          "extent": np.ptp(window.vertices, axis=0).tolist()}), flush=True)
        timer.stop()
        window.doc.dirty = False
        window.close()
        app.quit()

    timer = QTimer(interval=100)
    timer.timeout.connect(look)
    timer.start()
    QTimer.singleShot(120_000, app.quit)  # no face by then: no JSON line, the test fails
    return gui.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
