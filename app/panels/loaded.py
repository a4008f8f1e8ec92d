"""Loaded-mesh panel: what the model made of an opened mesh, and taking its codes.

"Compare" shows input | reconstruction (error heat map) | neutralized side by side, or the
input overlaid on its reconstruction. "Use in editor" takes both codes, "Take expression"
only z_exp (onto the current identity), "Take identity" only z_id (identity swap); each is
one undoable step. The transferred
expression is a raw code, so the ARKit sliders and preset go back to zero/none.
"""
from __future__ import annotations

import numpy as np
import qtawesome as qta
from qtpy.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from faceforge.core.document import Document

from ..meshin import Comparison
from .compare import CompareControls, View


class LoadedMeshPanel(QWidget):
    """Shows a `Comparison`; `compare.changed` asks the window to show `shown()` or the face."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.comparison = doc, None
        self.info = QLabel("Open a mesh in the model's topology with <b>File ▸ Open Mesh…</b>.", wordWrap=True)
        self.compare = CompareControls("Compare input and model")
        self.use = _button("mdi6.account-arrow-left", "Use in editor", self.use_in_editor)
        self.take_exp = _button("mdi6.emoticon-outline", "Take expression", self.take_expression)
        self.take_id = _button("mdi6.account-switch", "Take identity", self.take_identity)
        layout = QVBoxLayout(self)
        for w in (self.info, self.compare, self.use, self.take_exp, self.take_id):
            layout.addWidget(w)
        layout.addStretch(1)
        self.set_comparison(None)

    def set_comparison(self, comparison: Comparison | None) -> None:
        """Show a freshly encoded mesh (compare on), or nothing (None)."""
        self.comparison = comparison
        for w in (self.compare, self.use, self.take_exp, self.take_id):
            w.setEnabled(comparison is not None)
        self.compare.set_on(comparison is not None, notify=False)
        if comparison is not None:
            self.info.setText(comparison.summary())

    def shown(self) -> View | None:
        """What "Compare" shows, or None when it is off."""
        c = self.comparison
        if not self.compare.on or c is None:
            return None
        if self.compare.layout_name == "overlay":
            return View([c.input, c.reconstruction], ["input", "reconstruction (error)"], c.error, "overlay")
        return View([c.input, c.reconstruction, c.neutral], ["input", "reconstruction (error)", "neutralized"],
                    c.error, "side")

    def use_in_editor(self) -> None:
        """Both codes of the loaded mesh."""
        self._edit(f"Use {self.comparison.path.name}", z_id=self.comparison.z_id, **self._expression())

    def take_expression(self) -> None:
        """The loaded mesh's expression on the current identity."""
        self._edit(f"Expression from {self.comparison.path.name}", **self._expression())

    def take_identity(self) -> None:
        """The loaded mesh's identity with the current expression."""
        self._edit(f"Identity from {self.comparison.path.name}", z_id=self.comparison.z_id)

    def _expression(self) -> dict:
        s = self.doc.state
        return {"z_exp": self.comparison.z_exp, "arkit": np.zeros_like(s.arkit), "preset": "", "intensity": 1.0}

    def _edit(self, label: str, **changes) -> None:
        self.doc.edit(label, **changes)
        self.compare.set_on(False)


def _button(icon: str, text: str, slot) -> QPushButton:
    button = QPushButton(qta.icon(icon), text)
    button.clicked.connect(slot)
    return button
