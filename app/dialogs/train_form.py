"""The hyperparameter form of the training dialog: preset, network size, steps, batch, lr, losses.

A preset fills every field from a whole `TrainConfig`: the shipped default model's
(`resources/train/default.yaml`, about 25 min on a 2-core CPU) or a quick preview with the
"tiny" network (a few minutes). Editing any field afterwards makes the form "Custom".
WSDF is the one trainable model kind of this version.
"""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QSpinBox, QWidget

from faceforge.core.train.config import TrainConfig

TINY = {"channels": (8, 16, 16), "factors": (4.0, 4.0), "res_blocks": 1, "coupled_dim": 32,
        "generator_hidden": (32,)}
TINY_NAME = "Tiny (minutes on a CPU)"
SIZES = {"Default (as the shipped model)": {}, TINY_NAME: TINY}
LOSSES = ("rec", "kl", "neu", "jac", "mi")
CUSTOM = "Custom"
DEFAULT_STEPS = 5000  # shown for a config that counts epochs, not steps


def default_yaml() -> Path:
    """The shipped default model's training config."""
    return Path(str(files("faceforge.resources"))) / "train" / "default.yaml"


def presets() -> dict[str, TrainConfig]:
    """Preset name -> the whole configuration it sets."""
    return {"As the shipped default model (default.yaml)": TrainConfig.from_yaml(default_yaml()),
            "Quick preview (tiny network, 2,000 steps)": TrainConfig.from_dict(
                {"model": TINY, "steps": 2000, "lr": 2e-3, "eval_every": 500})}


class TrainForm(QWidget):
    """Builds a `TrainConfig` from its fields (`config()`); `set_config` fills them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.presets = presets()
        self.preset = QComboBox()
        self.preset.addItems([*self.presets, CUSTOM])
        self.size = QComboBox()
        self.size.addItems(list(SIZES))
        self.steps = _int(1, 1, 10_000_000)
        self.k, self.m = _int(1, 1, 512), _int(1, 1, 512)
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-4)
        self.id_dim, self.exp_dim = _int(1, 1, 1024), _int(1, 1, 1024)
        self.eval_every = _int(0, 0, 10_000_000)
        self.threads = _int(max(1, (os.cpu_count() or 2) - 1), 1, 256)  # one core left to the editor
        self.device = QComboBox()
        self.device.addItems(_devices())
        self.weights = {k: QDoubleSpinBox(decimals=3, maximum=1e4) for k in LOSSES}
        self._layout()
        self.set_config(next(iter(self.presets.values())))
        self.preset.currentTextChanged.connect(self._apply_preset)
        for field in self._fields():
            signal = field.currentIndexChanged if isinstance(field, QComboBox) else field.valueChanged
            signal.connect(self._edited)

    def _layout(self) -> None:
        form = QFormLayout(self)
        form.addRow("Model", QLabel("WSDF (weakly supervised disentanglement)"))
        form.addRow("Preset", self.preset)
        form.addRow("Network size", self.size)
        form.addRow("Steps", self.steps)
        form.addRow("Batch: subjects K x meshes M", _row(self.k, self.m))
        form.addRow("Learning rate", self.lr)
        form.addRow("Latent sizes: identity, expression", _row(self.id_dim, self.exp_dim))
        form.addRow("Loss weights: " + ", ".join(LOSSES), _row(*self.weights.values()))
        form.addRow("Evaluate every (steps, 0: at the end)", self.eval_every)
        form.addRow("CPU threads", self.threads)
        form.addRow("Device (auto: a GPU when there is one)", self.device)

    def _fields(self) -> list[QWidget]:
        return [self.size, self.steps, self.k, self.m, self.lr, self.id_dim, self.exp_dim,
                self.eval_every, *self.weights.values()]

    def set_config(self, config: TrainConfig) -> None:
        """Show `config` in the fields (the preset combo is left as it is)."""
        tiny = tuple(config.model.channels) == TINY["channels"]
        values = {self.size: list(SIZES).index(TINY_NAME) if tiny else 0,
                  self.steps: config.steps or DEFAULT_STEPS, self.k: config.subjects_per_batch,
                  self.m: config.samples_per_subject, self.lr: config.lr, self.id_dim: config.model.id_dim,
                  self.exp_dim: config.model.exp_dim, self.eval_every: config.eval_every,
                  **{w: getattr(config.loss, k) for k, w in self.weights.items()}}
        for field, value in values.items():
            field.blockSignals(True)
            field.setCurrentIndex(value) if isinstance(field, QComboBox) else field.setValue(value)
            field.blockSignals(False)

    def _apply_preset(self, name: str) -> None:
        if name in self.presets:
            self.set_config(self.presets[name])

    def _edited(self, *_) -> None:
        self.mark_custom()

    def mark_custom(self) -> None:
        """Show "Custom" in the preset combo (the fields stay as they are)."""
        self.preset.blockSignals(True)
        self.preset.setCurrentText(CUSTOM)
        self.preset.blockSignals(False)

    def config(self) -> TrainConfig:
        """The configuration; raises `ConfigError` (with the reason) for invalid values."""
        model = {"id_dim": self.id_dim.value(), "exp_dim": self.exp_dim.value(), **SIZES[self.size.currentText()]}
        every = self.eval_every.value()
        return TrainConfig.from_dict({
            "model": model, "loss": {k: w.value() for k, w in self.weights.items()},
            "steps": self.steps.value(), "subjects_per_batch": self.k.value(),
            "samples_per_subject": self.m.value(), "lr": self.lr.value(), "eval_every": every,
            "checkpoint_every": every, "log_every": 1, "threads": self.threads.value(),
            "device": self.device.currentText()}, where="(dialog)")


def _devices() -> list[str]:
    from faceforge.core.train.distributed import available_devices  # imports torch

    return available_devices()


def _int(value: int, lo: int, hi: int) -> QSpinBox:
    return QSpinBox(minimum=lo, maximum=hi, value=value)


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return box
