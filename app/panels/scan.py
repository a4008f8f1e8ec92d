"""Scan panel: load a raw scan, fit it with progress and cancel, inspect, neutralize, use.

    Load scan… -> scanfit.load_for_display (worker) -> ScanLayer.set_scan (semi-transparent)
    Fit -> scanfit.fit_job (GeneratorWorker; Cancel sets its Event) -> progress bar; its first
        step moves the scan into the model frame (the rigid alignment, from core)
        -> FitResult: registered mesh with the residual heat map, statistics, per-region errors
    Neutralize / Use in editor (one undoable step: z_id, z_exp) / Export neutral OBJ…
    Editor expression -> core.fit.transfer.transfer_expression (worker): the scan's identity with
        the editor's z_exp, left of the fit / Export expression OBJ…
    Landmarks: pick >= 4 named points on the scan, then "Align from landmarks" fits with them.

Any failed load, fit, transfer or export shows the error (an unexpected one with its traceback)
and leaves the document and the scan shown as they were; when automatic alignment fails, the
error box offers manual landmark picking.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import qtawesome as qta
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (QCheckBox, QFileDialog, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QListWidget,
                            QListWidgetItem, QMessageBox, QProgressBar, QPushButton, QScrollArea,
                            QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from superqt.utils import create_worker, signals_blocked

from .. import scanfit
from ..landmarks import MIN_PICKS, LandmarkPicker, landmark_color, pick_order
from ..scanview import PARTS, ScanLayer

REGION_COLUMNS = ("region", "mean", "median", "p95", "coverage")  # residual, mm; "all" first


class ScanPanel(QScrollArea):
    """See the module docstring. `window` is the MainWindow (session, viewport, doc, errors)."""

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.layer = ScanLayer(window.viewport)
        self.picker = LandmarkPicker(window.viewport, self.layer)
        self.picker.changed.connect(self._update_landmarks)
        self.loaded: scanfit.LoadedScan | None = None
        self.result = None  # core.fit FitResult of `loaded`
        self.options = None  # FitOptions for the next fit (None: the defaults)
        self.worker = self.loader = self.transfer = None
        self.expression = None  # (N, 3) mm, model frame: `result`'s identity with the editor's z_exp
        self._by_landmarks = False  # the running fit was started from picked landmarks
        self._fit_model = None  # the model `result` was fitted with
        self.cancel = threading.Event()
        self._build()
        window.session_changed.connect(self._on_session)
        for panel in (window.loaded, window.states):  # a comparison takes the viewport: the scan hides
            panel.compare.changed.connect(lambda p=panel: p.compare.on and self._hide_layer())
        self._update()

    def _hide_layer(self) -> None:
        self.layer.show(**dict.fromkeys(PARTS, False))

    # -------------------------------------------------------------- widgets
    def _build(self) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        self.info = QLabel("Load a raw scan (any topology, units and pose) with <b>File ▸ Load Scan…</b>.",
                           wordWrap=True)
        self.notes = QLabel(wordWrap=True, objectName="scanNotes")
        self.load_button = _button("mdi6.face-recognition", "Load scan…", self.ask_load)
        self.fit_button = _button("mdi6.play", "Fit", self.fit)
        self.cancel_button = _button("mdi6.stop", "Cancel", self.cancel_fit)
        self.progress = QProgressBar()
        self.stage = QLabel(wordWrap=True)
        self.stats = QLabel(wordWrap=True)
        self.table = QTableWidget(0, len(REGION_COLUMNS))
        self.table.setHorizontalHeaderLabels(REGION_COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(150)
        self.neutralize_button = _button("mdi6.emoticon-neutral-outline", "Neutralize", self.neutralize)
        self.use = _button("mdi6.account-arrow-left", "Use in editor", self.use_in_editor)
        self.export_button = _button("mdi6.export", "Export neutral OBJ…", self.ask_export)
        self.expression_button = _button("mdi6.emoticon-outline", "Editor expression", self.show_editor_expression)
        self.expression_button.setToolTip("Show the fitted scan's face (identity and details) with the "
                                          "editor's current expression")
        self.export_expression_button = _button("mdi6.export", "Export expression OBJ…",
                                                lambda: self.ask_export(expression=True))
        self.toggles = {part: QCheckBox(part) for part in PARTS}
        for part, box in self.toggles.items():
            box.toggled.connect(lambda on, p=part: self.layer.show(**{p: on}))
        for w in (self.info, self.notes, _row(self.load_button, self.fit_button, self.cancel_button),
                  self.progress, self.stage, self.stats, self.table,
                  _row(self.neutralize_button, self.use), self.export_button,
                  _row(self.expression_button, self.export_expression_button),
                  _row(QLabel("Show:"), *self.toggles.values()), self._landmark_box()):
            layout.addWidget(w)
        layout.addStretch(1)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def _landmark_box(self) -> QGroupBox:
        box = QGroupBox("Landmarks")
        self.pick_button = _button("mdi6.map-marker-plus", "Pick landmarks", self.toggle_picking)
        self.pick_button.setCheckable(True)
        self.undo_pick = _button("mdi6.undo-variant", "Undo last pick", self.picker.undo)
        self.align_button = _button("mdi6.crosshairs-gps", "Align from landmarks", self.fit_from_landmarks)
        self.names = QListWidget()
        self.names.setMinimumHeight(120)
        self.names.itemClicked.connect(lambda item: self.picker.set_current(item.data(Qt.ItemDataRole.UserRole)))
        self.pick_hint = QLabel(wordWrap=True)
        layout = QVBoxLayout(box)
        for w in (self.pick_hint, self.pick_button, self.names, _row(self.undo_pick, self.align_button)):
            layout.addWidget(w)
        return box

    # -------------------------------------------------------------- loading
    def ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load raw scan", "", scanfit.SCAN_FILTER)
        if path:
            self.load(Path(path))

    def load(self, path: str | Path):
        """Read and prepare a scan in a worker; on success it replaces the scan shown."""
        self.window.statusBar().showMessage(f"Loading scan {Path(path).name}…")
        self.loader = create_worker(scanfit.load_for_display, path, _connect={
            "returned": self.show_scan, "errored": lambda e: self._failed("Cannot load scan", e),
            "finished": self._loader_done})
        self._update()
        return self.loader

    def show_scan(self, loaded: scanfit.LoadedScan) -> None:
        """Show a prepared scan (semi-transparent, in its file's frame); any previous fit goes."""
        self.stop_fit()
        self.picker.stop()
        self.picker.clear()
        self.loaded, self.result = loaded, None
        for panel in (self.window.loaded, self.window.states):
            panel.compare.set_on(False)
        self.layer.set_scan(loaded.vertices, loaded.faces, loaded.normals)
        self.window.viewport.reset_view()
        if self.parentWidget() is not None:
            self.parentWidget().raise_()  # the dock
        self.info.setText(loaded.summary())
        self.notes.setText("\n".join(loaded.scan.notes))
        self.stage.clear()
        self.window.statusBar().showMessage(loaded.summary(), 6000)
        self._show_result()

    def _loader_done(self) -> None:
        self.loader = None
        self._update()

    # -------------------------------------------------------------- fitting
    def fit(self, landmarks: dict[str, np.ndarray] | None = None):
        """Fit the loaded scan in a worker (automatic alignment unless `landmarks` are given)."""
        if self.worker is not None or self.loaded is None or self.window.session is None:
            return None
        self.cancel = threading.Event()
        self._fit_model = self.window.session.model
        self._by_landmarks = bool(landmarks)
        self.progress.setRange(0, 0)
        self.stage.setText("aligning…")
        self.worker = create_worker(scanfit.fit_job, self._fit_model, self.loaded.scan, self.options, landmarks,
                                    self.cancel, _connect={"yielded": self._on_progress, "returned": self._on_fitted,
                                                           "errored": self._on_fit_error,
                                                           "finished": self._fit_done})
        self._update()
        return self.worker

    def fit_from_landmarks(self):
        """Align from the picked landmarks, then fit with them."""
        self.picker.stop()
        return self.fit(dict(self.picker.picks))

    def cancel_fit(self) -> None:
        """Ask the running fit to stop at its next step."""
        self.cancel.set()
        self.stage.setText("cancelling…")

    def stop_fit(self, msecs: int = 30_000) -> None:
        """Cancel a running fit and wait for it (loading another scan, closing the window)."""
        from qtpy.QtCore import QDeadlineTimer, QThreadPool
        from qtpy.QtWidgets import QApplication

        self.cancel.set()
        deadline = QDeadlineTimer(msecs)
        while self.worker is not None and not deadline.hasExpired():
            QThreadPool.globalInstance().waitForDone(5)
            QApplication.processEvents()

    def _on_progress(self, item) -> None:
        self.progress.setRange(0, max(item.total, 1))
        self.progress.setValue(item.step)
        self.stage.setText(f"{item.stage} {item.step}/{item.total} · rmse {item.rmse:.2f} mm")
        if item.rigid is not None:  # the scan is aligned: show it in the model frame
            self.layer.set_transform(item.rigid.transform)
            self.picker.follow_scan()
            self.window.viewport.reset_view()
            how = "from landmarks" if self._by_landmarks else "automatically"
            self.stage.setText(f"aligned {how} · rmse {item.rigid.rmse:.2f} mm")

    def _on_fitted(self, result) -> None:
        if self.window.session is None or self.window.session.model is not self._fit_model:
            return  # the model changed while fitting
        self.result = result
        self.layer.set_transform(result.pose.inverse())
        self.picker.follow_scan()
        self._show_result()
        self.layer.show(scan=True, fit=True, neutral=False)
        self.stage.setText(f"fitted in {result.seconds:.1f} s")
        self.window.statusBar().showMessage(f"{self.loaded.name}: {scanfit.residual_line(result)}", 8000)

    def _on_fit_error(self, exc: Exception) -> None:
        from faceforge.core.errors import ScanError
        from faceforge.core.fit.fitting import FitCancelled

        self.layer.set_transform(self.result.pose.inverse() if self.result is not None else None)
        self.picker.follow_scan()
        if isinstance(exc, FitCancelled):
            self.stage.setText("fit cancelled")
            self.window.statusBar().showMessage("Fit cancelled", 4000)
            return
        self.stage.setText("fit failed")
        self._failed("Cannot fit scan", exc)
        if isinstance(exc, ScanError) and not self.picker.active and not self.picker.picks:
            box = self.window.error_box
            box.hide()  # re-opened below so it sizes itself to the added text and button
            box.setInformativeText("Automatic alignment failed. You can click at least "
                                   f"{MIN_PICKS} landmarks on the scan instead.")
            box.addButton("Pick landmarks…", QMessageBox.ButtonRole.ActionRole).clicked.connect(self.start_picking)
            box.open()

    def _fit_done(self) -> None:
        self.worker = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.result is not None else 0)
        self._update()

    def _failed(self, title: str, exc: Exception) -> None:
        """Report any error (an unexpected one with its traceback); nothing else changes."""
        self.window.show_error(title, exc)

    # -------------------------------------------------------------- results
    def _show_result(self) -> None:
        r = self.result
        self.expression = None
        if r is None:
            self.layer.clear_fit()
            self.stats.clear()
            self.table.setRowCount(0)
            self._sync_toggles()
            self._update()
            return
        residual = np.nan_to_num(r.residual, nan=0.0)
        vmax = max(float(np.percentile(residual, 98)), 0.5)
        self.layer.set_fit(self.window.session.triangles, r.registered, r.residual, r.neutral, vmax)
        self.stats.setText(scanfit.summary(r))
        rows = [("all", r.errors()), *sorted(r.region_errors().items())]
        self.table.setRowCount(len(rows))
        for row, (name, e) in enumerate(rows):
            cells = (name, f"{e['mean']:.2f}", f"{e['median']:.2f}", f"{e['p95']:.2f}",
                     f"{100 * e['coverage']:.0f} %")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self._update()

    def neutralize(self) -> None:
        """Show the neutral face (the scan's identity, expression removed) beside the fit."""
        self.layer.show(neutral=True)
        self._sync_toggles()

    def use_in_editor(self) -> None:
        """Take the fit's identity and expression codes into the document as one undoable step;
        the scan is hidden so the editor's face shows (per-vertex refinement is not carried)."""
        s = self.window.doc.state
        self.window.doc.edit(f"Use scan {self.loaded.name}", z_id=self.result.z_id.astype(np.float32),
                             z_exp=self.result.z_exp.astype(np.float32), arkit=np.zeros_like(s.arkit),
                             preset="", intensity=1.0)
        self.layer.show(**dict.fromkeys(PARTS, False))
        self._sync_toggles()

    def show_editor_expression(self):
        """Compute, in a worker, the fit's identity (codes and refinement offsets) with the
        editor's current expression codes, and show it left of the fit."""
        from faceforge.core.fit.transfer import transfer_expression

        if self.result is None or self.transfer is not None:
            return None
        result, z_exp = self.result, self.window.doc.state.z_exp.astype(np.float32)
        self.stage.setText("applying the editor's expression…")
        self.transfer = create_worker(transfer_expression, result, z_exp, self._fit_model, _connect={
            "returned": lambda v: self._on_expression(result, v),
            "errored": lambda e: self._failed("Cannot apply the editor's expression", e),
            "finished": self._transfer_done})
        self._update()
        return self.transfer

    def _on_expression(self, result, vertices: np.ndarray) -> None:
        if result is not self.result:
            return  # another fit meanwhile
        self.expression = vertices
        self.layer.set_expression(self.window.session.triangles, vertices)
        self.stage.setText("the scan's identity with the editor's expression (left of the fit)")
        self._sync_toggles()

    def _transfer_done(self) -> None:
        self.transfer = None
        self._update()

    def ask_export(self, expression: bool = False) -> None:
        what = "expression" if expression else "neutral"
        name = f"{Path(self.loaded.name).stem}_{what}.obj"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {what} face as OBJ", name, "Wavefront OBJ (*.obj)")
        if path:
            self.export_to(Path(path).with_suffix(".obj"), expression)

    def export_to(self, path: Path, expression: bool = False):
        """Write the neutral face, or with `expression` the one with the editor's expression, in a
        worker (scan frame and units, template UVs)."""
        from faceforge.core.fit.batch import write_face

        vertices = self.expression if expression else self.result.neutral
        return create_worker(write_face, self.result, vertices, path, _connect={
            "returned": lambda _: self.window.statusBar().showMessage(f"Wrote {Path(path).name}", 6000),
            "errored": lambda e: self._failed("Export failed", e)})

    # -------------------------------------------------------------- landmarks
    def toggle_picking(self) -> None:
        if self.picker.active:
            self.picker.stop()
        else:
            self.start_picking()

    def start_picking(self) -> None:
        """Show the scan; clicks on it now pick the template's landmarks, in `pick_order`."""
        if self.loaded is None or self.window.session is None:
            return
        self.layer.show(scan=True)
        self._sync_toggles()
        self.picker.start(pick_order(self.window.session.model.template.landmarks))

    def _update_landmarks(self) -> None:
        with signals_blocked(self.pick_button):
            self.pick_button.setChecked(self.picker.active)
        self.names.clear()
        for k, name in enumerate(self.picker.names):
            done = name in self.picker.picks
            item = QListWidgetItem(qta.icon("mdi6.circle", color=QColor.fromRgbF(*landmark_color(k))),
                                   f"{'✓ ' if done else ''}{name.replace('_', ' ')}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.names.addItem(item)
            if name == self.picker.current:
                self.names.setCurrentItem(item)
        n = len(self.picker.picks)
        target = self.picker.current.replace("_", " ") if self.picker.current else "—"
        self.pick_hint.setText(f"Click <b>{target}</b> on the scan (l/r: the subject's left/right). "
                               f"{n} picked, at least {MIN_PICKS} needed." if self.picker.active
                               else f"{n} landmarks picked.")
        self._update()

    # -------------------------------------------------------------- state
    def _on_session(self) -> None:
        session = self.window.session
        if session is None or session.model is not self._fit_model:  # another model: the fit is stale
            self.cancel.set()
            if self.result is not None:
                self.result = None
                self._show_result()
        self.layer.refresh()
        self._update()

    def _sync_toggles(self) -> None:
        for part, box in self.toggles.items():
            with signals_blocked(box):
                box.setChecked(self.layer.visible[part])

    def _update(self) -> None:
        running = self.worker is not None
        idle = not running and self.loader is None
        has_scan, has_fit = self.loaded is not None, self.result is not None
        ready = idle and has_scan and self.window.session is not None
        self.load_button.setEnabled(idle)
        self.fit_button.setEnabled(ready)
        self.cancel_button.setEnabled(running)
        for w in (self.neutralize_button, self.use, self.export_button):
            w.setEnabled(idle and has_fit)
        self.expression_button.setEnabled(idle and has_fit and self.transfer is None)
        self.export_expression_button.setEnabled(idle and self.expression is not None)
        self.toggles["scan"].setEnabled(has_scan)
        for part in ("fit", "neutral"):
            self.toggles[part].setEnabled(has_fit)
        self.toggles["expression"].setEnabled(self.expression is not None)
        self.pick_button.setEnabled(ready)
        self.undo_pick.setEnabled(bool(self.picker.picks))
        self.align_button.setEnabled(ready and len(self.picker.picks) >= MIN_PICKS)
        self._sync_toggles()


def _button(icon: str, text: str, slot) -> QPushButton:
    button = QPushButton(qta.icon(icon), text)
    button.clicked.connect(lambda *_: slot())
    return button


def _row(*widgets) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return row
