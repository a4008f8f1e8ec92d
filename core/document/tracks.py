"""Keyframe tracks of one latent code over time, with a per-track interpolation mode.

Times are seconds. A track is immutable: every edit returns a new track, so a document
snapshot (and therefore undo) is a plain reference copy.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

INTERPOLATIONS = ("linear", "smooth", "step")
"""linear: straight blend; smooth: ease in/out (smoothstep) between keys; step: hold each key."""
TIME_EPS = 1e-6  # s; keys closer than this are the same key


@dataclass(frozen=True, eq=False)
class Keyframe:
    """A code (D,) float32 held at `time` seconds."""

    time: float
    code: np.ndarray

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Keyframe) and abs(self.time - other.time) < TIME_EPS
                and np.array_equal(self.code, other.code))


@dataclass(frozen=True)
class Track:
    """Keyframes sorted by time, and how to interpolate between them."""

    keys: tuple[Keyframe, ...] = ()
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {self.interpolation!r}; choose one of {INTERPOLATIONS}")
        object.__setattr__(self, "keys", tuple(sorted(self.keys, key=lambda k: k.time)))

    @property
    def times(self) -> list[float]:
        """Key times in seconds, ascending."""
        return [k.time for k in self.keys]

    def find(self, time: float) -> int | None:
        """Index of the key at `time`, or None."""
        return next((i for i, k in enumerate(self.keys) if abs(k.time - time) < TIME_EPS), None)

    def with_key(self, time: float, code: np.ndarray) -> Track:
        """A track with a key (code copied as float32) at `time`, replacing one already there."""
        key = Keyframe(float(time), np.array(code, np.float32))
        return replace(self, keys=tuple(k for k in self.keys if abs(k.time - time) >= TIME_EPS) + (key,))

    def without_key(self, time: float) -> Track:
        """A track without the key at `time` (KeyError when there is none)."""
        i = self.find(time)
        if i is None:
            raise KeyError(f"no keyframe at {time:.3f} s; keys are at {self.times}")
        return replace(self, keys=self.keys[:i] + self.keys[i + 1:])

    def moved(self, time: float, new_time: float) -> Track:
        """A track whose key at `time` now sits at `new_time` (replacing a key there)."""
        i = self.find(time)
        if i is None:
            raise KeyError(f"no keyframe at {time:.3f} s; keys are at {self.times}")
        return self.without_key(time).with_key(max(0.0, new_time), self.keys[i].code)

    def sample(self, time: float) -> np.ndarray | None:
        """(D,) float32 code at `time`, held constant outside the keys; None with no keys."""
        if not self.keys:
            return None
        times = self.times
        j = int(np.searchsorted(times, time, side="right"))
        if j == 0:
            return self.keys[0].code.copy()
        if j == len(times):
            return self.keys[-1].code.copy()
        a, b = self.keys[j - 1], self.keys[j]
        u = (time - a.time) / (b.time - a.time)
        u = {"linear": u, "smooth": u * u * (3 - 2 * u), "step": 0.0}[self.interpolation]
        return ((1 - u) * a.code + u * b.code).astype(np.float32)

    def end(self) -> float:
        """Time of the last key (0 with no keys), seconds."""
        return self.keys[-1].time if self.keys else 0.0
