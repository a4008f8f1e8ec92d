"""The editable document: model reference, undoable `State`, camera view, file and dirty flag.

Views subscribe to `events` (called with the set of changed names: State fields, "view",
"model", "path", "dirty", "recovered", "history") and never hold state of their own; every
edit goes through `edit` (or `switch_model`), which records undo and emits only on a real change.
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
        self.model_path = _path_str(model_path)
        self.view: dict[str, Any] = {}
        self.path: Path | None = None
        self.dirty = False
        self.recovered = False  # restored from an autosave and not saved since

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
        self._set(new, fields, self.model_path)

    def switch_model(self, label: str, model_path: str | Path | None, state: State) -> None:
        """Move onto another model with `state` (sized for it) as one undoable step.

        Every state field is reported changed: the same numbers mean something else now.
        """
        models = (self.model_path, _path_str(model_path))
        self.history.record(label, self._state, state, models=models)
        self._set(state, set(STATE_FIELDS), models[1])

    def end_merge(self) -> None:
        """Close the current merged step (call when a slider is released)."""
        self.history.close()

    def undo(self) -> bool:
        """Revert the last step; False when there was none."""
        step = self.history.undo()
        if step is not None:
            self._step(step.before, step.models[0] if step.models else self.model_path)
        return step is not None

    def redo(self) -> bool:
        """Re-apply the last undone step; False when there was none."""
        step = self.history.redo()
        if step is not None:
            self._step(step.after, step.models[1] if step.models else self.model_path)
        return step is not None

    def set_view(self, view: dict[str, Any]) -> None:
        """Record the camera (not undoable)."""
        if view != self.view:
            self.view = dict(view)
            self.events.emit({"view"})

    def mark_saved(self, path: str | Path) -> None:
        """The document now lives at `path` and has no unsaved changes."""
        self.path = Path(path)
        self.dirty = self.recovered = False
        self.events.emit({"path", "dirty", "recovered"})

    def mark_recovered(self) -> None:
        """The document was restored from an autosave: it has unsaved changes until saved."""
        self.dirty = self.recovered = True
        self.events.emit({"dirty", "recovered"})

    def replace_all(self, state: State, model_path: str | Path | None, view: dict[str, Any],
                    path: str | Path | None = None) -> None:
        """Load a whole new document (opened project or new model): history is cleared."""
        self.history.clear()
        self._state = state
        self.model_path = _path_str(model_path)
        self.view = dict(view)
        self.path = None if path is None else Path(path)
        self.dirty = self.recovered = False
        self.events.emit({"model", "view", "path", "dirty", "recovered", "history", *STATE_FIELDS})

    def _step(self, state: State, model_path: str | None) -> None:
        """Undo or redo to `state` on `model_path`."""
        fields = set(STATE_FIELDS) if model_path != self.model_path else state.changed_fields(self._state)
        self._set(state, fields, model_path)

    def _set(self, state: State, fields: set[str], model_path: str | None) -> None:
        changed = fields | {"dirty", "history"} | ({"model"} if model_path != self.model_path else set())
        self._state, self.model_path = state, model_path
        self.dirty = True
        self.events.emit(changed)


def _path_str(path: str | Path | None) -> str | None:
    return None if path is None else str(path)
