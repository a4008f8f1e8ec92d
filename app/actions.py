"""Menus, toolbar actions, keyboard shortcuts and icons of the main window.

Every main action sits in a menu with its shortcut (Help ▸ Keyboard Shortcuts lists them);
actions that need a model are disabled without one.
"""
from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from qtpy.QtGui import QAction, QActionGroup, QKeySequence

from . import files
from .settings import RECENT, clear_recent, recent

PRESETS = (("Front", "front", "1"), ("Side", "side", "2"), ("Three-quarter", "three_quarter", "3"))
HEATMAPS = (("None", "none", "Shift+H"), ("Distance from Neutral", "neutral", "H"))  # menu text, mode, key
Key = QKeySequence.StandardKey


def _action(window, menu, text: str, slot, shortcut=None, icon: str | None = None, name: str = "",
            needs_model: bool = False) -> QAction:
    action = QAction(text, window)  # (QAction(None, text, window) would drop the parent: no icon, no action)
    if icon:
        action.setIcon(qta.icon(icon))
    action.setObjectName(name or text)
    if shortcut is not None:
        action.setShortcuts(QKeySequence.keyBindings(shortcut) if isinstance(shortcut, Key) else
                            [QKeySequence(shortcut)])
    action.triggered.connect(lambda *_: slot())
    menu.addAction(action)
    if needs_model:
        window.model_actions.append(action)
    return action


def build(w) -> None:
    """Create the menus (File, Edit, View, Timeline, Model, Help) and keep the history actions on `w`."""
    w.model_actions = []
    _file_menu(w)
    m = w.menuBar().addMenu("&Edit")
    w.undo_action = _action(w, m, "&Undo", w.doc.undo, Key.Undo, "mdi6.undo", "undo")
    w.redo_action = _action(w, m, "&Redo", w.doc.redo, Key.Redo, "mdi6.redo", "redo")
    for action in (w.undo_action, w.redo_action):
        action.setIconText(action.iconText())  # fixed: the text names the step (see update_history)
    m.addSeparator()
    _action(w, m, "Ra&ndom Identity", w.identity.randomize, "Ctrl+R", "mdi6.dice-5", needs_model=True)
    _action(w, m, "Reset &Identity", w.identity.reset, "Ctrl+Shift+R", "mdi6.restore", needs_model=True)
    _action(w, m, "&Project to Plausible", w.identity.project, "Ctrl+L", "mdi6.target", needs_model=True)
    _action(w, m, "Neutral &Expression", w.expression.neutral, "Ctrl+Shift+N", "mdi6.emoticon-neutral-outline",
            needs_model=True)
    m = w.menuBar().addMenu("&View")
    for text, preset, key in PRESETS:
        _action(w, m, f"{text} View", lambda p=preset: w.viewport.camera_preset(p), key)
    _action(w, m, "&Reset View", w.viewport.reset_view, "R", "mdi6.fit-to-screen")
    wire = _action(w, m, "&Wireframe", lambda: w.viewport.set_wireframe(wire.isChecked()), "W", "mdi6.grid")
    wire.setCheckable(True)
    _heatmap_actions(w, m)
    _timeline_menu(w)
    m = w.menuBar().addMenu("&Model")
    _action(w, m, "&Open Model…", lambda: files.ask_open_model(w), "Ctrl+M", "mdi6.head-outline")
    _action(w, m, "&Train…", w.show_train_dialog, "Ctrl+T", "mdi6.school-outline")
    m = w.menuBar().addMenu("&Help")
    _action(w, m, "&Keyboard Shortcuts…", lambda: show_shortcuts(w), "F1", "mdi6.keyboard-outline")
    w.session_changed.connect(lambda: update_model_actions(w))
    update_history(w)


