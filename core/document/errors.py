"""Typed errors of project files."""
from __future__ import annotations

from pathlib import Path

from ..errors import FaceForgeError


class ProjectError(FaceForgeError, ValueError):
    """A project file cannot be read or written, or does not fit the loaded model."""

    def __init__(self, path: str | Path, reason: str, original_error: Exception | None = None):
        self.path = Path(path)
        self.reason = reason
        self.original_error = original_error
        super().__init__(f"Cannot open project '{self.path}': {reason}")


class ProjectWriteError(ProjectError):
    """A project file could not be written (the previous file, if any, is untouched)."""

    def __init__(self, path: str | Path, reason: str, original_error: Exception | None = None):
        super().__init__(path, reason, original_error)
        self.args = (f"Cannot save project '{self.path}': {reason}",)
