"""A tiny Qt-free event emitter whose callbacks are held weakly (napari's EventEmitter habit).

    doc.events.connect(view._on_change)   # called with the set of changed field names
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any


class Emitter:
    """Calls connected callbacks with the emitted value; bound methods die with their object."""

    def __init__(self) -> None:
        self._refs: list[Callable[[], Callable[..., Any] | None]] = []
        self._blocked = 0

    def connect(self, callback: Callable[..., Any], first: bool = False) -> None:
        """Call `callback(value)` on every emission (weakly held when it is a bound method);
        `first`: before the callbacks connected earlier (a view that others depend on)."""
        method = hasattr(callback, "__self__") and hasattr(callback, "__func__")
        ref = weakref.WeakMethod(callback) if method else (lambda cb=callback: cb)
        self._refs.insert(0 if first else len(self._refs), ref)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Stop calling `callback`; no error when it was not connected."""
        self._refs = [r for r in self._refs if r() not in (None, callback)]

    def emit(self, value: Any) -> None:
        """Call every live callback with `value` (unless blocked)."""
        if self._blocked:
            return
        live = [(r, r()) for r in self._refs]
        self._refs = [r for r, cb in live if cb is not None]
        for _, cb in live:
            if cb is not None:
                cb(value)