def _file_menu(w) -> None:
    m = w.menuBar().addMenu("&File")
    _action(w, m, "&New Project", lambda: files.new_project(w), Key.New, "mdi6.file-outline")
    _action(w, m, "&Open Project…", lambda: files.ask_open_project(w), Key.Open, "mdi6.folder-open-outline")
    w.recent_menu = m.addMenu(qta.icon("mdi6.history"), "Open &Recent")
    w.recent_menu.aboutToShow.connect(lambda: fill_recent(w))
    _action(w, m, "&Save Project", lambda: files.save(w), Key.Save, "mdi6.content-save")
    _action(w, m, "Save Project &As…", lambda: files.ask_save_as(w), "Ctrl+Shift+S")
    m.addSeparator()
    _action(w, m, "Open Mes&h…", lambda: files.ask_open_mesh(w), "Ctrl+Shift+O", "mdi6.file-import-outline")
    _action(w, m, "Load Sc&an…", w.scan.ask_load, "Ctrl+Shift+L", "mdi6.face-recognition", needs_model=True)
    m.addSeparator()
    _action(w, m, "&Export…", lambda: files.ask_export(w), "Ctrl+E", "mdi6.export", needs_model=True)
    _action(w, m, "Export Face as &OBJ…", lambda: files.ask_export_obj(w), "Ctrl+Alt+E", needs_model=True)
    _action(w, m, "Export Timeline as OBJ &Sequence…", lambda: files.ask_export_sequence(w), "Ctrl+Shift+E",
            needs_model=True)
    _action(w, m, "Save S&creenshot…", lambda: _ask_screenshot(w), "Ctrl+P", "mdi6.camera")
    m.addSeparator()
    _action(w, m, "&Quit", w.close, "Ctrl+Q")


def _heatmap_actions(w, m) -> None:
    """View ▸ Heat Map choices, one checked (named "heatmap_<mode>")."""
    m.addSeparator()
    group = QActionGroup(w)  # exclusive
    for text, mode, key in HEATMAPS:
        action = _action(w, m, f"Heat Map: {text}", lambda k=mode: w.set_heatmap(k), key, name=f"heatmap_{mode}")
        action.setCheckable(True)
        action.setChecked(mode == w.heatmap)
        group.addAction(action)


def _timeline_menu(w) -> None:
    m = w.menuBar().addMenu("&Timeline")
    t = w.timeline
    _action(w, m, "&Play / Pause", t.toggle_play, "Space", "mdi6.play-pause", needs_model=True)
    _action(w, m, "Pre&vious Frame", lambda: t.step(-1), ",", "mdi6.skip-previous", needs_model=True)
    _action(w, m, "&Next Frame", lambda: t.step(1), ".", "mdi6.skip-next", needs_model=True)
    _action(w, m, "Go to &Start", lambda: t.set_time(0.0), "Home", "mdi6.skip-backward", needs_model=True)
    m.addSeparator()
    _action(w, m, "Key &Identity", lambda: t.add_key("identity"), "K", "mdi6.key-plus", needs_model=True)
    _action(w, m, "Key &Expression", lambda: t.add_key("expression"), "Shift+K", "mdi6.key-plus",
            needs_model=True)
    _action(w, m, "&Delete Keys at Playhead", t.delete_keys, "Shift+Del", "mdi6.delete-outline", needs_model=True)


def fill_recent(w) -> None:
    """Rebuild File ▸ Open Recent: projects, models, meshes, most recent first, then "Clear List"."""
    menu = w.recent_menu
    menu.clear()
    for key, title in RECENT.items():
        paths = recent(w.settings, key)
        if paths:
            menu.addSection(title)
        for path in paths:
            p = Path(path)
            missing = "" if p.exists() else "  (missing)"
            action = menu.addAction(f"{p.name}  —  {p.parent}{missing}")
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(lambda *_, k=key, f=path: files.open_recent(w, k, f))
    if menu.isEmpty():
        menu.addAction("No recent files").setEnabled(False)
    menu.addSeparator()
    menu.addAction(qta.icon("mdi6.playlist-remove"), "Clear List", lambda: clear_recent(w.settings))


def show_shortcuts(w):
    """Help ▸ Keyboard Shortcuts (non-modal); returns the dialog."""
    from .dialogs.shortcuts import ShortcutsDialog

    dialog = ShortcutsDialog(w.menuBar(), w)
    dialog.show()
    return dialog


def update_model_actions(w) -> None:
    """Enable the actions that need a model only while one is loaded."""
    for action in w.model_actions:
        action.setEnabled(w.session is not None)


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
        files.save_screenshot(w, path)
