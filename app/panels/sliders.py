"""A form of labelled float sliders, each bound to one named control."""
from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFormLayout, QWidget
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked


class SliderForm(QWidget):
    """Rows of `QLabeledDoubleSlider`s; reports `on_change(name, value)` and `on_release(name)`."""

    def __init__(self, on_change: Callable[[str, float], None], on_release: Callable[[str], None],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._on_change, self._on_release = on_change, on_release
        self.sliders: dict[str, QLabeledDoubleSlider] = {}
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 2)

    def add(self, name: str, label: str, lo: float, hi: float, decimals: int = 2) -> QLabeledDoubleSlider:
        """Add a slider for `name` over [lo, hi]."""
        s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        s.setRange(lo, hi)
        s.setDecimals(decimals)
        s.setObjectName(name)
        s.valueChanged.connect(lambda v, n=name: self._on_change(n, float(v)))
        s.sliderReleased.connect(lambda n=name: self._on_release(n))
        s.editingFinished.connect(lambda n=name: self._on_release(n))
        self._layout.addRow(label, s)
        self.sliders[name] = s
        return s

    def clear(self) -> None:
        """Remove every slider."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.sliders.clear()

    def show_values(self, values: dict[str, float]) -> None:
        """Move sliders to `values` without reporting changes (model -> widget)."""
        for name, v in values.items():
            s = self.sliders[name]
            with signals_blocked(s):
                s.setValue(round(min(max(float(v), s.minimum()), s.maximum()), s.decimals()))
