"""Autosave slots: each editor window keeps its unsaved document in its own files.

    <cache>/autosave/<pid>-<random>.ffproj   the document (project format, written atomically)
    <cache>/autosave/<pid>-<random>.json     {"source": the project file it came from, or null}
    <cache>/autosave/<pid>-<random>.lock     locked (OS file lock) while its owner runs

A session that ends cleanly removes its three files. When a process dies, the OS drops its
locks, so `recoverable` finds what it left behind; it takes those locks itself, so two editors
starting at once never offer (or delete) the same autosave, and a live window's files are
never touched by another window or process.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..cache import atomic_write_bytes, cache_dir
from .errors import ProjectError
from .project import SUFFIX, Project, open_project, save_project

FOLDER = "autosave"

if os.name == "nt":
    import msvcrt

    def _lock(f: IO[bytes]) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(f: IO[bytes]) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(f: IO[bytes]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(f: IO[bytes]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class AutosaveSlot:
    """The autosave files of one window; `claim` locks them for this process.

    Parameters
    ----------
    folder : where the files live (default: `cache_dir("autosave")`)
    name : the files' stem (default: a new unique one, "<pid>-<random>")
    """

    def __init__(self, folder: str | Path | None = None, name: str | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_dir(FOLDER)
        self.name = name or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_file: IO[bytes] | None = None

    @property
    def path(self) -> Path:
        """The autosaved project file."""
        return self.folder / f"{self.name}{SUFFIX}"

    @property
    def held(self) -> bool:
        """This process holds the slot's lock."""
        return self._lock_file is not None

    def claim(self) -> bool:
        """Take the slot's lock; False when another live window (or process) holds it."""
        if self._lock_file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            f = open(self.folder / f"{self.name}.lock", "a+b")
            try:
                _lock(f)
            except OSError:
                f.close()
                return False
            self._lock_file = f
        return True

    def write(self, project: Project, source: str | Path | None) -> None:
        """Autosave `project` (claiming the slot first); `source` is the file it was opened from.

        Raises `ProjectWriteError` when the cache folder cannot be written.
        """
        if not self.claim():
            raise ProjectError(self.path, "another FaceForge window holds this autosave")
        info = {"source": None if source is None else str(source), "pid": os.getpid()}
        atomic_write_bytes(self._info, json.dumps(info).encode("utf-8"))
        save_project(self.path, project)

    def source(self) -> Path | None:
        """The project file the autosaved document came from (None: untitled or unknown)."""
        try:
            value = json.loads(self._info.read_text(encoding="utf-8")).get("source")
        except (OSError, ValueError, AttributeError):
            return None
        return Path(value) if isinstance(value, str) else None

    def clear(self) -> None:
        """Delete the autosaved document (no unsaved changes any more); the lock is kept."""
        for path in (self.path, self._info, *self.folder.glob(f".{self.name}*.tmp")):
            path.unlink(missing_ok=True)

    def release(self) -> None:
        """Let go of the lock, keeping the files (they are offered at the next start)."""
        if self._lock_file is not None:
            _unlock(self._lock_file)
            self._lock_file.close()
            self._lock_file = None

    def remove(self) -> None:
        """Delete every file of the slot (a clean close, or a discarded recovery)."""
        self.clear()
        held = self.held
        self.release()
        if held:
            (self.folder / f"{self.name}.lock").unlink(missing_ok=True)

    @property
    def _info(self) -> Path:
        return self.folder / f"{self.name}.json"


@dataclass(frozen=True, eq=False)
class Recovery:
    """An autosave left by a session that did not end cleanly; its slot is claimed by us.

    project : the document, or None when the file is damaged (`error` says why)
    source : the project file the document came from (None: untitled)
    saved : when it was written, seconds since the epoch
    """

    slot: AutosaveSlot
    project: Project | None
    error: ProjectError | None
    source: Path | None
    saved: float


def recoverable(folder: str | Path | None = None) -> list[Recovery]:
    """Autosaves whose owner is gone, newest first, each claimed (locked) for the caller.

    Release (`slot.release()`) the ones not acted on, so the next start offers them again.
    """
    folder = Path(folder) if folder is not None else cache_dir(FOLDER)
    stems = {p.stem for p in folder.glob("*.lock")} | {p.name[:-len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")}
    found = []
    for stem in sorted(stems):
        slot = AutosaveSlot(folder, stem)
        if not slot.claim():
            continue  # a live window's autosave
        try:
            saved = slot.path.stat().st_mtime
        except FileNotFoundError:  # a crash before the first write, or removed meanwhile
            slot.remove()
            continue
        try:
            project, error = open_project(slot.path), None
        except ProjectError as exc:
            project, error = None, exc
        found.append(Recovery(slot, project, error, slot.source(), saved))
    return sorted(found, key=lambda r: r.saved, reverse=True)
