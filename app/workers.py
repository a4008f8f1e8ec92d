"""Running work off the GUI thread with superqt workers.

`LatestWins` serves a stream of requests (slider drags): at most one job runs, at most one
waits, and a newer request replaces the waiting one, so stale decodes are dropped rather
than queued. Results arrive on the GUI thread through the worker's `returned` signal.
`reported` wraps a generator job so that every exception reaches the worker's `errored`.
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from superqt.utils import create_worker

Y, S, R = TypeVar("Y"), TypeVar("S"), TypeVar("R")


class JobError(Exception):
    """A RuntimeError (torch raises many) from a generator job; the original is its __cause__."""


def reported(gen: Generator[Y, S, R]) -> Generator[Y, S, R]:
    """Run `gen` (values sent in pass through), re-raising a RuntimeError as JobError: superqt's
    GeneratorWorker takes a RuntimeError for a deleted worker and drops it, `errored` never fires."""
    try:
        return (yield from gen)
    except RuntimeError as exc:
        raise JobError(f"{type(exc).__name__}: {exc}") from exc


class LatestWins:
    """Run `fn(*args)` in a worker thread, keeping only the newest pending request.

    Parameters
    ----------
    on_result : called on the GUI thread with each finished job's return value
    on_error : called on the GUI thread with an exception a job raised
    """

    def __init__(self, on_result: Callable[[Any], None], on_error: Callable[[Exception], None]):
        self._on_result, self._on_error = on_result, on_error
        self._pending: tuple[Callable, tuple] | None = None
        self._worker = None
        self.dropped = 0  # requests replaced before they ran

    @property
    def busy(self) -> bool:
        """A job is running or waiting."""
        return self._worker is not None or self._pending is not None

    def submit(self, fn: Callable, *args: Any) -> None:
        """Run `fn(*args)` now, or after the running job, replacing any request still waiting."""
        if self._pending is not None:
            self.dropped += 1
        self._pending = (fn, args)
        if self._worker is None:
            self._next()

    def _next(self) -> None:
        self._worker = None
        if self._pending is None:
            return
        fn, args = self._pending
        self._pending = None
        self._worker = create_worker(fn, *args, _connect={
            "returned": self._on_result, "errored": self._on_error, "finished": self._next})

    def wait(self, msecs: int = 10_000) -> None:
        """Block until every job has finished (for tests and shutdown)."""
        from qtpy.QtCore import QDeadlineTimer, QThreadPool
        from qtpy.QtWidgets import QApplication

        deadline = QDeadlineTimer(msecs)
        while self.busy and not deadline.hasExpired():
            QThreadPool.globalInstance().waitForDone(5)
            QApplication.processEvents()
