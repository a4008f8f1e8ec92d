"""`faceforge gui`: start the editor with the default model, or the last one, or the empty state."""
from __future__ import annotations

from pathlib import Path


def run(project: Path | None = None, model: Path | None = None) -> int:
    """Open the main window and run the event loop; returns the exit code."""
    from importlib.resources import files

    from qtpy.QtGui import QIcon
    from qtpy.QtWidgets import QApplication

    from . import files as project_files
    from .settings import app_settings, startup_model
    from .window import MainWindow

    app = QApplication.instance() or QApplication(["faceforge"])
    app.setApplicationName("FaceForge")
    app.setWindowIcon(QIcon(str(files("faceforge.resources") / "icons" / "faceforge.svg")))
    settings = app_settings()
    window = MainWindow(settings)  # restores the saved layout itself
    if project is not None:
        project_files.load_project(window, project)
    else:
        folder = model or startup_model(settings)
        if folder is not None:
            window.open_model(folder)
    window.show()
    return app.exec()
