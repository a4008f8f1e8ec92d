"""File operations of the main window: projects, models, exports. Errors go to a dialog
and leave the document as it was."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QMessageBox, QProgressDialog
from superqt.utils import create_worker

from faceforge.core.document import (SUFFIX, ObjSequence, Project, ProjectError, check_sizes, open_project,
                                     save_project)
from faceforge.core.errors import FaceForgeError

from .settings import add_recent, remove_recent
from .workers import reported

PROJECT_FILTER = f"FaceForge project (*{SUFFIX})"


def confirm_discard(window) -> bool:
    """True when there are no unsaved changes or the user agrees to lose (or saves) them."""
    if not window.doc.dirty:
        return True
    answer = QMessageBox.question(
        window, "Unsaved changes", "Save the changes to this project first?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
    if answer == QMessageBox.StandardButton.Save:
        return save(window)
    return answer == QMessageBox.StandardButton.Discard


def new_project(window) -> None:
    """A fresh document on the current model."""
    if confirm_discard(window):
        window.set_session(window.session)


def ask_open_project(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open project", "", PROJECT_FILTER)
    if path and confirm_discard(window):
        load_project(window, path)


def load_project(window, path: str | Path) -> None:
    """Open a project: read and check it, load its model if it is another one, then show it."""
    path = Path(path)
    try:
        project = open_project(path)
    except ProjectError as exc:
        window.show_error("Cannot open project", exc)
        return
    show_project(window, project, path, path, then=lambda: add_recent(window.settings, "recent/projects", path))


def show_project(window, project: Project, path: Path | None, where: Path, then=None, failed=None) -> None:
    """Make `project` the document (file `path`), loading its model when it is another one.

    `where` is the file it was read from (named in errors); `then()` runs once it is shown,
    `failed()` after an error was shown.
    """
    def refuse(exc: ProjectError) -> None:
        window.show_error("Cannot open project", exc)
        if failed is not None:
            failed()

    def apply(session) -> None:
        try:
            check_sizes(project, where, session.model.id_dim, session.model.exp_dim, len(session.arkit_units))
        except ProjectError as exc:
            refuse(exc)
            return
        window.set_session(session, project.state, project.view, path)
        if then is not None:
            then()

    current = window.session
    if current is not None and project.model_path and Path(project.model_path) == current.folder.resolve():
        apply(current)
    elif project.model_path is None:
        refuse(ProjectError(where, "it names no model"))
    else:
        window.open_model(project.model_path, then=apply, failed=failed)


def open_recent(window, key: str, path: str) -> None:
    """Open an entry of File ▸ Open Recent (`key`: its list); one that vanished is dropped with a message."""
    if not Path(path).exists():
        remove_recent(window.settings, key, path)
        window.show_error("Cannot open recent file", FaceForgeError(
            f"'{path}' no longer exists (moved or deleted); it was removed from the recent files."))
    elif key == "recent/projects":
        if confirm_discard(window):
            load_project(window, path)
    elif key == "recent/models":
        window.open_model(path)
    else:
        open_mesh(window, Path(path))


def save(window) -> bool:
    """Save to the document's file (asking for one the first time); False when not saved."""
    return save_as(window, window.doc.path) if window.doc.path else ask_save_as(window)


def ask_save_as(window) -> bool:
    path, _ = QFileDialog.getSaveFileName(window, "Save project", "untitled" + SUFFIX, PROJECT_FILTER)
    return bool(path) and save_as(window, Path(path).with_suffix(SUFFIX))


def save_as(window, path: str | Path) -> bool:
    """Write the project to `path`; on failure show why and keep everything as it was."""
    doc = window.doc
    doc.set_view(window.viewport.view_state())
    try:
        save_project(path, Project(doc.model_path, doc.state, doc.view))
    except ProjectError as exc:
        window.show_error("Cannot save project", exc)
        return False
    doc.mark_saved(path)
    add_recent(window.settings, "recent/projects", path)
    window.statusBar().showMessage(f"Saved {path}", 4000)
    return True


def ask_open_model(window) -> None:
    """Pick a checkpoint folder; the switcher asks about unsaved work only if it would be reset."""
    folder = QFileDialog.getExistingDirectory(window, "Open model checkpoint folder")
    if folder:
        window.open_model(folder)


def ask_open_mesh(window) -> None:
    from .meshin import MESH_FILTER

    path, _ = QFileDialog.getOpenFileName(window, "Open mesh in the model's topology", "", MESH_FILTER)
    if path:
        open_mesh(window, Path(path))


