"""Compare controls shared by the panels that can show meshes instead of the editor's face.

A panel holds a `CompareControls`; `changed` fires when the box is ticked or unticked or the
layout changes, and the window then asks the panel for `View` (`shown()`) to display.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QWidget
from superqt.utils import signals_blocked

LAYOUTS = {"Side by side": "side", "Overlay": "overlay"}


@dataclass(frozen=True)
class View:
    """Meshes (M, N, 3) mm to show, their labels, the second one's heat map (N,) mm or None, the layout."""

    meshes: list[np.ndarray]
    labels: list[str]
    heat: np.ndarray | None
    layout: str


class CompareControls(QWidget):
    """"Compare" check box and a side-by-side / overlay choice."""

    changed = Signal()

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.box = QCheckBox(text)
        self.layout_choice = QComboBox()
        self.layout_choice.addItems(list(LAYOUTS))
        self.box.toggled.connect(lambda *_: self.changed.emit())
        self.layout_choice.currentTextChanged.connect(lambda *_: self.changed.emit())
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box, 1)
        row.addWidget(self.layout_choice)

    @property
    def on(self) -> bool:
        return self.box.isChecked()

    @property
    def layout_name(self) -> str:
        """"side" or "overlay"."""
        return LAYOUTS[self.layout_choice.currentText()]

    def set_on(self, on: bool, notify: bool = True) -> None:
        """Tick or untick the box (`notify` False: no `changed`)."""
        if notify:
            self.box.setChecked(on)
        else:
            with signals_blocked(self.box):
                self.box.setChecked(on)
