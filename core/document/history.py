"""Undo/redo of whole `State` snapshots (states are immutable, so a step is two references).

A step may also move the document onto another model (`models`: the model folder before
and after), so switching models is undone like any edit.

Consecutive edits with the same merge key (one slider drag) fold into one step until
`close()` (slider released) or an edit with another key.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .state import State

MAX_STEPS = 500


@dataclass
class Step:
    """One undoable edit: its label, the states around it and, for a model switch, the model
    folders before and after."""

    label: str
    before: State
    after: State
    merge: str | None = None
    models: tuple[str | None, str | None] | None = None


class History:
    """Bounded undo stack and a redo stack that is cleared by every new edit."""

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        self._undo: deque[Step] = deque(maxlen=max_steps)
        self._redo: list[Step] = []
        self._open = False  # the last step may still absorb edits with its merge key

    def record(self, label: str, before: State, after: State, merge: str | None = None,
               models: tuple[str | None, str | None] | None = None) -> None:
        """Add an edit, or extend the last step when it is open with the same merge key."""
        self._redo.clear()
        last = self._undo[-1] if self._undo else None
        if merge is not None and self._open and last is not None and last.merge == merge:
            last.after = after
            return
        self._undo.append(Step(label, before, after, merge, models))
        self._open = merge is not None

    def close(self) -> None:
        """End the current merge (e.g. on slider release)."""
        self._open = False

    def undo(self) -> Step | None:
        """The step to revert (moved to redo), or None when there is nothing to undo."""
        self._open = False
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return step

    def redo(self) -> Step | None:
        """The step to re-apply (moved back to undo), or None."""
        self._open = False
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        return step

    @property
    def undo_label(self) -> str | None:
        """Label of the step `undo` would revert."""
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        """Label of the step `redo` would re-apply."""
        return self._redo[-1].label if self._redo else None

    def clear(self) -> None:
        """Forget every step."""
        self._undo.clear()
        self._redo.clear()
        self._open = False
