"""Error reports: a window-modal message box that never blocks the event loop."""
from __future__ import annotations

from qtpy.QtWidgets import QMessageBox, QWidget


def show_error(parent: QWidget, title: str, exc: BaseException) -> QMessageBox:
    """Show `exc` (its actionable message) in a message box and return the box."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, str(exc), QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if exc.__cause__ is not None:
        box.setDetailedText(f"{type(exc.__cause__).__name__}: {exc.__cause__}")
    box.open()
    return box
