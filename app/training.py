"""The training job of the training dialog, run in its own process (no Qt in this module).

    TrainingJob.start()                         GUI process
      -> spawn: _child(...)                     child process, `NICE` lower CPU priority
           run_training: read_dataset -> core.train.trainer.train -> fit semantics
           -> messages Queue: ("event", Event) ... ("warning", text) ... then
              ("result", TrainResult without the in-memory model) or ("error", kind, text, log)
    TrainingJob.poll() drains the queue without blocking (the dialog calls it from a QTimer);
    a child that died without a final message yields ("error", "crash", ...).
    TrainingJob.cancel() sets a multiprocessing Event the trainer checks before every step.

Why a process: the trainer is a Python loop (torch releases the GIL only inside kernels) and its
first steps import torch's compiler stack; in a thread of the GUI process both held the GIL for
hundreds of milliseconds and every GIL hand-back took up to a switch interval (5 ms) per
callback, stalling the GUI thread and the decode worker. The child also runs `nice`d, so the
editor keeps the CPU it needs on small machines. Only a spawned (not forked) child is safe in a
process that runs Qt and VTK threads; it needs the usual `if __name__ == "__main__":` guard in
the script that started the GUI (the `faceforge` command has it).
"""
from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

from faceforge.core.train.config import TrainConfig

NICE = 19  # the child's CPU priority increment: training is background work, the editor wins
LINGER_S = 10.0  # a child still running this long after its final message is killed


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


class TrainingJob:
    """One training run in a spawned child process; see the module docstring.

    Parameters
    ----------
    config, data, out, resume : as for `run_training`
    """

    def __init__(self, config: TrainConfig, data: str | Path, out: str | Path, resume: bool):
        ctx = mp.get_context("spawn")
        self._messages = ctx.Queue()
        self._cancel = ctx.Event()
        # The config travels as a plain dict: unpickling a TrainConfig would import the model
        # code (torch, trimesh) in the child before it lowers its priority.
        self._process = ctx.Process(target=_child, name="faceforge-training", args=(
            config.to_dict(), str(data), str(out), resume, self._messages, self._cancel, os.getpid()))
        self._ended: float | None = None  # when the final message ("result" or "error") was read
        self.finished = False  # the final message was read and the child has exited

    def start(self) -> None:
        """Start the child process at a lower CPU priority (POSIX; elsewhere the default)."""
        self._process.start()
        if hasattr(os, "setpriority"):  # from here, before the child has started its interpreter
            with contextlib.suppress(ProcessLookupError):  # it already ended: `poll` reports it
                os.setpriority(os.PRIO_PROCESS, self._process.pid, os.getpriority(os.PRIO_PROCESS, 0) + NICE)

    def cancel(self) -> None:
        """Ask the trainer to stop after the current step (it writes a checkpoint)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """`cancel()` was called."""
        return self._cancel.is_set()

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._process.pid

    def poll(self, limit: int = 1000) -> list[tuple]:
        """Up to `limit` pending messages, without blocking; see the module docstring.

        After the final message it frees the process once it has exited (then `finished`),
        killing a child that lingers `LINGER_S` s.
        """
        out = self._drain(limit)
        if self._ended is None and not out and not self._process.is_alive():
            out = self._drain(limit)  # anything the child wrote just before exiting
            if not out:
                self._ended = time.monotonic()
                out = [("error", "crash", _exit_reason(self._process.exitcode), "")]
        if self._ended is not None and not self.finished:
            if self._process.is_alive() and time.monotonic() - self._ended > LINGER_S:
                self._process.kill()
            if not self._process.is_alive():
                self.close()
        return out

    def _drain(self, limit: int) -> list[tuple]:
        out = []
        while len(out) < limit and self._ended is None:
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                break
            out.append(message)
            if message[0] in ("result", "error"):
                self._ended = time.monotonic()
        return out

    def close(self) -> None:
        """Wait for the child to exit (blocks while it runs: cancel first) and free its resources."""
        if not self.finished:
            self.finished = True
            self._process.join()
            self._messages.close()
            self._messages.join_thread()
            self._process.close()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class _Cancel:
    """The trainer's cancel flag: the GUI asked, or the GUI process is gone."""

    def __init__(self, event, parent_pid: int):
        self.event, self.parent_pid = event, parent_pid

    def is_set(self) -> bool:
        return self.event.is_set() or os.getppid() != self.parent_pid


def _child(config: dict, data: str, out: str, resume: bool, messages, cancel, parent_pid: int) -> None:
    """The child process: run the job and report every event, warning, the result or the error."""
    if config.get("threads"):  # numpy's BLAS (evaluation, semantics fit) keeps to the chosen threads too
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, str(config["threads"]))

    def warn(message, category, *_args, **_kwargs) -> None:
        messages.put(("warning", f"{category.__name__}: {message}"))

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = warn
        try:
            job = run_training(TrainConfig.from_dict(config), data, out, resume, _Cancel(cancel, parent_pid))
            while True:
                messages.put(("event", next(job)))
        except StopIteration as stop:
            messages.put(("result", dataclasses.replace(stop.value, model=None)))
        except Exception as exc:  # noqa: BLE001 (every failure goes back to the GUI as a typed error)
            log = traceback.format_exc()
            print(log, file=sys.stderr, flush=True)
            messages.put(("error", type(exc).__name__, str(exc), log))
