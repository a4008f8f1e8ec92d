"""Autosave and crash recovery of a main window (files and locks: `core.document.autosave`).

While the document has unsaved changes, `Autosaver` writes it every `autosave_interval`
seconds, and at once after important edits (keyframes, a model switch, a recovery) and when
the app loses focus. Writes run in a worker (`LatestWins`: they never pile up, and a later
"clear" replaces a pending write). A clean close removes the files; a crash leaves them, and
the next window offers them in its notice bar (`offer_recovery`).
"""
from __future__ import annotations

import time
from pathlib import Path

from qtpy.QtCore import QObject, Qt, QTimer
from qtpy.QtWidgets import QApplication

from faceforge.core.document import AutosaveSlot, Project, Recovery, recoverable
from faceforge.core.errors import FaceForgeError

from . import files
from .settings import autosave_interval
from .workers import LatestWins

IMPORTANT = {"identity", "expression", "model", "recovered"}
"""Document changes written at once rather than at the next tick."""
TOPIC = "recovery"  # of its notices in the window's notice bar


class Autosaver(QObject):
    """Keeps `window.doc` autosaved in its own slot; see the module docstring."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.slot = AutosaveSlot()
        self.offered: list[Recovery] = []  # autosaves of crashed sessions, claimed, newest first
        self._written = None  # (state, model path, file) of the last autosave
        self.writer = LatestWins(self._on_written, self._on_failed)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save)
        self.timer.start(round(autosave_interval(window.settings) * 1000))
        window.doc.events.connect(self._on_change)
        QApplication.instance().applicationStateChanged.connect(self._on_app_state)

    @property
    def up_to_date(self) -> bool:
        """The autosave holds the current document (or there is nothing unsaved to hold)."""
        doc = self.window.doc
        return not self.writer.busy and (not doc.dirty or self._written == (doc.state, doc.model_path, doc.path))

    def save(self) -> None:
        """Autosave now (in a worker) when the document has changes not saved nor autosaved."""
        doc, window = self.window.doc, self.window
        key = (doc.state, doc.model_path, doc.path)
        if not doc.dirty or window.session is None or key == self._written:
            return
        project = Project(doc.model_path, doc.state, window.viewport.view_state())
        self.writer.submit(_write, self.slot, project, doc.path, key)

    def close(self) -> None:
        """A clean close: stop, let a write in flight finish, delete the autosave."""
        self.timer.stop()
        self.writer.wait()
        self.slot.remove()
        self.later()

    def offer_recovery(self) -> None:
        """Look for autosaves of sessions that did not end cleanly and offer the newest one.

        A damaged one is deleted with a message; the editor keeps its new document.
        """
        found = recoverable()
        damaged = [r for r in found if r.project is None]
        self.offered = [r for r in found if r.project is not None]
        for r in damaged:
            r.slot.remove()
        if not damaged:
            self._offer_next()
            return
        reasons = "; ".join(r.error.reason for r in damaged)
        self.window.notice.show_notice(
            f"An autosave left by a FaceForge session that did not end cleanly cannot be read ({reasons}). "
            "It was deleted; the editor starts with a new document.", "warning",
            [("OK", self._offer_next)], on_close=self._offer_next, topic=TOPIC)

    def recover(self) -> None:
        """Open the offered autosave (asking about unsaved changes first); it stays marked modified."""
        r = self.offered[0]
        if not files.confirm_discard(self.window):
            return
        self.window.notice.dismiss(TOPIC)
        files.show_project(self.window, r.project, r.source, r.slot.path, then=lambda: self._recovered(r),
                           failed=self._offer_next)

    def discard(self) -> None:
        """Delete the offered autosave and offer the next one, if any."""
        r = self.offered.pop(0)
        r.slot.remove()
        self.window.statusBar().showMessage(f"Discarded the autosave of {_title(r)}", 6000)
        self._offer_next()

    def later(self) -> None:
        """Leave the offered autosaves for the next start."""
        for r in self.offered:
            r.slot.release()
        self.offered = []

    def _offer_next(self) -> None:
        if not self.offered:
            self.window.notice.dismiss(TOPIC)
            return
        r = self.offered[0]
        more = f" ({len(self.offered) - 1} more after this one)" if len(self.offered) > 1 else ""
        self.window.notice.show_notice(
            f"FaceForge did not close properly last time: {_title(r)} was autosaved at "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(r.saved))} and can be recovered.{more}",
            "warning", [("Recover", self.recover), ("Discard", self.discard)], on_close=self.later, topic=TOPIC)

    def _recovered(self, r: Recovery) -> None:
        self.offered.remove(r)
        self.writer.wait()
        self.slot.remove()
        self.slot, self._written = r.slot, None  # carry on in the recovered files: never a gap
        self.window.doc.mark_recovered()  # an important change: autosaved at once
        self.window.statusBar().showMessage(f"Recovered {_title(r)}; save it to keep it", 10000)
        self._offer_next()

    def _on_change(self, fields: set[str]) -> None:
        if "dirty" in fields and not self.window.doc.dirty:  # saved, or a new document
            self._written = None
            if self.slot.held:
                self.writer.submit(self.slot.clear)
        elif fields & IMPORTANT:
            self.save()

    def _on_app_state(self, state) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.save()

    def _on_written(self, key) -> None:
        if key is not None:
            self._written = key

    def _on_failed(self, exc: Exception) -> None:
        if not isinstance(exc, (FaceForgeError, OSError)):
            raise exc
        self.window.statusBar().showMessage(f"Autosave failed: {exc}", 10000)


def _write(slot: AutosaveSlot, project: Project, source: Path | None, key):
    slot.write(project, source)
    return key


def _title(r: Recovery) -> str:
    return f"'{r.source.name}'" if r.source is not None else "an untitled document"
