"""The editable document: model reference, undoable `State`, camera view, file and dirty flag.

Views subscribe to `events` (called with the set of changed names: State fields, "view",
"model", "path", "dirty", "history") and never hold state of their own; every edit goes
through `edit`, which records undo and emits only on a real change.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .events import Emitter
from .history import History
from .state import STATE_FIELDS, State


class Document:
    """See the module docstring."""

    def __init__(self, state: State, model_path: str | Path | None = None) -> None:
        self.events = Emitter()
        self.history = History()
        self._state = state
        self.model_path = None if model_path is None else str(model_path)
        self.view: dict[str, Any] = {}
        self.path: Path | None = None
        self.dirty = False

    @property
    def state(self) -> State:
        """The current state (immutable; change it with `edit`)."""
        return self._state

    def edit(self, label: str, merge: str | None = None, **changes: Any) -> None:
        """Apply `changes` to the state as one undoable step named `label`.

        Edits with the same `merge` key fold into one step until `end_merge`.
        """
        new = self._state.replace(**changes)
        fields = new.changed_fields(self._state)
        if not fields:
            return
        self.history.record(label, self._state, new, merge)
        self._set(new, fields)

    def end_merge(self) -> None:
        """Close the current merged step (call when a slider is released)."""
        self.history.close()

    def undo(self) -> bool:
        """Revert the last step; False when there was none."""
        step = self.history.undo()
        if step is not None:
            self._set(step.before, step.before.changed_fields(self._state))
        return step is not None

    def redo(self) -> bool:
        """Re-apply the last undone step; False when there was none."""
        step = self.history.redo()
        if step is not None:
            self._set(step.after, step.after.changed_fields(self._state))
        return step is not None

    def set_view(self, view: dict[str, Any]) -> None:
        """Record the camera (not undoable)."""
        if view != self.view:
            self.view = dict(view)
            self.events.emit({"view"})

    def mark_saved(self, path: str | Path) -> None:
        """The document now lives at `path` and has no unsaved changes."""
        self.path = Path(path)
        self.dirty = False
        self.events.emit({"path", "dirty"})

    def replace_all(self, state: State, model_path: str | Path | None, view: dict[str, Any],
                    path: str | Path | None = None) -> None:
        """Load a whole new document (opened project or new model): history is cleared."""
        self.history.clear()
        self._state = state
        self.model_path = None if model_path is None else str(model_path)
        self.view = dict(view)
        self.path = None if path is None else Path(path)
        self.dirty = False
        self.events.emit({"model", "view", "path", "dirty", "history", *STATE_FIELDS})

    def _set(self, state: State, fields: set[str]) -> None:
        self._state = state
        self.dirty = True
        self.events.emit(fields | {"dirty", "history"})
