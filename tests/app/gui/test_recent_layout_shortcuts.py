"""File ▸ Open Recent, the window layout in every new window, keyboard shortcuts and Help ▸ Keyboard
Shortcuts, with real windows and the shipped default model."""
from pathlib import Path

import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtGui import QAction, QShortcut
from qtpy.QtWidgets import QDialog, QDockWidget

from faceforge.app import files
from faceforge.app.dialogs.shortcuts import shortcut_rows
from faceforge.app.settings import recent

ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"


def recent_entries(window) -> list[tuple[str, str]]:
    """(text, path or None) of File ▸ Open Recent as it would show now (sections have no path)."""
    window.recent_menu.aboutToShow.emit()
    return [(a.text(), a.data()) for a in window.recent_menu.actions()]


def test_open_recent_lists_projects_models_and_meshes(make_window, default_model, tmp_path, qtbot, wait_frame):
    window = make_window(default_model)
    projects = [tmp_path / f"face{i:02d}.ffproj" for i in range(12)]
    for path in projects:
        assert files.save_as(window, path)
    files.export_obj(window, tmp_path / "face.obj")
    qtbot.waitUntil(lambda: "wrote" in window.statusBar().currentMessage(), timeout=30_000)
    files.open_mesh(window, tmp_path / "face.obj")
    qtbot.waitUntil(lambda: recent(window.settings, "recent/meshes") != [], timeout=30_000)
    texts = [t for t, _ in recent_entries(window)]
    tips = [tip for _, tip in recent_entries(window) if tip]
    assert tips == [str(p.resolve()) for p in projects[::-1][:10]] + [str(default_model.resolve()),
                                                                       str((tmp_path / "face.obj").resolve())]
    assert texts[0] == "Projects" and "Models" in texts and "Meshes" in texts and texts[-1] == "Clear List"
    window.recent_menu.popup(window.mapToGlobal(QPoint(40, 40)))
    qtbot.waitExposed(window.recent_menu)
    ARTIFACTS.mkdir(exist_ok=True)
    window.recent_menu.grab().save(str(ARTIFACTS / "open_recent_menu.png"))
    window.recent_menu.hide()
    entry = next(a for a in window.recent_menu.actions() if a.data() == str(projects[5].resolve()))
    window.doc.dirty = False
    entry.trigger()
    wait_frame(window)
    assert window.doc.path == projects[5].resolve() and recent(window.settings, "recent/projects")[0] == entry.data()


def test_a_vanished_file_is_removed_with_a_message(make_window, default_model, tmp_path):
    window = make_window(default_model)
    gone, kept = tmp_path / "gone.ffproj", tmp_path / "kept.ffproj"
    for path in (gone, kept):
        assert files.save_as(window, path)
    gone.unlink()
    entries = recent_entries(window)
    entry_text = next(t for t, tip in entries if tip == str(gone.resolve()))
    assert entry_text.endswith("(missing)")
    action = next(a for a in window.recent_menu.actions() if a.data() == str(gone.resolve()))
    action.trigger()
    assert window.error_box.isVisible() and "no longer exists" in window.error_box.text()
    assert recent(window.settings, "recent/projects") == [str(kept.resolve())]
    assert window.doc.path == kept  # nothing else changed
    window.error_box.close()


def test_clear_list(make_window, default_model, tmp_path):
    window = make_window(default_model)
    files.save_as(window, tmp_path / "a.ffproj")
    recent_entries(window)
    next(a for a in window.recent_menu.actions() if a.text() == "Clear List").trigger()
    assert all(recent(window.settings, key) == [] for key in ("recent/projects", "recent/models", "recent/meshes"))
    texts = [t for t, _ in recent_entries(window)]
    assert "No recent files" in texts
    assert not next(a for a in window.recent_menu.actions() if a.text() == "No recent files").isEnabled()


def test_layout_comes_back_in_any_new_window(make_window, qtbot):
    window = make_window()
    window.resize(1100, 720)
    identity = window.findChild(QDockWidget, "IdentityDock")
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, identity)
    window.findChild(QDockWidget, "TimelineDock").hide()
    qtbot.wait(200)  # let the layout settle (the docks' minimum widths may widen the window)
    size = (window.width(), window.height())
    assert size != (1280, 800)  # not the default
    window.close()  # saves the layout
    again = make_window()  # constructed like `faceforge gui`, the bench and the tests do
    assert (again.width(), again.height()) == size
    assert again.dockWidgetArea(again.findChild(QDockWidget, "IdentityDock")) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert again.findChild(QDockWidget, "TimelineDock").isHidden()
    assert not again.findChild(QDockWidget, "ExpressionDock").isHidden()


def menu_actions(window) -> list[QAction]:
    return [a for top in window.menuBar().actions() for a in top.menu().actions()
            if not a.isSeparator() and a.menu() is None]


def test_every_menu_action_has_its_own_shortcut(make_window, qtbot):
    window = make_window()
    actions = menu_actions(window)
    assert len(actions) >= 30
    assert [a.text() for a in actions if not a.shortcuts()] == []
    keys = [k.toString() for a in window.findChildren(QAction) for k in a.shortcuts()]
    keys += [s.key().toString() for s in window.findChildren(QShortcut)]
    assert sorted({k for k in keys if keys.count(k) > 1}) == []  # an ambiguous shortcut fires nothing
    rows = shortcut_rows(window.menuBar())
    assert len(rows) == len(actions) and ("File", "Save Project", "Ctrl+S") in rows
    assert ("Timeline", "Play / Pause", "Space") in rows and ("Help", "Keyboard Shortcuts", "F1") in rows
    assert any(r[:2] == ("Edit", "Undo") and r[2].startswith("Ctrl+Z") for r in rows)  # not "Undo Key …"
    for top in window.menuBar().actions()[:4]:  # File, Edit, View, Timeline as the user sees them
        menu = top.menu()
        menu.popup(window.mapToGlobal(QPoint(40, 40)))
        qtbot.waitExposed(menu)
        ARTIFACTS.mkdir(exist_ok=True)
        menu.grab().save(str(ARTIFACTS / f"menu_{top.text().strip('&').lower()}.png"))
        menu.hide()


def test_keys_reach_their_actions(make_window, default_model, qtbot, wait_frame, artifact):
    window = make_window(default_model)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert window.doc.state.identity.times == [0.0]
    qtbot.keyClick(window, Qt.Key.Key_Period)
    assert window.timeline.time == pytest.approx(1 / 24)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.state.expression.times == [pytest.approx(1 / 24)]
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.doc.state.expression.times == []
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.timeline.timer.isActive()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.timeline.timer.isActive()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.findChild(QDialog, "shortcutsDialog")
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    assert dialog.table.rowCount() == len(shortcut_rows(window.menuBar()))
    qtbot.waitExposed(dialog)
    ARTIFACTS.mkdir(exist_ok=True)
    dialog.grab().save(str(ARTIFACTS / "keyboard_shortcuts.png"))
    dialog.close()
    wait_frame(window)
