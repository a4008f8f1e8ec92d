"""Model ▸ Train…: dataset validation, hyperparameters, live curves, cancel/resume, load.

    dataset folder -> scan_dataset (worker) -> summary + problems
    Start / Resume -> training.TrainingJob (a child process) -> its messages, drained by a
        timer -> curves, progress, ETA (plots redrawn by a slower timer, not per step)
        -> result -> "Load this model"; an error or a dead child -> an error box
    Cancel sets the trainer's cancel Event; it stops after the step and writes a checkpoint.
"""
from __future__ import annotations

import time
from pathlib import Path

import pyqtgraph as pg
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (QDialog, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                            QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)
from superqt.utils import create_worker

from faceforge.core.errors import FaceForgeError, TrainingError
from faceforge.core.train.config import TrainConfig
from faceforge.core.train.events import DoneEvent, EvalEvent, StepEvent

from ..training import TrainingJob
from .errors import show_error
from .train_form import TrainForm

CURVES = ("total", "rec", "kl", "neu", "jac", "mi")
METRICS = ("e_avd_mean", "e_id_mean", "e_exp_mean", "e_neu_mean")
COLORS = ("w", "#f0b43c", "#5aaaf0", "#7ad27a", "#e06060", "#c080f0")
REDRAW_MS = 500  # curves are redrawn twice a second (a redraw and its repaint cost a few ms)
POLL_MS = 50  # how often the training process's messages are read
POLL_LIMIT = 500  # at most this many messages per read, so a flood cannot stall the GUI


