"""A per-identity blendshape rig and its animation, decoded by a face model.

    rig = rig_from_state(model, semantics, state, intensity=1.0, categories=True)
    export(rig, "face.fbx")

The 52 ARKit shapes are decoded for *this* identity (one-hot coefficient x intensity through
`Semantics.expression`), so a broad face smiles differently from a narrow one. The timeline
becomes ARKit weights per frame (least squares of the frame's z_exp on the 52 unit codes, weights
in 0..1) and, when the identity track has keys, one extra shape per identity key.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear, nnls

from ..document import State, Track
from ..document.tracks import Keyframe
from ..errors import ExportError
from .rig import Animation, Rig

SAME_MM = 1e-4  # an identity key whose neutral is this close to the rig's (decode noise) adds no shape


def build_rig(model, semantics, z_id: np.ndarray, intensity: float = 1.0, categories: bool = False,
              name: str = "face", animation: Animation | None = None) -> Rig:
    """The rig of identity `z_id`: neutral (z_exp = 0) and the 52 ARKit shapes, one decode call.

    `intensity` is what weight 1 means: each shape decodes coefficient `intensity` (the model is
    non-linear, so this is not a scaled offset). `categories` adds each expression category of the
    semantics (but "neutral") as a shape named by the category, decoded at `intensity`.
    """
    _check(model, semantics, intensity)
    z_id = _code(z_id, model.id_dim, "identity code z_id")
    names, codes = expression_codes(semantics, intensity, categories)
    batch = np.vstack([np.zeros((1, model.exp_dim), np.float32), codes])
    meshes = np.asarray(model.decode(np.repeat(z_id[None], len(batch), 0), batch), np.float32)
    return Rig(model.template, meshes[0], dict(zip(names, meshes[1:])), animation, name)


def expression_codes(semantics, intensity: float, categories: bool) -> tuple[list[str], np.ndarray]:
    """Shape names and their (S, E) z_exp: the ARKit units, then the categories when asked."""
    names = list(semantics.arkit_units)
    codes = [semantics.expression(np.eye(len(names), dtype=np.float32) * intensity)]
    if categories:
        picked = [c for c in semantics.categories if c != "neutral" and c not in names]
        names += picked
        codes += [np.stack([semantics.category(c, intensity) for c in picked])] if picked else []
    return names, np.vstack(codes).astype(np.float32)


def timeline_animation(model, semantics, state: State, rig: Rig, intensity: float = 1.0) -> Animation:
    """The document's timeline sampled at its fps, as weights over `rig`'s shapes.

    Expression: each frame's z_exp is solved as non-negative least squares on the 52 unit codes
    (ARKit coefficient `intensity` each; `scipy.optimize.nnls`, sparse); when a weight exceeds 1,
    as bounded least squares in 0..1 instead (`lsq_linear`, BVLS), which keeps z_exp where clipping
    would not. The part of z_exp outside the codes' span is lost. Category shapes get weight 0.
    Identity: every identity key whose decoded neutral differs from the rig's becomes a shape
    `identity_<i>` (that neutral), weighted by the track's interpolation between keys; the
    rig's expression offsets are added to it unchanged (the morph is linear between neutrals).
    """
    _check(model, semantics, intensity)
    frames = int(round(state.duration * state.fps)) + 1
    times = np.arange(frames) / state.fps
    units = semantics.expression(np.eye(len(semantics.arkit_units), dtype=np.float32) * intensity)
    z_exp = np.stack([state.sample(t)[1] for t in times])
    weights = np.zeros((frames, len(rig.shapes)), np.float32)
    columns = [list(rig.shapes).index(k) for k in semantics.arkit_units if k in rig.shapes]
    if len(columns) != len(units):
        raise ExportError("the rig lacks some of the model's ARKit shapes; build it with `build_rig`")
    a = units.T.astype(np.float64)
    for i, z in enumerate(z_exp.astype(np.float64)):
        w = nnls(a, z)[0]
        if w.max(initial=0.0) > 1.0:
            w = lsq_linear(a, z, bounds=(0.0, 1.0), method="bvls", tol=1e-10).x
        weights[i, columns] = np.clip(w, 0.0, 1.0)
    shapes, identity_weights = _identity_morph(model, state, rig, times)
    return Animation(state.fps, times, weights, shapes, identity_weights)


def rig_from_state(model, semantics, state: State, intensity: float = 1.0, categories: bool = False,
                   animate: bool = True, name: str = "face") -> Rig:
    """The rig of a document state, with its timeline when `animate` and a track has keys.

    The rig's identity is the state's z_id, or the first identity key when the timeline is animated.
    """
    keyed = animate and bool(state.identity.keys or state.expression.keys)
    z_id = state.identity.keys[0].code if keyed and state.identity.keys else state.z_id
    rig = build_rig(model, semantics, z_id, intensity, categories, name)
    if not keyed:
        return rig
    return Rig(rig.template, rig.neutral, rig.shapes,
               timeline_animation(model, semantics, state, rig, intensity), name)


def select_shapes(spec: str, semantics) -> tuple[bool, tuple[str, ...] | None]:
    """(decode the categories?, `ExportOptions.shapes`) for "all" (the 52), "categories" or "name,name"."""
    if spec == "all":
        return False, None
    if spec == "categories":
        return True, tuple(c for c in semantics.categories if c != "neutral")
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    if not names:
        raise ExportError("no shapes chosen; give 'all', 'categories' or comma-separated shape names")
    return any(n in semantics.categories for n in names), names


def _identity_morph(model, state: State, rig: Rig, times: np.ndarray):
    """Identity key shapes {identity_<i>: neutral} and their (K, I) weights, or ({}, None)."""
    keys = state.identity.keys
    if not keys:
        return {}, None
    codes = np.stack([_code(k.code, model.id_dim, f"identity key at {k.time:.3f} s") for k in keys])
    neutrals = np.asarray(model.decode(codes, np.zeros((len(keys), model.exp_dim), np.float32)), np.float32)
    keep = [i for i, v in enumerate(neutrals) if np.abs(v - rig.neutral).max() > SAME_MM]
    if not keep:
        return {}, None
    onehot = Track(tuple(Keyframe(k.time, np.eye(len(keys), dtype=np.float32)[i]) for i, k in enumerate(keys)),
                   state.identity.interpolation)
    blend = np.stack([onehot.sample(t) for t in times])  # (K, keys): the track's blend of its keys
    shapes = {f"identity_{i + 1}": neutrals[i] for i in keep}
    return shapes, np.clip(blend[:, keep], 0.0, 1.0).astype(np.float32)


def _check(model, semantics, intensity: float) -> None:
    if semantics is None:
        raise ExportError("the model has no semantic controls (semantics.safetensors), so its ARKit shapes "
                          "are unknown; fit them with 'faceforge semantics' or choose another model")
    if len(semantics.arkit_units) == 0 or semantics.expression_map.shape[1] != model.exp_dim:
        raise ExportError(f"the model's semantics do not fit it (expression map "
                          f"{semantics.expression_map.shape}, model exp_dim {model.exp_dim}); refit them")
    if not (np.isfinite(intensity) and intensity > 0):
        raise ExportError(f"`intensity` must be a positive number, got {intensity!r}")


def _code(code, dim: int, what: str) -> np.ndarray:
    z = np.asarray(code, np.float32).reshape(-1)
    if z.shape != (dim,) or not np.isfinite(z).all():
        raise ExportError(f"the {what} must be {dim} finite numbers for this model, got shape {z.shape}; "
                          "use codes made with the same model")
    return z
