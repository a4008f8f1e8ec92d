"""Help ▸ Keyboard Shortcuts: a table of every menu action's shortcut, read from the menus."""
from __future__ import annotations

from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import QAbstractItemView, QDialog, QHeaderView, QMenuBar, QTableWidget, QTableWidgetItem, \
    QVBoxLayout, QWidget


def shortcut_rows(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) of every menu action with a shortcut, in menu order (the main
    shortcut first; platform alternatives with modifiers after it)."""
    rows = []
    for top in bar.actions():
        menu = top.menu()
        for action in menu.actions() if menu is not None else []:
            names = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
            keys = ", ".join(names[:1] + [n for n in names[1:] if "+" in n])  # not media keys ("Undo")
            if keys:
                rows.append((_plain(top.text()), action.iconText(), keys))
    return rows


class ShortcutsDialog(QDialog):
    """A non-modal list of the window's keyboard shortcuts."""

    def __init__(self, bar: QMenuBar, parent: QWidget | None = None):
        super().__init__(parent, objectName="shortcutsDialog", windowTitle="Keyboard Shortcuts")
        rows = shortcut_rows(bar)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnsToContents()
        QVBoxLayout(self).addWidget(self.table)
        self.resize(560, 640)


def _plain(text: str) -> str:
    """Menu text without its mnemonic ampersand."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")
