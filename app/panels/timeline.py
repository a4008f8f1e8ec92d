"""Timeline: identity and expression keyframe tracks, playhead, play/pause/loop, fps.

Scrubbing and playback only show the interpolated face (`time_changed`); keys store the
current editor codes. Drag a key to move it; the playhead time is not part of the document.
The keyboard shortcuts live on the window's Timeline menu (`actions.py`).
"""
from __future__ import annotations

from dataclasses import replace

import qtawesome as qta
from qtpy.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from qtpy.QtGui import QColor, QPainter, QPolygonF
from qtpy.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton,
                            QVBoxLayout, QWidget)
from superqt.utils import signals_blocked

from faceforge.core.document import INTERPOLATIONS, Document

TRACKS = ("identity", "expression")
ROW_H, LABEL_W, KEY_R = 26, 86, 6


class TrackView(QWidget):
    """Paints both tracks and the playhead; click scrubs, dragging a key moves it."""

    scrubbed = Signal(float)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.time, self._drag = doc, 0.0, None
        self.setMinimumHeight(ROW_H * len(TRACKS) + 8)

    def x_of(self, t: float) -> float:
        return LABEL_W + t / self.doc.state.duration * (self.width() - LABEL_W - KEY_R)

    def t_of(self, x: float) -> float:
        t = (x - LABEL_W) / max(self.width() - LABEL_W - KEY_R, 1) * self.doc.state.duration
        return round(min(max(t, 0.0), self.doc.state.duration) * self.doc.state.fps) / self.doc.state.fps

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        for row, name in enumerate(TRACKS):
            y = 4 + row * ROW_H + ROW_H / 2
            p.setPen(QColor(200, 200, 200))
            p.drawText(QRectF(4, y - ROW_H / 2, LABEL_W, ROW_H), Qt.AlignmentFlag.AlignVCenter, name.capitalize())
            p.setPen(QColor(90, 90, 96))
            p.drawLine(QPointF(LABEL_W, y), QPointF(self.width() - KEY_R, y))
            p.setBrush(QColor(240, 180, 60) if row == 0 else QColor(90, 170, 240))
            for t in getattr(self.doc.state, name).times:
                x = self.x_of(t)
                p.drawPolygon(QPolygonF([QPointF(x, y - KEY_R), QPointF(x + KEY_R, y), QPointF(x, y + KEY_R),
                                         QPointF(x - KEY_R, y)]))
        p.setPen(QColor(230, 70, 70))
        x = self.x_of(self.time)
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        pos = event.position()
        row = int((pos.y() - 4) // ROW_H)
        if 0 <= row < len(TRACKS):
            track = getattr(self.doc.state, TRACKS[row])
            hit = [t for t in track.times if abs(self.x_of(t) - pos.x()) <= KEY_R]
            if hit:
                self._drag = (TRACKS[row], hit[0])
                return
        self.scrubbed.emit(self.t_of(pos.x()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._drag is None:
            self.scrubbed.emit(self.t_of(event.position().x()))
            return
        name, t = self._drag
        new_t = self.t_of(event.position().x())
        if abs(new_t - t) > 1e-9:
            track = getattr(self.doc.state, name)
            self.doc.edit(f"Move {name} key", merge=f"move-{name}", **{name: track.moved(t, new_t)})
            self._drag = (name, new_t)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self._drag = None
        self.doc.end_merge()


class TimelinePanel(QWidget):
    """Transport controls above a `TrackView`; emits `time_changed(seconds)`, and `export_requested`
    for its "OBJ sequence" button."""

    time_changed = Signal(float)
    export_requested = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.view = TrackView(doc)
        self.view.scrubbed.connect(self.set_time)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.play_button = QPushButton(qta.icon("mdi6.play"), "", checkable=True, toolTip="Play / pause (Space)")
        self.play_button.toggled.connect(self._on_play)
        self.loop = QCheckBox("Loop", checked=True)
        self.fps = QDoubleSpinBox(minimum=1, maximum=120, decimals=0, suffix=" fps")
        self.fps.valueChanged.connect(lambda v: doc.edit("Frame rate", merge="fps", fps=float(v)))
        self.duration = QDoubleSpinBox(minimum=0.1, maximum=600, decimals=2, suffix=" s")
        self.duration.valueChanged.connect(lambda v: doc.edit("Timeline length", merge="duration", duration=float(v)))
        for box in (self.fps, self.duration):  # arrow clicks or typing: one undo step until focus leaves
            box.editingFinished.connect(doc.end_merge)
        self.clock = QLabel()
        bar = QHBoxLayout()
        for w in (self.play_button, self.loop, self.fps, self.duration, self.clock):
            bar.addWidget(w)
        bar.addStretch(1)
        self.interp: dict[str, QComboBox] = {}
        for name in TRACKS:
            self._key_controls(bar, name)
        delete = QPushButton(qta.icon("mdi6.delete-outline"), "Delete keys here", toolTip="Shift+Del")
        delete.clicked.connect(self.delete_keys)
        bar.addWidget(delete)
        export = QPushButton(qta.icon("mdi6.export"), "OBJ sequence…", toolTip="Export every frame as OBJ "
                             "(Ctrl+Shift+E)")
        export.clicked.connect(self.export_requested)
        bar.addWidget(export)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        doc.events.connect(self._on_change)
        self.set_time(0.0)

    def _key_controls(self, bar: QHBoxLayout, name: str) -> None:
        add = QPushButton(qta.icon("mdi6.key-plus"), f"Key {name}", objectName=f"key_{name}",
                          toolTip="K" if name == "identity" else "Shift+K")
        add.clicked.connect(lambda: self.add_key(name))
        combo = QComboBox()
        combo.addItems(INTERPOLATIONS)
        combo.setToolTip(f"Interpolation of the {name} track")
        combo.currentTextChanged.connect(lambda mode: self.set_interpolation(name, mode))
        self.interp[name] = combo
        bar.addWidget(add)
        bar.addWidget(combo)

    def set_session(self, session) -> None:
        self.stop()
        self.setEnabled(session is not None)

    @property
    def time(self) -> float:
        return self.view.time

    def set_time(self, t: float) -> None:
        """Move the playhead to `t` seconds and show that frame."""
        self.view.time = t
        self.clock.setText(f"{t:6.2f} s  frame {round(t * self.doc.state.fps)}")
        self.view.update()
        self.time_changed.emit(t)

    def add_key(self, name: str) -> None:
        """Key the current identity (or expression) code at the playhead."""
        s = self.doc.state
        code = s.z_id if name == "identity" else s.z_exp
        self.doc.edit(f"Key {name}", **{name: getattr(s, name).with_key(self.time, code)})

    def delete_keys(self) -> None:
        """Remove the keys of both tracks at the playhead."""
        s = self.doc.state
        changes = {n: getattr(s, n).without_key(self.time) for n in TRACKS
                   if getattr(s, n).find(self.time) is not None}
        if changes:
            self.doc.edit("Delete keys", **changes)

    def set_interpolation(self, name: str, mode: str) -> None:
        track = getattr(self.doc.state, name)
        self.doc.edit(f"{name.capitalize()} interpolation", **{name: replace(track, interpolation=mode)})

    def stop(self) -> None:
        self.play_button.setChecked(False)

    def toggle_play(self) -> None:
        """Play from the playhead, or pause."""
        self.play_button.toggle()

    def step(self, frames: int) -> None:
        """Move the playhead by `frames` (negative: back), within the timeline."""
        s = self.doc.state
        self.set_time(min(max(round(self.time * s.fps + frames) / s.fps, 0.0), s.duration))

    def _on_play(self, playing: bool) -> None:
        self.play_button.setIcon(qta.icon("mdi6.pause" if playing else "mdi6.play"))
        if playing:
            self.timer.start(round(1000 / self.doc.state.fps))
        else:
            self.timer.stop()

    def _tick(self) -> None:
        s = self.doc.state
        t = (round(self.time * s.fps) + 1) / s.fps  # frame-exact: no drift from summed steps
        if t > s.duration + 1e-9:
            if not self.loop.isChecked():
                self.stop()
                return
            t = 0.0
        self.set_time(t)

    def _on_change(self, fields: set[str]) -> None:
        s = self.doc.state
        with signals_blocked(self.fps), signals_blocked(self.duration):
            self.fps.setValue(s.fps)
            self.duration.setValue(s.duration)
        for name, combo in self.interp.items():
            with signals_blocked(combo):
                combo.setCurrentText(getattr(s, name).interpolation)
        if fields & {"fps"} and self.timer.isActive():
            self.timer.start(round(1000 / s.fps))
        self.view.update()
