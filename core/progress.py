"""Run the plain progress generators that core's long jobs are written as."""
from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def drive(gen: Generator[T, None, R], on_item: Callable[[T], None] | None = None) -> R:
    """Run `gen` to its end, passing each yielded record to `on_item`; return its value."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_item is not None:
            on_item(item)
