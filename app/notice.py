"""A non-modal notice strip above the viewport: a message, a few buttons, a close button."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import qtawesome as qta
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

KINDS = {"info": ("mdi6.information-outline", "#2d4a66"), "warning": ("mdi6.alert-outline", "#6b4d12")}


class NoticeBar(QFrame):
    """Shows one notice at a time; nothing blocks while it is up."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, objectName="noticeBar")
        self.icon = QLabel()
        self.text = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.buttons: dict[str, QPushButton] = {}
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(8, 4, 4, 4)
        self._row.addWidget(self.icon)
        self._row.addWidget(self.text, 1)
        self.close_button = QToolButton(icon=qta.icon("mdi6.close"), toolTip="Dismiss", autoRaise=True)
        self.close_button.clicked.connect(self._closed)
        self._row.addWidget(self.close_button)
        self._on_close: Callable[[], None] | None = None
        self.topic = ""  # what the notice is about, e.g. "recovery" or "model"
        self.hide()

    def show_notice(self, text: str, kind: str = "info", buttons: Sequence[tuple[str, Callable[[], None]]] = (),
                    on_close: Callable[[], None] | None = None, topic: str = "") -> None:
        """Replace the current notice; `buttons` are (label, slot); `on_close` runs when the user
        dismisses it; `topic` lets `dismiss` remove only notices about one thing."""
        icon, colour = KINDS[kind]
        self.setStyleSheet(f"#noticeBar {{ background: {colour}; }} #noticeBar QLabel {{ color: white; }}")
        self.icon.setPixmap(qta.icon(icon, color="white").pixmap(20, 20))
        self.text.setText(text)
        for button in self.buttons.values():
            button.deleteLater()
        self.buttons = {}
        for label, slot in buttons:
            button = QPushButton(label)
            button.clicked.connect(lambda *_, s=slot: s())
            self._row.insertWidget(self._row.count() - 1, button)
            self.buttons[label] = button
        self._on_close, self.topic = on_close, topic
        self.show()

    def dismiss(self, topic: str | None = None) -> None:
        """Hide the notice (only if it is about `topic`, when given) without running its `on_close`."""
        if topic is None or topic == self.topic:
            self._on_close = None
            self.hide()

    def _closed(self) -> None:
        on_close, self._on_close = self._on_close, None
        self.hide()
        if on_close is not None:
            on_close()
