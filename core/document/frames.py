"""The timeline as frames: their times, and one OBJ per frame written as a progress generator.

    seq = ObjSequence(decode, template, state, folder)
    written = drive(seq.run())        # or a worker; on cancel or error: seq.discard()
"""
from __future__ import annotations

import os
from collections.abc import Callable, Generator
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..mesh.template import Template
from .state import State

Decode = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(z_id (I,), z_exp (E,)) -> (N, 3) float32 vertices, mm."""


def frame_times(state: State) -> np.ndarray:
    """(F,) float64 s: one frame every 1/fps from 0 to `state.duration`, both ends included."""
    return np.arange(int(round(state.duration * state.fps)) + 1) / state.fps


class ObjSequence:
    """`<stem>_0000.obj` (+ .mtl, UVs) ... per timeline frame into `folder`, decoded from `state`."""

    def __init__(self, decode: Decode, template: Template, state: State, folder: str | Path,
                 stem: str = "frame") -> None:
        self.decode, self.template, self.state = decode, template, state
        self.folder, self.stem = Path(folder), stem
        self.written: list[Path] = []  # files written so far
        self._made: list[Path] = []  # folders this run created, deepest first

    def run(self) -> Generator[tuple[int, int], None, list[Path]]:
        """Yield (frames written, total) after each frame; return every file written.

        Raises `ExportError` when the folder cannot be created or written to.
        """
        from ..export import Rig, export

        self._make_folder()
        times = frame_times(self.state)
        yield 0, len(times)
        for i, t in enumerate(times):
            name = f"{self.stem}_{i:04d}"
            vertices = self.decode(*self.state.sample(float(t)))
            self.written += export(Rig(self.template, vertices, {}, name=name), self.folder / f"{name}.obj")
            yield i + 1, len(times)
        return list(self.written)

    def discard(self) -> None:
        """Remove the files written so far and the folders this run created (a cancelled run)."""
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written = []
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:  # not empty: something else was put there meanwhile
                break
        self._made = []

    def _make_folder(self) -> None:
        missing = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"the folder cannot be created ({exc.strerror or exc}); choose a folder "
                              "you can write to", self.folder, exc) from exc
        self._made = missing
        if not os.access(self.folder, os.W_OK):
            raise ExportError("the folder is not writable; choose a folder you can write to or "
                              "change its permissions", self.folder)
