"""Stored states: named copies of the face the artist keeps in the project to come back to.

A snapshot holds what decodes to a face (z_id, z_exp) and the expression sliders that made
z_exp (ARKit values, preset, intensity). The artist applies it whole, takes only its
identity (identity swap) or only its expression (expression transfer onto the current
identity), or compares it with the current face. Snapshots live in `State.snapshots`, so
storing, renaming and deleting them are undoable and saved with the project.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

PARTS = ("both", "identity", "expression")
"""What `take` copies from a snapshot."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A named face.

    name : label shown to the artist (unique within a document)
    z_id, z_exp : (I,), (E,) float32 codes
    arkit : (A,) float32 ARKit slider values; preset and intensity as in `State`
    """

    name: str
    z_id: np.ndarray
    z_exp: np.ndarray
    arkit: np.ndarray
    preset: str = ""
    intensity: float = 1.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a stored state needs a name; received an empty one")
        for field in ("z_id", "z_exp", "arkit"):
            value = np.array(getattr(self, field), np.float32).reshape(-1)
            value.flags.writeable = False
            object.__setattr__(self, field, value)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Snapshot) and (self.name, self.preset, self.intensity)
                == (other.name, other.preset, other.intensity)
                and all(np.array_equal(getattr(self, f), getattr(other, f)) for f in ("z_id", "z_exp", "arkit")))

    def __hash__(self) -> int:
        return hash(self.name)

    def replace(self, **changes) -> Snapshot:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


def capture(state, name: str) -> Snapshot:
    """The face of `state` (a `State`) as a snapshot called `name`."""
    return Snapshot(name, state.z_id, state.z_exp, state.arkit, state.preset, state.intensity)


def unique_name(snapshots: tuple[Snapshot, ...], base: str = "State") -> str:
    """`base` followed by the first number no snapshot uses ("State 1", "State 2", ...)."""
    names = {s.name for s in snapshots}
    return next(f"{base} {i}" for i in range(1, len(names) + 2) if f"{base} {i}" not in names)


def renamed(snapshots: tuple[Snapshot, ...], index: int, name: str) -> tuple[Snapshot, ...]:
    """The snapshots with number `index` renamed; ValueError for an empty or taken name."""
    name = name.strip()
    if any(s.name == name for i, s in enumerate(snapshots) if i != index):
        raise ValueError(f"a stored state is already called {name!r}; choose another name")
    return snapshots[:index] + (snapshots[index].replace(name=name),) + snapshots[index + 1:]


def take(snapshot: Snapshot, part: str) -> dict:
    """The `State` changes that copy `part` ("both", "identity" or "expression") of `snapshot`."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of {PARTS}")
    identity = {"z_id": snapshot.z_id}
    expression = {"z_exp": snapshot.z_exp, "arkit": snapshot.arkit, "preset": snapshot.preset,
                  "intensity": snapshot.intensity}
    return {"both": identity | expression, "identity": identity, "expression": expression}[part]


def fits(snapshot: Snapshot, id_dim: int, exp_dim: int, arkit_dim: int) -> bool:
    """The snapshot's codes have a model's sizes."""
    return (len(snapshot.z_id), len(snapshot.z_exp), len(snapshot.arkit)) == (id_dim, exp_dim, arkit_dim)
