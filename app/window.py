"""The main window: viewport (or the empty state) in the centre, editing panels in docks.

Data flow: panel -> `Document.edit` -> `_on_change` -> `LatestWins` decode worker (`Session.decode_frame`,
with the View ▸ Heat Map chosen) -> `_on_decoded` (GUI thread) -> `Viewport.set_heatmap` and
`show_vertices` (scalars and points written in place) -> one render.

Comparisons: the loaded-mesh panel's `View` is ready at once; the states panel decodes its own in a
`LatestWins` worker and emits `ready`. Either way `_show_view` puts it on screen.

Models: `open_model` loads a checkpoint in a worker, then `switcher.switch_to` shows it,
carrying the document over (`switch_session`, undoable) or starting anew (`set_session`).
Loaded sessions are kept while the undo history may return to them (`_on_model`).
The layout (geometry, docks) is restored from the settings by the constructor, saved on close.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtCore import QSettings, Qt, Signal
from qtpy.QtGui import QAction
from qtpy.QtWidgets import QDockWidget, QLabel, QMainWindow, QStackedWidget, QVBoxLayout, QWidget
from superqt.utils import create_worker

from faceforge.core.document import Document, State

from . import actions, files, switcher
from .autosave import Autosaver
from .dialogs.errors import show_error
from .notice import NoticeBar
from .panels.expression import ExpressionPanel
from .panels.identity import IdentityPanel
from .panels.loaded import LoadedMeshPanel
from .panels.scan import ScanPanel
from .panels.states import StatesPanel
from .panels.timeline import TimelinePanel
from .session import HEATMAPS, Frame, Session, load_session
from .settings import add_recent, heatmap, restore_layout, save_layout
from .viewport import Viewport
from .workers import LatestWins

EMPTY_TEXT = ("<h2>No face model loaded</h2>"
              "<p>Open a trained model with <b>Model ▸ Open Model…</b> (Ctrl+M): its run folder's "
              "<code>checkpoint</code>.<br>To train one: <b>Model ▸ Train…</b>, or on the command line: "
              "<code>faceforge synth --out data</code> then "
              "<code>faceforge train --data data --out run</code>.</p>")
HEAT_TITLES = {"neutral": "from neutral (mm)"}  # colour-bar title per heat map
HEAT_MIN_TOP = 1.0  # mm: the colour scale reaches at least this far, so a near-neutral face reads as "unmoved"


class MainWindow(QMainWindow):
    """See the module docstring."""

    session_changed = Signal()
    frame_shown = Signal(float)  # decode time (ms) of the frame just rendered

    def __init__(self, settings: QSettings):
        super().__init__()
        self.settings = settings
        self.doc = Document(State.zeros(0, 0))
        self.session: Session | None = None
        self._sessions: dict[str, Session] = {}  # model folder -> session, for undo across a switch
        self._loads = 0  # open_model calls so far: only the latest one's result is shown
        self.vertices: np.ndarray | None = None  # the face on screen, (N, 3) mm
        self.heatmap = heatmap(settings)  # what the face is coloured by, one of `session.HEATMAPS`
        self._codes: tuple[np.ndarray, np.ndarray] | None = None  # (z_id, z_exp) last requested
        self.error_box = None
        self.train_dialog = None
        self.viewport = Viewport()
        self.empty = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, objectName="emptyState")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.viewport)
        self.notice = NoticeBar()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.notice)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.identity = IdentityPanel(self.doc)
        self.expression = ExpressionPanel(self.doc)
        self.timeline = TimelinePanel(self.doc)
        self.timeline.time_changed.connect(self._on_time)
        self.timeline.export_requested.connect(lambda: files.ask_export_sequence(self))
        self.loaded = LoadedMeshPanel(self.doc)
        self.states = StatesPanel(self.doc)
        self.loaded.compare.changed.connect(lambda: self._show_view(self.loaded, self.loaded.shown()))
        self.states.ready.connect(lambda view: self._show_view(self.states, view))
        self.states.failed.connect(lambda exc: self.show_error("Cannot compare with this state", exc))
        self._dock("Identity", self.identity, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Expression", self.expression, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Loaded Mesh", self.loaded, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("States", self.states, Qt.DockWidgetArea.RightDockWidgetArea)
        self.scan = ScanPanel(self)
        self._dock("Scan", self.scan, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)
        for name in ("ExpressionDock", "LoadedMeshDock", "StatesDock", "ScanDock"):
            self.tabifyDockWidget(self.findChild(QDockWidget, "IdentityDock"), self.findChild(QDockWidget, name))
        self.findChild(QDockWidget, "IdentityDock").raise_()
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status)
        self.decoder = LatestWins(self._on_decoded, self._on_decode_error)
        actions.build(self)
        self.doc.events.connect(self._on_model, first=True)  # the panels need the model of the state
        self.doc.events.connect(self._on_change)
        self.autosaver = Autosaver(self)
        self.set_session(None)
        self.resize(1280, 800)
        restore_layout(settings, self)
        self.autosaver.offer_recovery()

    def _dock(self, title: str, widget, area) -> None:
        dock = QDockWidget(title, self, objectName=f"{title.replace(' ', '')}Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)

    def open_model(self, folder: str | Path, then=None, failed=None) -> None:
        """Load a checkpoint folder in a worker; then show it (`switcher.switch_to`, or `then(session)`).

        On an error the error dialog shows it, then `failed()` runs. A later call supersedes a
        load still running (e.g. the start-up model when the user recovers or opens a project).
        """
        self.statusBar().showMessage(f"Loading model {folder}…")
        self._loads += 1
        ticket = self._loads

        def loaded(session: Session) -> None:
            if ticket != self._loads:
                return
            add_recent(self.settings, "recent/models", session.folder)
            (then or (lambda s: switcher.switch_to(self, s)))(session)

        def refused(exc: Exception) -> None:
            self.statusBar().clearMessage()
            self.error_box = show_error(self, "Cannot open model", exc)
            if failed is not None:
                failed()

        create_worker(load_session, folder, _connect={"returned": loaded, "errored": refused})

    def set_session(self, session: Session | None, state: State | None = None, view: dict | None = None,
                    path: Path | None = None) -> None:
        """Show a model (None: the empty state) with a new document holding `state` (default: mean
        face, neutral); the undo history starts over."""
        self._sessions.clear()
        self._use_session(session)
        folder = session.folder if session else None
        self.doc.replace_all(state or (session.new_state() if session else State.zeros(0, 0)), folder,
                             view or {}, path)
        if session is not None and view:
            self.viewport.set_view_state(view)
        self._update_status()
        self.session_changed.emit()

    def switch_session(self, session: Session, state: State, label: str) -> None:
        """Show another model with `state` (sized for it) as one undoable step of the document."""
        self._use_session(session)
        self.doc.switch_model(label, session.folder, state)
        self._update_status()
        self.session_changed.emit()

    def _use_session(self, session: Session | None) -> None:
        self.session = session
        self.stack.setCurrentWidget(self.viewport if session else self.empty)
        for panel in (self.identity, self.expression, self.timeline, self.states):
            panel.set_session(session)
        self.loaded.set_comparison(None)
        self.notice.dismiss(switcher.TOPIC)  # a switch notice is about the previous model
        if session is not None:
            self._sessions[str(session.folder)] = session
            self.vertices, self._codes = None, None
            self.viewport.set_topology(session.model.template.vertices, session.triangles)
            self.statusBar().clearMessage()

    def _on_model(self, fields: set[str]) -> None:
        folder = self.session and str(self.session.folder)
        if "model" in fields and self.doc.model_path != folder:  # undo/redo across a model switch
            self._use_session(self._sessions[self.doc.model_path])
            self._update_status()
            self.session_changed.emit()

    def request_frame(self, z_id: np.ndarray, z_exp: np.ndarray) -> None:
        """Decode these codes, with the heat map chosen, off the GUI thread (latest request wins)
        and show the result."""
        self._codes = (z_id, z_exp)
        self.decoder.submit(self.session.decode_frame, z_id, z_exp, self.heatmap)

    def set_heatmap(self, mode: str) -> None:
        """Colour the face by `mode` (one of `session.HEATMAPS`; remembered in the settings):
        "neutral" is each vertex's distance (mm) from the same identity's neutral face."""
        if mode not in HEATMAPS:
            raise ValueError(f"unknown heat map {mode!r}; choose one of {HEATMAPS}")
        self.heatmap = mode
        self.settings.setValue("view/heatmap", mode)
        self.findChild(QAction, f"heatmap_{mode}").setChecked(True)
        if mode == "none":
            self.viewport.set_heatmap(None)
        elif self.session is not None and self._codes is not None:
            self.request_frame(*self._codes)  # the face on screen, now with its heat map

    def _on_change(self, fields: set[str]) -> None:
        if self.session is not None and fields & {"z_id", "z_exp", "model"}:
            self.request_frame(self.doc.state.z_id, self.doc.state.z_exp)
        if fields & {"path", "dirty", "recovered", "model"}:
            name = self.doc.path.name if self.doc.path else "Untitled"
            recovered = " (recovered)" if self.doc.recovered else ""
            self.setWindowTitle(f"{name}{recovered}{' *' if self.doc.dirty else ''} — FaceForge")
        if "history" in fields:
            actions.update_history(self)

    def _on_time(self, time: float) -> None:
        s = self.doc.state
        if self.session is not None and (s.identity.keys or s.expression.keys):
            self.request_frame(*s.sample(time))

    def _on_decoded(self, frame: Frame) -> None:
        if self.session is None or len(frame.vertices) != self.session.n_vertices:
            return  # a frame of a model that was closed meanwhile
        self.vertices = frame.vertices
        if frame.heat is not None and self.heatmap != "none":  # (not switched off meanwhile)
            top = max(float(frame.heat.max()), HEAT_MIN_TOP)
            self.viewport.set_heatmap(frame.heat, HEAT_TITLES[self.heatmap], top)
        self.viewport.show_vertices(frame.vertices)
        self._update_status(frame.ms)
        self.frame_shown.emit(frame.ms)

    def show_comparison(self, comparison) -> None:
        """Show an encoded mesh (`meshin.Comparison`) next to its reconstruction and neutral face."""
        if self.session is None or len(comparison.input) != self.session.n_vertices:
            return  # the model changed while it was encoded
        self.statusBar().showMessage(comparison.summary(), 8000)
        self.loaded.set_comparison(comparison)
        self.findChild(QDockWidget, "LoadedMeshDock").raise_()
        self._show_view(self.loaded, self.loaded.shown())

    def _show_view(self, panel, view) -> None:
        """Show what `panel` (loaded mesh or stored states) compares, a `View`, or (None) the editor's face again."""
        if view is None or self.session is None:
            if self.viewport.comparing:  # (hiding re-aims the camera)
                self.viewport.hide_comparison()
            return
        if len(view.meshes[0]) != self.session.n_vertices:
            return  # decoded for a model that was closed meanwhile
        other = self.states if panel is self.loaded else self.loaded
        other.compare.set_on(False, notify=False)  # one comparison at a time
        self.viewport.show_comparison(view.meshes, view.labels, view.heat, view.layout)

    def show_train_dialog(self):
        """Open (or raise) the training dialog; its "Load this model" opens the result here."""
        if self.train_dialog is None:
            from .dialogs.train import TrainDialog

            self.train_dialog = TrainDialog(self)
            self.train_dialog.load_requested.connect(self._load_trained)
        self.train_dialog.show()
        self.train_dialog.raise_()
        return self.train_dialog

    def _load_trained(self, folder: Path) -> None:
        self.open_model(folder)

    def _on_decode_error(self, exc: Exception) -> None:
        self.error_box = show_error(self, "Cannot decode this face", exc)

    def _update_status(self, ms: float | None = None) -> None:
        if self.session is None:
            self.status.setText("no model")
            return
        timing = f" · decode {ms:.1f} ms" if ms is not None else ""
        self.status.setText(f"model {self.session.name} · {self.session.n_vertices} vertices{timing}")

    def show_error(self, title: str, exc: BaseException) -> None:
        """Report `exc` in a message box; the document is left as it was."""
        self.statusBar().clearMessage()
        self.error_box = show_error(self, title, exc)

    def screenshot(self, path: str | Path) -> None:
        """Save the whole window as PNG, with the 3D view painted in (Qt's grab leaves GL black)."""
        from qtpy.QtCore import QPoint
        from qtpy.QtGui import QImage, QPainter

        pixmap = self.grab()
        if self.session is not None:
            rgb = np.ascontiguousarray(self.viewport.grab_image())
            image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
            painter = QPainter(pixmap)
            target = self.viewport.interactor.rect().translated(self.viewport.interactor.mapTo(self, QPoint(0, 0)))
            painter.drawImage(target, image)
            painter.end()
        pixmap.save(str(path))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if not files.confirm_discard(self):
            event.ignore()
            return
        save_layout(self.settings, self)
        self.autosaver.close()
        self.timeline.stop()
        self.scan.stop_fit()
        if self.train_dialog is not None:
            self.train_dialog.close()
        self.decoder.wait()
        self.states.comparer.wait()
        self.viewport.close()
        super().closeEvent(event)