def open_mesh(window, path: Path):
    """Encode a mesh file in a worker and show the comparison; errors leave the document as it was."""
    from .meshin import encode_file

    if window.session is None:
        window.show_error("Cannot open mesh", FaceForgeError("no model is loaded; open a model first "
                                                             "(Model ▸ Open Model…)"))
        return None

    def shown(comparison) -> None:
        add_recent(window.settings, "recent/meshes", path)
        window.show_comparison(comparison)

    def failed(exc: Exception) -> None:
        window.show_error("Cannot open mesh", exc)

    window.statusBar().showMessage(f"Encoding {path.name}…")
    return create_worker(encode_file, window.session, path, _connect={"returned": shown, "errored": failed})


def ask_export(window):
    """Open the Export dialog (FBX, glTF, OBJ rigs with the timeline); returns it."""
    from .dialogs.export import ExportDialog

    dialog = ExportDialog(window)
    dialog.open()
    return dialog


def ask_export_obj(window) -> None:
    path, _ = QFileDialog.getSaveFileName(window, "Export face as OBJ", "face.obj", "Wavefront OBJ (*.obj)")
    if path:
        export_obj(window, Path(path).with_suffix(".obj"))


def export_obj(window, path: Path):
    """Write the current face (decoded from the document's codes) as OBJ + MTL with UVs, in a worker."""
    s = window.doc.state
    return _run(window, "Export OBJ", _write_obj, window.session, s.z_id, s.z_exp, path)


def ask_export_sequence(window) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Export timeline as an OBJ sequence into folder")
    if folder:
        export_sequence(window, Path(folder))


def export_sequence(window, folder: Path):
    """Write one OBJ per timeline frame (`frame_0000.obj`, ...) into `folder` in a worker; returns it.

    A window-modal progress dialog follows it; Cancel stops it and removes the files written
    so far (and the folder if it created it). Errors go to the error dialog.
    """
    session = window.session
    seq = ObjSequence(lambda z_id, z_exp: session.decode(z_id, z_exp)[0], session.model.template,
                      window.doc.state, folder)
    dialog = QProgressDialog("Exporting the timeline as OBJ files…", "Cancel", 0, 1, window,
                             objectName="sequenceProgress", windowTitle="Export OBJ sequence")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoReset(False)  # the worker's end closes it

    def step(progress: tuple[int, int]) -> None:
        done, total = progress
        dialog.setMaximum(total)
        dialog.setValue(done)
        dialog.setLabelText(f"Writing frame {min(done + 1, total)} of {total} into {folder}…")

    def done(paths) -> None:
        window.statusBar().showMessage(f"Export OBJ sequence: wrote {len(paths)} file(s) to {folder}", 6000)

    def cancelled() -> None:
        count = len(seq.written)
        seq.discard()
        window.statusBar().showMessage(f"Export OBJ sequence cancelled; removed the {count} file(s) written", 6000)

    def failed(exc: Exception) -> None:
        seq.discard()
        window.show_error("Export OBJ sequence failed", exc)

    def finished() -> None:
        dialog.canceled.disconnect()
        dialog.hide()
        dialog.deleteLater()

    window.statusBar().showMessage("Export OBJ sequence…")
    worker = create_worker(reported, seq.run(), _connect={"yielded": step, "returned": done, "aborted": cancelled,
                                              "errored": failed, "finished": finished})
    dialog.canceled.connect(worker.quit)
    return worker


def save_screenshot(window, path: str | Path) -> bool:
    """Write the viewport's frame as PNG; an error box (nothing else changes) when it cannot."""
    try:
        window.viewport.save_screenshot(path)
    except OSError as exc:
        window.show_error("Cannot save screenshot", exc)
        return False
    return True


def _run(window, title: str, fn, *args):
    def done(paths) -> None:
        window.statusBar().showMessage(f"{title}: wrote {len(paths)} file(s) to {Path(paths[0]).parent}", 6000)

    def failed(exc: Exception) -> None:
        window.show_error(f"{title} failed", exc)

    window.statusBar().showMessage(f"{title}…")
    return create_worker(fn, *args, _connect={"returned": done, "errored": failed})


def _write_obj(session, z_id: np.ndarray, z_exp: np.ndarray, path: Path) -> list[Path]:
    from faceforge.core.export import Rig, export

    vertices, _ = session.decode(z_id, z_exp)
    return export(Rig(session.model.template, vertices, {}, name=path.stem), path)
