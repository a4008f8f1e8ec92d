"""Stored-states panel: keep named faces in the project, bring back their identity or
expression, and compare one with the current face.

Every change goes through `Document.edit` with `core.document.snapshots`, so storing,
renaming (double-click a name), deleting and taking are undo steps and saved with the project.
"Compare" shows the selected state and the current face side by side or overlaid, the current
face coloured by its distance (mm) from the state. Both are decoded in a `LatestWins` worker
(snapshotted on the GUI thread, stale requests dropped); `ready` hands the `View` to the window.
"""
from __future__ import annotations

import numpy as np
import qtawesome as qta
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QGridLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget
from superqt.utils import signals_blocked

from faceforge.core.document import Document
from faceforge.core.document.snapshots import Snapshot, capture, renamed, take, unique_name

from ..workers import LatestWins
from .compare import CompareControls, View


class StatesPanel(QWidget):
    """See the module docstring. `ready` carries the `View` to show (None: the face again);
    `failed` an exception a comparison decode raised."""

    ready = Signal(object)
    failed = Signal(object)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.session = doc, None
        self.comparer = LatestWins(self._on_compared, self.failed.emit)
        self.list = QListWidget()
        self.list.itemChanged.connect(self._on_renamed)
        self.list.currentRowChanged.connect(lambda *_: self._on_selection())
        self.list.itemDoubleClicked.connect(self.list.editItem)
        self.store_button = _button("mdi6.camera-plus-outline", "Store current", self.store)
        self.delete_button = _button("mdi6.delete-outline", "Delete", self.delete)
        self.apply_button = _button("mdi6.account-arrow-left", "Apply", lambda: self.take("both"))
        self.exp_button = _button("mdi6.emoticon-outline", "Take expression", lambda: self.take("expression"))
        self.id_button = _button("mdi6.account-switch", "Take identity", lambda: self.take("identity"))
        self.compare = CompareControls("Compare with current")
        self.compare.changed.connect(self.refresh)
        buttons = QGridLayout()
        for i, b in enumerate((self.store_button, self.delete_button, self.apply_button, self.exp_button,
                               self.id_button)):
            buttons.addWidget(b, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.compare)
        doc.events.connect(self._on_change)
        self.set_session(None)

    def set_session(self, session) -> None:
        """States can be stored while a model (`Session`, decoding comparisons) is open; the list
        itself is the document's."""
        self.session = session
        self.store_button.setEnabled(session is not None)
        self._fill()

    @property
    def selected(self) -> int | None:
        row = self.list.currentRow()
        return row if 0 <= row < len(self.doc.state.snapshots) else None

    def store(self) -> None:
        """Keep the current face as a new state (named "State N") and select it."""
        snaps = self.doc.state.snapshots
        name = unique_name(snaps)
        self.doc.edit(f"Store {name}", snapshots=snaps + (capture(self.doc.state, name),))
        self.list.setCurrentRow(len(snaps))

    def delete(self) -> None:
        """Forget the selected state."""
        i, snaps = self.selected, self.doc.state.snapshots
        if i is not None:
            self.doc.edit(f"Delete {snaps[i].name}", snapshots=snaps[:i] + snaps[i + 1:])

    def take(self, part: str) -> None:
        """Copy `part` ("both", "identity", "expression") of the selected state onto the face."""
        if self.selected is None:
            return
        snap = self.doc.state.snapshots[self.selected]
        verb = {"both": "Apply", "identity": "Identity from", "expression": "Expression from"}[part]
        self.compare.set_on(False)
        self.doc.edit(f"{verb} {snap.name}", **take(snap, part))

    @property
    def comparing(self) -> bool:
        """"Compare" is on with a state selected and a model open."""
        return self.compare.on and self.selected is not None and self.session is not None

    def refresh(self) -> None:
        """Decode the selected state and the current face in the worker (then `ready` emits the
        `View`), or emit None at once when not comparing."""
        if not self.comparing:
            self.ready.emit(None)
            return
        snap, s = self.doc.state.snapshots[self.selected], self.doc.state
        self.comparer.submit(_compare, self.session, snap, s.z_id, s.z_exp, self.compare.layout_name)

    def _on_compared(self, view: View) -> None:
        if self.comparing:  # not switched off while it was decoded
            self.ready.emit(view)

    def _on_renamed(self, item: QListWidgetItem) -> None:
        i, snaps = self.list.row(item), self.doc.state.snapshots
        if i >= len(snaps) or item.text() == snaps[i].name:
            return
        try:
            self.doc.edit(f"Rename {snaps[i].name}", snapshots=renamed(snaps, i, item.text()))
        except ValueError as exc:
            self._fill()  # back to the old name
            self.window().statusBar().showMessage(str(exc), 8000)

    def _on_change(self, fields: set[str]) -> None:
        if "snapshots" in fields:
            self._fill()
        if fields & {"z_id", "z_exp", "snapshots"} and self.comparing:
            self.refresh()  # the comparison follows the face

    def _on_selection(self) -> None:
        self._update_buttons()
        if self.comparing:
            self.refresh()

    def _fill(self) -> None:
        row = self.list.currentRow()
        with signals_blocked(self.list):
            self.list.clear()
            for snap in self.doc.state.snapshots:
                item = QListWidgetItem(qta.icon("mdi6.face-man-outline"), snap.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.list.addItem(item)
            self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        if self.selected is None:
            self.compare.set_on(False, notify=self.compare.on)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected is not None
        for b in (self.delete_button, self.apply_button, self.exp_button, self.id_button, self.compare):
            b.setEnabled(chosen)


def _compare(session, snap: Snapshot, z_id: np.ndarray, z_exp: np.ndarray, layout: str) -> View:
    """(runs in the worker) The stored face and the current one, (N, 3) mm each, the current one
    coloured by its per-vertex distance (N,) mm from the stored one."""
    stored, current = session.decode(snap.z_id, snap.z_exp)[0], session.decode(z_id, z_exp)[0]
    return View([stored, current], [snap.name, "current"], np.linalg.norm(current - stored, axis=1), layout)


def _button(icon: str, text: str, slot) -> QPushButton:
    button = QPushButton(qta.icon(icon), text)
    button.clicked.connect(slot)
    return button
