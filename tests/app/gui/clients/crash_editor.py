"""Edit in a real editor window until the autosave timer has written it, then die (SIGKILL).

    python crash_editor.py MODEL_FOLDER SETTINGS_INI

Prints one JSON line before dying: {"autosave": path, "title": ..., "state": codes and keys}.
Display, cache folder and settings come from the caller (the GUI tests' Xvfb and cache).
"""
import json
import os
import signal
import sys


def main(model: str, settings_path: str) -> None:
    from qtpy.QtCore import QDeadlineTimer, QSettings
    from qtpy.QtWidgets import QApplication

    from faceforge.app.window import MainWindow

    app = QApplication(["crash-editor"])
    window = MainWindow(QSettings(settings_path, QSettings.Format.IniFormat))
    window.show()

    def wait(condition, what: str, msecs: int = 60_000) -> None:
        deadline = QDeadlineTimer(msecs)
        while not condition():
            if deadline.hasExpired():
                sys.exit(f"timed out waiting for {what}")
            app.processEvents()

    window.open_model(model)
    wait(lambda: window.session is not None and window.vertices is not None, "the model")
    window.identity.axes.sliders["axis0"].setValue(1.5)
    window.timeline.add_key("identity")
    window.expression.preset.setCurrentText("smile")
    window.timeline.add_key("expression")
    window.timeline.set_time(1.0)
    window.identity.axes.sliders["axis1"].setValue(-2.0)
    window.timeline.add_key("identity")
    window.identity.axes.sliders["axis2"].setValue(0.75)  # not an "important" edit: the timer writes it
    wait(lambda: window.autosaver.up_to_date, "the autosave")
    s = window.doc.state
    state = {"z_id": s.z_id.tolist(), "z_exp": s.z_exp.tolist(), "arkit": s.arkit.tolist(), "preset": s.preset,
             **{name: [(k.time, k.code.tolist()) for k in getattr(s, name).keys]
                for name in ("identity", "expression")}}
    print(json.dumps({"autosave": str(window.autosaver.slot.path), "title": window.windowTitle(),
                      "state": state}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(*sys.argv[1:])
