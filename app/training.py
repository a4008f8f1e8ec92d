"""The training job the training dialog runs in a worker thread.

`run_training` is a generator (wrapped by superqt's `create_worker`): it reads the dataset,
forwards every record of `core.train.trainer.train`, then fits and saves the editor
semantics next to the checkpoint (also after a cancel, so that checkpoint opens fully).
"""
from __future__ import annotations

import threading
from pathlib import Path

from faceforge.core.train.config import TrainConfig


def run_training(config: TrainConfig, data: str | Path, out: str | Path, resume: bool,
                 cancel: threading.Event):
    """Yield the trainer's events; return its `TrainResult` (semantics saved when possible)."""
    from faceforge.core.data.readers import read_dataset
    from faceforge.core.models.semantics import fit_for_checkpoint
    from faceforge.core.train.trainer import train

    dataset = read_dataset(data)
    result = yield from train(config, dataset, out, resume=resume, cancel=cancel)
    if result.checkpoint is not None and "arkit" in dataset.extras:
        fit_for_checkpoint(result.checkpoint, dataset)
    return result
