"""`faceforge bench gui`: slider -> rendered-frame latency and GUI-thread stalls on the real widgets.

Latency: from `slider.setValue` (what a drag does) until the VTK render call has returned
after the decoded points were written (`MainWindow.frame_shown` is emitted right after it).
Stall: the longest gap between ticks of a 5 ms QTimer heartbeat while a small training runs
in the training dialog's child process (the slider keeps moving meanwhile).
The report states the machine's load average before and after: other processes on a small
machine slow the software renderer, so compare numbers taken at similar load.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEARTBEAT_MS = 5
TARGET_P95_MS, TARGET_STALL_MS = 33.0, 50.0


class DisplayError(SystemExit):
    """No display to open windows on."""


def check_display() -> None:
    """Raise `DisplayError` with what to do when no display is available."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayError("faceforge bench gui: no display (DISPLAY is not set). It drives real windows: run it "
                           "in a desktop session, or under a virtual one: xvfb-run -s '-screen 0 1600x1000x24' "
                           "faceforge bench gui --model RUN/checkpoint")


def run(model: Path | None, moves: int, train_steps: int) -> str:
    """Measure and return the Markdown section (see the module docstring)."""
    from qtpy.QtCore import QSettings
    from qtpy.QtWidgets import QApplication

    from ..core.bench import machine
    from .settings import default_model
    from .window import MainWindow

    check_display()
    load_before = os.getloadavg()[0]
    folder = model or default_model()
    if folder is None:
        raise SystemExit("faceforge bench gui: no default model ships with this install; give a trained "
                         "model with --model RUN/checkpoint")
    app = QApplication.instance() or QApplication(["faceforge-bench"])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(QSettings(str(Path(tmp) / "bench.ini"), QSettings.Format.IniFormat))
        window.show()
        window.open_model(folder)
        _wait(app, lambda: window.vertices is not None or window.error_box is not None, 120)
        if window.session is None:
            raise SystemExit(f"faceforge bench gui: cannot open model {folder}: {window.error_box.text()}")
        meter = _Meter(app, window)
        idle = [meter.move() for _ in range(moves)]
        parts = {"decode (worker)": meter.decode_ms[:], "VTK render call": meter.render_ms[:]}
        busy, stall, steps = _during_training(app, window, meter, Path(tmp), train_steps)
        window.doc.dirty = False
        window.close()
    load = (load_before, os.getloadavg()[0])
    return _report(machine(), window.session, folder, moves, idle, parts, busy, stall, steps, train_steps, load)


class _Meter:
    """Moves the first identity slider and times each move until its frame is rendered."""

    def __init__(self, app, window):
        self.app, self.window, self.i, self.shown = app, window, 0, 0.0
        self.slider = window.identity.axes.sliders["axis0"]
        self.decode_ms: list[float] = []
        self.render_ms: list[float] = []
        window.frame_shown.connect(self._on_frame)

    def _on_frame(self, decode_ms: float) -> None:
        self.shown = time.perf_counter()
        self.decode_ms.append(decode_ms)
        self.render_ms.append(self.window.viewport.last_render_ms)

    def move(self) -> float:
        """One slider change; returns its latency in ms."""
        self.i += 1
        value = round(-2.5 + 5.0 * ((self.i * 7) % 50) / 49, 2)  # consecutive values always differ
        start = time.perf_counter()
        self.slider.setValue(value)
        _wait(self.app, lambda: self.shown > start, 10)
        return (self.shown - start) * 1000


def _during_training(app, window, meter: _Meter, tmp: Path, steps: int) -> tuple[list[float], float, int]:
    """(latencies while training, longest heartbeat gap in ms, steps trained)."""
    from qtpy.QtCore import QTimer

    from ..core.data.packed import write_packed
    from ..core.data.synth.generate import SynthConfig, generate
    from .dialogs.train_form import TINY_NAME

    write_packed(generate(SynthConfig(subjects=6, per_subject=20, seed=1)), tmp / "data")
    dialog = window.show_train_dialog()
    dialog.out.setText(str(tmp / "run"))
    dialog.set_dataset(tmp / "data")
    _wait(app, lambda: dialog.scanned is not None, 60)
    dialog.form.size.setCurrentText(TINY_NAME)  # tiny network, small batches: 5 training subjects
    dialog.form.k.setValue(2)
    dialog.form.steps.setValue(steps)
    dialog.form.eval_every.setValue(max(steps // 4, 1))
    beats = [time.perf_counter()]
    heartbeat = QTimer(interval=HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    dialog.start(resume=False)
    latencies = []
    while dialog.running:
        latencies.append(meter.move())
        _wait(app, lambda: False, 0.03)
    heartbeat.stop()
    result = dialog.result
    if result is None:
        raise SystemExit(f"faceforge bench gui: the training failed: {dialog.error_box.text()}")
    dialog.close()
    return latencies, float(np.diff(beats).max() * 1000), result.step if result else 0


def _wait(app, done, seconds: float) -> None:
    """Run the event loop until `done()` or `seconds` passed."""
    from qtpy.QtCore import QEventLoop

    deadline = time.perf_counter() + seconds
    while not done() and time.perf_counter() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.0005)


def _report(machine: str, session, folder: Path, moves: int, idle: list[float], parts: dict[str, list[float]],
            busy: list[float], stall: float, steps: int, train_steps: int, load: tuple[float, float]) -> str:
    def row(name: str, ms: list[float]) -> str:
        p50, p95 = np.percentile(ms, [50, 95]) if ms else (float("nan"),) * 2
        return f"| {name} ({len(ms)} frames) | {p50:.1f} ms | {p95:.1f} ms | {max(ms, default=float('nan')):.1f} ms |"

    p95 = float(np.percentile(idle, 95))
    return "\n".join([
        f"`faceforge bench gui --moves {moves} --train-steps {train_steps}` on {machine}, display "
        f"{os.environ.get('DISPLAY', '?')}; model `{folder}` ({session.n_vertices} vertices, "
        f"{session.model.id_dim}+{session.model.exp_dim} codes); load average (1 min) {load[0]:.1f} before, "
        f"{load[1]:.1f} after",
        "",
        "Latency: slider value set -> decode (worker) -> points written -> VTK render call returned.",
        "",
        "| measurement | p50 | p95 | max |",
        "| --- | --- | --- | --- |",
        row("slider -> rendered frame, idle", idle),
        *(row(f"&nbsp;&nbsp;of which {name}, idle", ms) for name, ms in parts.items()),
        row("slider -> rendered frame, while training", busy),
        f"| longest GUI-thread stall while training ({HEARTBEAT_MS} ms heartbeat, tiny WSDF, {steps} steps) "
        f"| | | {stall:.1f} ms |",
        "",
        f"Targets: p95 < {TARGET_P95_MS:.0f} ms idle ({'met' if p95 < TARGET_P95_MS else 'MISSED'}), no stall > "
        f"{TARGET_STALL_MS:.0f} ms ({'met' if stall <= TARGET_STALL_MS else 'MISSED'}).",
    ])
