"""The hyperparameter form of the training dialog: model kind, size, steps, batch, lr, losses.

Defaults come from `TrainConfig`, `LossConfig` and `WSDFConfig`; "tiny" is a small network
that trains in minutes on a CPU (previews, tests, benchmarks).
"""
from __future__ import annotations

from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from faceforge.core.train.config import LossConfig, TrainConfig

TINY = {"channels": (8, 16, 16), "factors": (4.0, 4.0), "res_blocks": 1, "coupled_dim": 32,
        "generator_hidden": (32,)}
SIZES = {"Tiny (minutes on a CPU)": TINY, "Paper (full size)": {}}
LOSSES = ("rec", "kl", "neu", "jac", "mi")
DEFAULT_STEPS = 5000


class TrainForm(QWidget):
    """Builds a `TrainConfig` from its fields (`config()`)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        d, loss = TrainConfig(), LossConfig()
        self.kind = QComboBox()
        self.kind.addItem("WSDF (weakly supervised disentanglement)")
        self.size = QComboBox()
        self.size.addItems(list(SIZES))
        self.steps = _int(DEFAULT_STEPS, 1, 10_000_000)
        self.k, self.m = _int(d.subjects_per_batch, 1, 512), _int(d.samples_per_subject, 1, 512)
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-4, value=d.lr)
        self.id_dim, self.exp_dim = _int(d.model.id_dim, 1, 1024), _int(d.model.exp_dim, 1, 1024)
        self.eval_every = _int(d.eval_every, 0, 10_000_000)
        self.threads = _int(1, 1, 256)
        self.weights = {k: QDoubleSpinBox(decimals=3, maximum=1e4, value=getattr(loss, k)) for k in LOSSES}
        form = QFormLayout(self)
        form.addRow("Model", self.kind)
        form.addRow("Network size", self.size)
        form.addRow("Steps", self.steps)
        form.addRow("Batch: subjects K x meshes M", _row(self.k, self.m))
        form.addRow("Learning rate", self.lr)
        form.addRow("Latent sizes: identity, expression", _row(self.id_dim, self.exp_dim))
        form.addRow("Loss weights: " + ", ".join(LOSSES), _row(*self.weights.values()))
        form.addRow("Evaluate every (steps, 0: at the end)", self.eval_every)
        form.addRow("CPU threads", self.threads)

    def config(self) -> TrainConfig:
        """The configuration; raises `ConfigError` (with the reason) for invalid values."""
        model = {"id_dim": self.id_dim.value(), "exp_dim": self.exp_dim.value(), **SIZES[self.size.currentText()]}
        every = self.eval_every.value()
        return TrainConfig.from_dict({
            "model": model, "loss": {k: w.value() for k, w in self.weights.items()},
            "steps": self.steps.value(), "subjects_per_batch": self.k.value(),
            "samples_per_subject": self.m.value(), "lr": self.lr.value(), "eval_every": every,
            "checkpoint_every": every, "log_every": 1, "threads": self.threads.value()}, where="(dialog)")


def _int(value: int, lo: int, hi: int) -> QSpinBox:
    return QSpinBox(minimum=lo, maximum=hi, value=value)


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return box
