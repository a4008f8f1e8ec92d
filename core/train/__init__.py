"""Training: the WSDF trainer (single process or torchrun DDP), Neutral Bank, losses, events.

`train(config, dataset, out_dir)` is a plain generator of typed events (see `events`); the
app wraps it in a worker, the CLI drives it with a progress bar. Import the submodules
directly (`from faceforge.core.train.trainer import train`); this package imports nothing
heavy on its own.
"""
