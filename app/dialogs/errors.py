"""Error reports: a window-modal message box that never blocks the event loop.

An expected error (FaceForgeError, OSError) shows its actionable message; anything else is a bug
and shows its type and message, with the traceback under "Show Details…" for a report.
"""
from __future__ import annotations

import traceback

from qtpy.QtWidgets import QMessageBox, QWidget

from faceforge.core.errors import FaceForgeError

from ..workers import JobError


def show_error(parent: QWidget, title: str, exc: BaseException) -> QMessageBox:
    """Show `exc` (its actionable message) in a message box and return the box."""
    if isinstance(exc, JobError) and exc.__cause__ is not None:
        exc = exc.__cause__  # the error the worker's job raised
    expected = isinstance(exc, (FaceForgeError, OSError))
    text = str(exc) if expected else (f"Unexpected {type(exc).__name__}: {exc}\n\nThis is a bug in FaceForge; "
                                      "the details below help to report it.")
    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if not expected:
        box.setDetailedText("".join(traceback.format_exception(exc)))
    elif exc.__cause__ is not None:
        box.setDetailedText(f"{type(exc.__cause__).__name__}: {exc.__cause__}")
    box.open()
    return box
