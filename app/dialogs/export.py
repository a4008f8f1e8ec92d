"""File ▸ Export…: the current face as an FBX, glTF (.glb) or OBJ blendshape rig, with its timeline.

The rig is decoded and written in a worker (`core.export.rig_from_state` then `export`); progress
shows in the dialog, errors in the window's error dialog.
"""
from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                            QFormLayout, QHBoxLayout, QLineEdit, QProgressBar, QPushButton, QWidget)
from superqt.utils import create_worker

from faceforge.core.errors import FaceForgeError

from ..workers import reported

FORMATS = {"FBX (binary)": ".fbx", "glTF 2.0 binary (.glb)": ".glb", "Wavefront OBJ + MTL": ".obj"}


class ExportDialog(QDialog):
    """Options of one export; `export()` starts the worker and returns it."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        self.window_ = window
        self.worker = None
        self.path = QLineEdit(str(Path.home() / "face.fbx"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        self.format = _combo(FORMATS)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.units = _combo(["mm", "cm", "m"])
        self.naming = _combo({"ARKit (eyeBlinkLeft)": "arkit", "ICT (eyeBlink_L)": "ict",
                              "Live Link (EyeBlinkLeft)": "livelink"})
        self.shapes = _combo({"All 52 ARKit shapes": "all", "Expression categories": "categories"})
        self.intensity = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=3.0, singleStep=0.1, value=1.0)
        self.intensity.setToolTip("The ARKit coefficient that weight 1 means")
        self.fbx_version = _combo({"7.4 (read everywhere)": 7400, "7.5": 7500})
        self.animate = QCheckBox("Include the timeline as animation", checked=True)
        self.progress = QProgressBar(textVisible=True)
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        holder = QWidget()
        holder.setLayout(row)
        for label, widget in (("File", holder), ("Format", self.format), ("Units", self.units),
                              ("Shape names", self.naming), ("Shapes", self.shapes),
                              ("Intensity", self.intensity), ("FBX version", self.fbx_version)):
            form.addRow(label, widget)
        form.addRow(self.animate)
        form.addRow(self.progress)
        form.addRow(self.buttons)

    def options(self):
        """(ExportOptions, intensity, decode the categories?) from the widgets."""
        from faceforge.core.export import ExportOptions, select_shapes

        categories, shapes = select_shapes(self.shapes.currentData(), self.window_.session.semantics)
        return ExportOptions(units=self.units.currentData(), naming=self.naming.currentData(), shapes=shapes,
                             fbx_version=self.fbx_version.currentData()), self.intensity.value(), categories

    def export(self):
        """Decode and write in a worker; returns it (None when the options are refused)."""
        window = self.window_
        path = Path(self.path.text()).expanduser()
        try:
            if window.session is None:
                raise FaceForgeError("no model is loaded; open a model first (Model ▸ Open Model…)")
            options, intensity, categories = self.options()
        except FaceForgeError as exc:
            window.show_error("Export failed", exc)
            return None
        self.buttons.setEnabled(False)
        self.progress.show()
        self.worker = create_worker(
            reported, _export(window.session, window.doc.state, path, options, intensity, categories,
            self.animate.isChecked()),
            _connect={"yielded": self._step, "returned": self._done, "errored": self._failed})
        return self.worker

    def _step(self, step) -> None:
        value, text = step
        self.progress.setValue(value)
        self.progress.setFormat(text)

    def _done(self, paths) -> None:
        self.window_.statusBar().showMessage(f"Exported {len(paths)} file(s) to {Path(paths[0]).parent}", 6000)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        self.progress.hide()
        self.window_.show_error("Export failed", exc)

    def _browse(self) -> None:
        ext = self.format.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Export face", self.path.text(), f"*{ext}")
        if path:
            self.path.setText(str(Path(path).with_suffix(ext)))

    def _format_changed(self) -> None:
        self.path.setText(str(Path(self.path.text()).with_suffix(self.format.currentData())))
        self.fbx_version.setEnabled(self.format.currentData() == ".fbx")


def _combo(items) -> QComboBox:
    box = QComboBox()
    for label, data in (items.items() if isinstance(items, dict) else ((i, i) for i in items)):
        box.addItem(label, data)
    return box


def _export(session, state, path: Path, options, intensity: float, categories: bool, animate: bool):
    """Worker: yield (percent, step) and return the files written."""
    from faceforge.core.export import export, rig_from_state

    yield 10, "Decoding the shapes and the timeline…"
    rig = rig_from_state(session.model, session.semantics, state, intensity, categories, animate, path.stem)
    yield 60, f"Writing {path.name}…"
    written = export(rig, path, options)
    yield 100, "Done"
    return written
