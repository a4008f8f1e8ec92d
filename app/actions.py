"""Menus, toolbar actions, keyboard shortcuts and icons of the main window."""
from __future__ import annotations

import qtawesome as qta
from qtpy.QtGui import QAction, QKeySequence

from . import files

PRESETS = (("Front", "front", "1"), ("Side", "side", "2"), ("Three-quarter", "three_quarter", "3"))


def _action(window, menu, text: str, slot, shortcut=None, icon: str | None = None, name: str = "") -> QAction:
    action = QAction(qta.icon(icon) if icon else None, text, window)
    action.setObjectName(name or text)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda *_: slot())
    menu.addAction(action)
    return action


def build(w) -> None:
    """Create the menus (File, Edit, View, Model) and keep the history actions on `w`."""
    m = w.menuBar().addMenu("&File")
    _action(w, m, "&New Project", lambda: files.new_project(w), QKeySequence.StandardKey.New, "mdi6.file-outline")
    _action(w, m, "&Open Project…", lambda: files.ask_open_project(w), QKeySequence.StandardKey.Open,
            "mdi6.folder-open-outline")
    _action(w, m, "&Save Project", lambda: files.save(w), QKeySequence.StandardKey.Save, "mdi6.content-save")
    _action(w, m, "Save Project &As…", lambda: files.ask_save_as(w), QKeySequence.StandardKey.SaveAs)
    m.addSeparator()
    _action(w, m, "Open Mes&h…", lambda: files.ask_open_mesh(w), "Ctrl+Shift+O", "mdi6.file-import-outline")
    m.addSeparator()
    _action(w, m, "&Export…", lambda: files.ask_export(w), "Ctrl+E", "mdi6.export")
    _action(w, m, "Export Face as &OBJ…", lambda: files.ask_export_obj(w))
    _action(w, m, "Export Timeline as OBJ &Sequence…", lambda: files.ask_export_sequence(w), "Ctrl+Shift+E")
    _action(w, m, "Save &Screenshot…", lambda: _ask_screenshot(w), "Ctrl+P", "mdi6.camera")
    m.addSeparator()
    _action(w, m, "&Quit", w.close, QKeySequence.StandardKey.Quit)
    m = w.menuBar().addMenu("&Edit")
    w.undo_action = _action(w, m, "&Undo", w.doc.undo, QKeySequence.StandardKey.Undo, "mdi6.undo", "undo")
    w.redo_action = _action(w, m, "&Redo", w.doc.redo, QKeySequence.StandardKey.Redo, "mdi6.redo", "redo")
    m = w.menuBar().addMenu("&View")
    for text, preset, key in PRESETS:
        _action(w, m, f"{text} View", lambda p=preset: w.viewport.camera_preset(p), key)
    _action(w, m, "&Reset View", w.viewport.reset_view, "R", "mdi6.fit-to-screen")
    wire = _action(w, m, "&Wireframe", lambda: w.viewport.set_wireframe(wire.isChecked()), "W", "mdi6.grid")
    wire.setCheckable(True)
    m = w.menuBar().addMenu("&Model")
    _action(w, m, "&Open Model…", lambda: files.ask_open_model(w), "Ctrl+M", "mdi6.head-outline")
    _action(w, m, "&Train…", w.show_train_dialog, "Ctrl+T", "mdi6.school-outline")
    update_history(w)


def update_history(w) -> None:
    """Enable undo/redo and name the step each would act on."""
    for action, label, verb in ((w.undo_action, w.doc.history.undo_label, "Undo"),
                                (w.redo_action, w.doc.history.redo_label, "Redo")):
        action.setEnabled(label is not None)
        action.setText(f"&{verb} {label}" if label else f"&{verb}")


def _ask_screenshot(w) -> None:
    from qtpy.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(w, "Save screenshot", "face.png", "PNG image (*.png)")
    if path:
        w.viewport.save_screenshot(path)