class TrainDialog(QDialog):
    """See the module docstring. `load_requested(checkpoint)` asks the window to open the result."""

    load_requested = Signal(Path)
    finished_run = Signal(object)  # TrainResult

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.job: TrainingJob | None = None
        self.result, self.error_box = None, None
        self.scanned = None  # the dataset summary once validated
        self.data, self.out = QLineEdit(), QLineEdit()
        self.data.editingFinished.connect(self.scan)
        self.out.textChanged.connect(self._update_buttons)
        self.summary = QLabel("Choose a dataset folder (synthetic, CoMA, FaceScape) or a manifest CSV.",
                              wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.problems = QPlainTextEdit(readOnly=True, maximumHeight=80, placeholderText="problems found")
        self.form = TrainForm()
        self.losses, self.metrics = _plot("loss (log)", log=True), _plot("held-out error (mm)")
        self._lines = {k: self.losses.plot(pen=c, name=k) for k, c in zip(CURVES, COLORS)}
        self._marks = {k: self.metrics.plot(pen=c, symbol="o", symbolBrush=c, name=k) for k, c in zip(METRICS, COLORS)}
        self.progress, self.eta = QProgressBar(), QLabel()
        self.start_button = _button("Start", lambda: self.start(resume=False))
        self.resume_button = _button("Resume", lambda: self.start(resume=True))
        self.cancel_button = _button("Cancel", self.stop)
        self.load_button = _button("Load this model", self._load)
        self._reset_curves()
        self.redraw = QTimer(self, interval=REDRAW_MS)
        self.redraw.timeout.connect(self._redraw)
        self.poll = QTimer(self, interval=POLL_MS)
        self.poll.timeout.connect(self._poll)
        self._layout()
        self._update_buttons()

    def _layout(self) -> None:
        grid = QGridLayout()
        for row, (label, edit, title) in enumerate((("Dataset", self.data, "Dataset folder"),
                                                    ("Output run folder", self.out, "Run folder"))):
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(_button("Browse…", lambda e=edit, t=title: self._browse(e, t)), row, 2)
        grid.addWidget(_button("Manifest…", self._browse_manifest), 0, 3)
        plots = QHBoxLayout()
        plots.addWidget(self.losses)
        plots.addWidget(self.metrics)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.eta)
        for b in (self.start_button, self.resume_button, self.cancel_button, self.load_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        for item in (grid, self.summary, self.problems, self.form, plots, buttons):
            (layout.addLayout if isinstance(item, QHBoxLayout | QGridLayout) else layout.addWidget)(item)
        self.resize(980, 760)

    # -------------------------------------------------------------- dataset
    def set_dataset(self, folder: str | Path) -> None:
        """Choose a dataset and validate it (in a worker)."""
        self.data.setText(str(folder))
        self.scan()

    def scan(self):
        """Run `scan_dataset` off the GUI thread; the summary shows when it returns."""
        from faceforge.core.data.readers import scan_dataset

        self.scanned = None
        self.summary.setText(f"Checking {self.data.text()}…")
        self.problems.clear()
        self._update_buttons()
        return create_worker(scan_dataset, self.data.text(), _connect={
            "returned": self._on_scanned, "errored": self._on_scan_error})

    def _on_scanned(self, result) -> None:
        summary, problems = result
        self.scanned = summary
        self.summary.setText(f"{summary['subjects']} subjects, {summary['meshes']} meshes, "
                             f"{summary['vertices']} vertices, {summary['neutral']} neutral; "
                             f"{len(problems)} problem(s) found")
        self.problems.setPlainText("\n".join(problems) or "no problems")
        self._update_buttons()

    def _on_scan_error(self, exc: Exception) -> None:
        self.summary.setText(f"Cannot use this dataset: {exc}")
        if not isinstance(exc, (FaceForgeError, OSError)):  # a bug: the details help to report it
            self.error_box = show_error(self, "Cannot check this dataset", exc)

    # -------------------------------------------------------------- training
    def start(self, resume: bool) -> TrainingJob | None:
        """Train in a child process: from scratch, or `resume` from the run folder's checkpoint."""
        try:
            config = self._resumed_config() if resume else self.form.config()
        except FaceForgeError as exc:
            self.error_box = show_error(self, "Invalid training settings", exc)
            return None
        self.result, self._started, self._first_step = None, time.perf_counter(), None
        if not resume:
            self._reset_curves()
        self.eta.setText("starting…")
        self.job = TrainingJob(config, self.data.text(), self.out.text(), resume)
        self.job.start()
        self.poll.start()
        self.redraw.start()
        self._update_buttons()
        return self.job

    def _resumed_config(self) -> TrainConfig:
        """The run's recorded settings with the form's step budget, threads and device, shown in the form:
        a resumed run must train on as it started (the trainer refuses other settings)."""
        from faceforge.core.train.checkpoint import find_checkpoint, read_trainer_info

        form = self.form.config()
        recorded = read_trainer_info(find_checkpoint(self.out.text()) or self.out.text())["config"]
        config = TrainConfig.from_dict(recorded, where="(run)").replace(
            steps=form.steps, threads=form.threads, device=form.device)
        self.form.set_config(config)
        self.form.mark_custom()
        return config

    def stop(self) -> None:
        """Ask the trainer to stop after the current step (it writes a checkpoint)."""
        if self.job is not None:
            self.job.cancel()
            self.eta.setText("stopping after this step…")

    @property
    def running(self) -> bool:
        """A training process is running (or has not been reaped yet)."""
        return self.job is not None

    def _poll(self) -> None:
        """Handle the training process's pending messages (see `training.TrainingJob.poll`)."""
        step = None  # the last step read, shown once per batch (before any other message)
        for kind, *payload in self.job.poll(POLL_LIMIT):
            if kind == "event" and isinstance(payload[0], StepEvent):
                step = payload[0]
                self._record_step(step)
                continue
            if step is not None:
                self._show_progress(step)
                step = None
            if kind == "event":
                self._on_event(payload[0])
            elif kind == "warning":
                self.problems.appendPlainText(payload[0])
            elif kind == "result":
                self._on_done(payload[0])
            else:
                self._on_error(TrainingError(*payload))
        if step is not None:
            self._show_progress(step)
        if self.job.finished:
            self._on_finished()

    def _on_event(self, event) -> None:
        if isinstance(event, EvalEvent):
            for k in METRICS:
                if k in event.metrics and event.metrics[k] == event.metrics[k]:  # present, not NaN
                    self.evals[k][0].append(event.step)
                    self.evals[k][1].append(event.metrics[k])
        elif isinstance(event, DoneEvent):
            self.eta.setText("fitting semantics…")

    def _record_step(self, e: StepEvent) -> None:
        if self._first_step is None:
            self._first_step, self._started = e.step - 1, time.perf_counter()
        self.steps.append(e.step)
        for k in CURVES:
            if e.losses.get(k, 0.0) > 0:  # log axis: zero (or unweighted, absent) losses leave a gap
                self.curves[k][0].append(e.step)
                self.curves[k][1].append(e.losses[k])

    def _show_progress(self, e: StepEvent) -> None:
        self.progress.setMaximum(e.total)
        self.progress.setValue(e.step)
        rate = (e.step - self._first_step) / max(time.perf_counter() - self._started, 1e-9)
        if not self.job.cancelled:
            self.eta.setText(f"step {e.step}/{e.total} · ETA {_duration((e.total - e.step) / rate)}")

    def _on_done(self, result) -> None:
        self.result = result
        self.eta.setText(f"{'cancelled' if result.cancelled else 'finished'} at step {result.step}; "
                         f"checkpoint {result.checkpoint}")
        self.finished_run.emit(result)

    def _on_error(self, exc: TrainingError) -> None:
        self.eta.setText("failed")
        self.error_box = show_error(self, "Training failed", exc)

    def _on_finished(self) -> None:
        self.job = None
        self.poll.stop()
        self.redraw.stop()
        self._redraw()
        self._update_buttons()

    def _load(self) -> None:
        self.load_requested.emit(Path(self.result.checkpoint))

    # -------------------------------------------------------------- view
    def _reset_curves(self) -> None:
        self.steps, self.curves = [], {k: ([], []) for k in CURVES}  # loss -> (steps, values)
        self.evals = {k: ([], []) for k in METRICS}  # metric -> (steps, mm)
        self._redraw()

    def _redraw(self) -> None:
        for k, line in self._lines.items():
            line.setData(*self.curves[k])
        for k, line in self._marks.items():
            line.setData(*self.evals[k])

    def _update_buttons(self) -> None:
        ready = self.scanned is not None and bool(self.out.text()) and not self.running
        self.start_button.setEnabled(ready)
        self.resume_button.setEnabled(ready and (Path(self.out.text()) / "checkpoint").is_dir())
        self.cancel_button.setEnabled(self.running)
        self.load_button.setEnabled(not self.running and self.result is not None
                                    and self.result.checkpoint is not None)

    def _browse(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text())
        if folder:
            edit.setText(folder)
            if edit is self.data:
                self.scan()

    def _browse_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dataset manifest", self.data.text(), "Manifest (*.csv)")
        if path:
            self.set_dataset(path)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.running:
            self.stop()
        super().closeEvent(event)


def _plot(title: str, log: bool = False) -> pg.PlotWidget:
    plot = pg.PlotWidget(title=title)
    plot.addLegend(offset=(-5, 5))
    plot.setLogMode(y=log)
    plot.setDownsampling(auto=True, mode="peak")  # long runs: draw about one point per pixel
    plot.setClipToView(True)
    plot.setLabel("bottom", "step")
    return plot


def _button(text: str, slot) -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(lambda *_: slot())
    return button


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
