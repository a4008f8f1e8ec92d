"""Expression panel: ARKit sliders grouped by face region, category presets, intensity, neutral.

Without semantics (a model saved without them) it shows one slider per expression code.
"""
from __future__ import annotations

import numpy as np
import qtawesome as qta
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QComboBox, QFormLayout, QPushButton, QScrollArea, QToolBox, QVBoxLayout,
                            QWidget)
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

from faceforge.core.document import Document

from ..session import Session
from .sliders import SliderForm

REGIONS = (("Brows", ("brow",)), ("Eyes", ("eye",)), ("Nose", ("nose",)), ("Cheeks", ("cheek",)),
           ("Mouth", ("mouth", "tongue")), ("Jaw", ("jaw",)))
NO_PRESET = "(none)"


def region_of(unit: str) -> str:
    """The region group of an ARKit unit name, e.g. "browInnerUp" -> "Brows"."""
    low = unit.lower()
    return next((name for name, prefixes in REGIONS if low.startswith(prefixes)), "Other")


class ExpressionPanel(QWidget):
    """Edits the expression (preset, intensity, ARKit coefficients, hence z_exp)."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.session = doc, None
        self.preset = QComboBox()
        self.preset.currentTextChanged.connect(self._on_preset)
        self.intensity = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.intensity.setRange(0.0, 1.5)
        self.intensity.valueChanged.connect(self._on_intensity)
        self.intensity.sliderReleased.connect(doc.end_merge)
        neutral = QPushButton(qta.icon("mdi6.emoticon-neutral-outline"), "Neutral")
        neutral.clicked.connect(self.neutral)
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Intensity", self.intensity)
        self.toolbox = QToolBox()
        self.forms: dict[str, SliderForm] = {}
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.toolbox)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(neutral)
        layout.addWidget(scroll, 1)
        doc.events.connect(self._on_change)

    def set_session(self, session: Session | None) -> None:
        """Rebuild presets and sliders for a model (None: empty)."""
        self.session = session
        while self.toolbox.count():
            self.toolbox.widget(0).deleteLater()
            self.toolbox.removeItem(0)
        self.forms.clear()
        self.setEnabled(session is not None)
        if session is None:
            return
        sem = session.semantics
        with signals_blocked(self.preset):
            self.preset.clear()
            self.preset.addItems([NO_PRESET, *(sem.categories if sem is not None else [])])
        names = session.arkit_units or [f"code {k + 1}" for k in range(session.model.exp_dim)]
        for i, unit in enumerate(names):
            group = region_of(unit) if sem is not None else "Codes"
            if group not in self.forms:
                self.forms[group] = SliderForm(self._on_slider, lambda _: self.doc.end_merge())
                self.toolbox.addItem(self.forms[group], group)
            lo, hi = (0.0, 1.0) if sem is not None else (-3.0, 3.0)
            self.forms[group].add(str(i), unit, lo, hi)

    def neutral(self) -> None:
        """Zero expression: no preset, all sliders at 0."""
        s = self.doc.state
        self.doc.edit("Neutral expression", z_exp=np.zeros_like(s.z_exp), arkit=np.zeros_like(s.arkit),
                      preset="", intensity=1.0)

    def _apply(self, label: str, merge: str | None, **changes) -> None:
        s = self.doc.state.replace(**changes)
        if self.session.semantics is not None:
            changes["z_exp"] = self.session.expression_code(s.preset, s.intensity, s.arkit)
        self.doc.edit(label, merge=merge, **changes)

    def _on_slider(self, name: str, value: float) -> None:
        i = int(name)
        if self.session.semantics is None:
            z = self.doc.state.z_exp.copy()
            z[i] = value
            self.doc.edit(f"Expression code {i + 1}", merge=f"exp{i}", z_exp=z)
            return
        arkit = self.doc.state.arkit.copy()
        arkit[i] = value
        self._apply(f"Expression {self.session.arkit_units[i]}", f"arkit{i}", arkit=arkit)

    def _on_preset(self, text: str) -> None:
        if self.session is not None and self.session.semantics is not None:
            self._apply(f"Preset {text}", None, preset="" if text == NO_PRESET else text)

    def _on_intensity(self, value: float) -> None:
        if self.session is not None and self.session.semantics is not None:
            self._apply("Expression intensity", "intensity", intensity=float(value))

    def _on_change(self, fields: set[str]) -> None:
        if self.session is None or not fields & {"arkit", "z_exp", "preset", "intensity"}:
            return
        s = self.doc.state
        values = s.arkit if self.session.semantics is not None else s.z_exp
        for form in self.forms.values():
            form.show_values({n: values[int(n)] for n in form.sliders})
        with signals_blocked(self.preset):
            self.preset.setCurrentText(s.preset or NO_PRESET)
        with signals_blocked(self.intensity):
            self.intensity.setValue(s.intensity)
