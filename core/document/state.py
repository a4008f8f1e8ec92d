"""The undoable editor state: latent codes, expression controls and the keyframe tracks.

Immutable: `State.replace(**changes)` returns a new state, so undo keeps references, and
`changed_fields` compares arrays by value (an event fires only on a real change).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .snapshots import Snapshot
from .tracks import Track

ARRAYS = ("z_id", "z_exp", "arkit")


@dataclass(frozen=True, eq=False)
class State:
    """What the artist edits.

    z_id, z_exp : (I,), (E,) float32 identity and expression codes (what is decoded)
    arkit : (A,) float32 ARKit coefficients of the expression sliders (A = 0 without semantics)
    preset : expression category under the sliders ("" for none), scaled by `intensity`
    identity, expression : keyframe tracks of z_id and z_exp
    fps, duration : timeline frame rate (frames/s) and length (s)
    snapshots : stored states (`snapshots.Snapshot`), in the order the artist made them
    """

    z_id: np.ndarray
    z_exp: np.ndarray
    arkit: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    preset: str = ""
    intensity: float = 1.0
    identity: Track = field(default_factory=Track)
    expression: Track = field(default_factory=Track)
    fps: float = 24.0
    duration: float = 4.0
    snapshots: tuple[Snapshot, ...] = ()

    def __post_init__(self) -> None:
        for name in ARRAYS:
            value = np.array(getattr(self, name), np.float32).reshape(-1)
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        if self.fps <= 0 or self.duration <= 0:
            raise ValueError(f"fps and duration must be > 0; received fps={self.fps}, duration={self.duration}")

    @classmethod
    def zeros(cls, id_dim: int, exp_dim: int, arkit_dim: int = 0) -> State:
        """The mean identity with a neutral expression."""
        return cls(np.zeros(id_dim), np.zeros(exp_dim), np.zeros(arkit_dim))

    def replace(self, **changes) -> State:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def changed_fields(self, other: State) -> set[str]:
        """Names of the fields whose values differ from `other` (arrays by value)."""
        out = set()
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            same = np.array_equal(a, b) if f.name in ARRAYS else a == b
            if not same:
                out.add(f.name)
        return out

    def sample(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """(z_id, z_exp) at `time` s: each track's value, or the current code for an empty track."""
        z_id = self.identity.sample(time)
        z_exp = self.expression.sample(time)
        return (self.z_id if z_id is None else z_id), (self.z_exp if z_exp is None else z_exp)


STATE_FIELDS = tuple(f.name for f in dataclasses.fields(State))
