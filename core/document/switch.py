"""Moving a document onto another model: what carries over, what goes back to the defaults.

A code only means something to a decoder of the same template topology and latent size, so:
another topology resets everything (codes, sliders, keyframes, timeline); the same topology
keeps the identity part (z_id and its track) when the identity sizes match, the expression
part (z_exp and its track) when the expression sizes match, the expression sliders (ARKit
values, preset, intensity) along with the expression when both models have the same ARKit
units, the timeline settings (fps, duration) always, and the stored states when both their
identity and expression fit (with their sliders reset where the sliders do not carry over).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .state import State

PARTS = ("identity", "expression", "expression sliders", "stored states")


@dataclass(frozen=True)
class Carry:
    """The state on the new model, and which `PARTS` were kept or reset."""

    state: State
    kept: tuple[str, ...]
    reset: tuple[str, ...]
    same_topology: bool

    @property
    def lossless(self) -> bool:
        """Every part carried over (the old state fits the new model unchanged)."""
        return not self.reset


def carry_over(state: State, fresh: State, same_topology: bool, units: Sequence[str] = (),
               new_units: Sequence[str] = ()) -> Carry:
    """Carry `state` onto a model whose default state is `fresh`.

    Parameters
    ----------
    state : the document's state on the current model
    fresh : the new model's default state (its sizes: (I,), (E,), (A,))
    same_topology : both templates have the same connectivity (`Template.topology_hash`)
    units, new_units : ARKit unit names of the current and the new model's expression sliders
    """
    parts = PARTS if state.snapshots else PARTS[:-1]  # no stored states: nothing to report of them
    if not same_topology:
        return Carry(fresh, (), parts, False)
    keep = {"identity": len(state.z_id) == len(fresh.z_id), "expression": len(state.z_exp) == len(fresh.z_exp)}
    keep["expression sliders"] = (keep["expression"] and list(units) == list(new_units)
                                  and len(state.arkit) == len(fresh.arkit))
    keep["stored states"] = keep["identity"] and keep["expression"]
    changes = dict(fps=state.fps, duration=state.duration)
    if keep["identity"]:
        changes.update(z_id=state.z_id, identity=state.identity)
    if keep["expression"]:
        changes.update(z_exp=state.z_exp, expression=state.expression)
    if keep["expression sliders"]:
        changes.update(arkit=state.arkit, preset=state.preset, intensity=state.intensity)
    if keep["stored states"]:
        changes["snapshots"] = tuple(s if keep["expression sliders"] else
                                     s.replace(arkit=fresh.arkit, preset="", intensity=1.0) for s in state.snapshots)
    return Carry(fresh.replace(**changes), tuple(p for p in parts if keep[p]),
                 tuple(p for p in parts if not keep[p]), True)
