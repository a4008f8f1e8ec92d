"""Identity panel: random identity, prior-axis sliders, attribute sliders, plausibility."""
from __future__ import annotations

import qtawesome as qta
from qtpy.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                            QVBoxLayout, QWidget)

from faceforge.core.document import Document

from ..session import SLIDER_DIRECTIONS, Session
from .sliders import SliderForm

SIGMA = 3.0  # slider range: +-3 standard deviations
PLAUSIBLE_LEVEL = 0.05  # "project to plausible" pulls codes inside the 95 % region


class IdentityPanel(QWidget):
    """Edits `state.z_id` of the document."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.session = doc, None
        self.seed = QSpinBox(maximum=2**31 - 1)
        random = QPushButton(qta.icon("mdi6.dice-5"), "Random")
        random.clicked.connect(self.randomize)
        reset = QPushButton(qta.icon("mdi6.restore"), "Reset")
        reset.clicked.connect(self.reset)
        top = QHBoxLayout()
        for w in (QLabel("Seed"), self.seed, random, reset):
            top.addWidget(w)
        self.axes = SliderForm(self._on_axis, self._on_release)
        self.attributes = SliderForm(self._on_attribute, self._on_release)
        self.plausibility = QProgressBar(maximum=100, format="plausibility %p %")
        project = QPushButton(qta.icon("mdi6.target"), "Project to plausible")
        project.clicked.connect(self.project)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(_group("Main directions (std. dev.)", self.axes))
        self.attribute_box = _group("Attributes", self.attributes)
        layout.addWidget(self.attribute_box)
        layout.addWidget(self.plausibility)
        layout.addWidget(project)
        layout.addStretch(1)
        doc.events.connect(self._on_change)

    def set_session(self, session: Session | None) -> None:
        """Rebuild the sliders for a model (None: empty)."""
        self.session = session
        self.axes.clear()
        self.attributes.clear()
        self.setEnabled(session is not None)
        if session is None:
            return
        for k in range(min(SLIDER_DIRECTIONS, len(session.basis.scales))):
            self.axes.add(f"axis{k}", f"Direction {k + 1}", -SIGMA, SIGMA)
        sem = session.semantics
        self.attribute_box.setVisible(sem is not None)
        for name in (sem.attributes if sem is not None else []):
            lo, hi = session.semantics.attribute_range(name, SIGMA)
            self.attributes.add(name, name.capitalize(), lo, hi)

    def randomize(self) -> None:
        """A new identity from the prior, reproducible from the seed; the seed then advances."""
        z = self.session.basis.random(self.seed.value())
        self.doc.edit(f"Random identity (seed {self.seed.value()})", z_id=z)
        self.seed.setValue(self.seed.value() + 1)

    def reset(self) -> None:
        """The mean identity."""
        self.doc.edit("Reset identity", z_id=self.session.basis.mean)

    def project(self) -> None:
        """Pull an implausible identity back inside the prior's 95 % region."""
        prior = self.session.semantics.identity_prior if self.session.semantics else None
        if prior is not None:
            self.doc.edit("Project to plausible", z_id=prior.project(self.doc.state.z_id, PLAUSIBLE_LEVEL))

    def _on_axis(self, name: str, value: float) -> None:
        k = int(name[4:])
        z = self.session.basis.with_coord(self.doc.state.z_id, k, value)
        self.doc.edit(f"Identity direction {k + 1}", merge=name, z_id=z)

    def _on_attribute(self, name: str, value: float) -> None:
        z = self.session.semantics.set_attribute(self.doc.state.z_id, name, value)
        self.doc.edit(f"Identity {name}", merge=name, z_id=z)

    def _on_release(self, name: str) -> None:
        self.doc.end_merge()

    def _on_change(self, fields: set[str]) -> None:
        if "z_id" not in fields or self.session is None:
            return
        z = self.doc.state.z_id
        coords = self.session.basis.coords(z)
        self.axes.show_values({n: coords[int(n[4:])] for n in self.axes.sliders})
        sem = self.session.semantics
        if sem is None:
            self.plausibility.setValue(0)
            self.plausibility.setFormat("plausibility: no prior stored with this model")
            return
        self.attributes.show_values({n: float(sem.attribute(z, n)) for n in self.attributes.sliders})
        self.plausibility.setValue(round(100 * float(sem.identity_prior.plausibility(z))))


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.addWidget(widget)
    return box
