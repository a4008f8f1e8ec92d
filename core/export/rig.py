"""What every exporter reads: one identity's neutral, its blendshapes and an optional timeline.

CONVENTIONS: millimetres, Y up, the face looks down +Z, right-handed, float32 positions.
Shapes are *absolute* positions (neutral plus expression, as the model decodes them); each
exporter turns them into the offsets its format stores. The containers hold data and check it;
`prepare` applies the options (subset, naming, intensity, units) once for all formats.

    Rig(template, neutral, shapes, animation=None, name="face")
      animation: Animation(fps, times, weights, identity_shapes, identity_weights)
    ExportOptions(units, naming, shapes, intensity, ...)
    prepare(rig, options, units) -> Prepared   # offsets in output units, final names
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cache import atomic_write_bytes
from ..data.synth.assets import ARKIT_UNITS
from ..data.synth.expressions import CATEGORIES
from ..errors import ExportError
from ..mesh.template import Template
from ..typed import Float32Array, FloatArray

UNITS: dict[str, float] = {"mm": 1.0, "cm": 0.1, "m": 0.001}
"""Output length of one millimetre in each unit the exporters can write."""
NAMINGS = ("arkit", "ict", "livelink")
"""ARKit camelCase (`eyeBlinkLeft`), ICT-FaceKit suffixes (`eyeBlink_L`), Live Link (`EyeBlinkLeft`)."""
FBX_VERSIONS = (7400, 7500)


@dataclass(frozen=True, eq=False)
class Animation:
    """A timeline of blendshape weights, linear between keys.

    Attributes
    ----------
    fps : frames per second of the scene it plays in (FBX time mode, OBJ sequence step)
    times : (K,) float64, s, strictly increasing
    weights : (K, S) float32 in 0..1, one column per shape of the rig, in `Rig.shapes` order;
        1 means the shape as exported (see `ExportOptions.intensity`)
    identity_shapes : name -> (N, 3) float32 mm, absolute positions of the other identities the
        timeline morphs to (identity keyframes); exported as extra shapes after the rig's own
    identity_weights : (K, I) float32 in 0..1, one column per identity shape (None when none)
    """

    fps: float
    times: FloatArray
    weights: Float32Array
    identity_shapes: dict[str, Float32Array] = field(default_factory=dict)
    identity_weights: Float32Array | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ExportError(f"the animation's fps must be a positive number, got {self.fps!r}")
        times = np.asarray(self.times, np.float64)
        if times.ndim != 1 or len(times) == 0:
            raise ExportError(f"animation `times` must be (K,) with K >= 1 keys, got shape {times.shape}")
        _check_finite("animation times", times)
        if np.any(np.diff(times) <= 0):
            raise ExportError("animation `times` must be strictly increasing (seconds); sort the keys "
                              "and drop duplicates")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "weights", _weights("weights", self.weights, len(times)))
        ids = {k: np.asarray(v, np.float32) for k, v in self.identity_shapes.items()}
        object.__setattr__(self, "identity_shapes", ids)
        if ids or self.identity_weights is not None:
            w = _weights("identity_weights", self.identity_weights, len(times))
            if w.shape[1] != len(ids):
                raise ExportError(f"animation `identity_weights` has {w.shape[1]} columns but there are "
                                  f"{len(ids)} identity shapes ({', '.join(ids) or 'none'})")
            object.__setattr__(self, "identity_weights", w)

    @property
    def duration(self) -> float:
        """Seconds from the first key to the last."""
        return float(self.times[-1] - self.times[0])


@dataclass(frozen=True, eq=False)
class Rig:
    """One identity's blendshape rig: a neutral and named shapes on the template topology.

    Attributes
    ----------
    template : the topology (faces, UVs) every mesh here shares
    neutral : (N, 3) float32, mm
    shapes : name -> (N, 3) float32, mm, absolute positions (usually the 52 ARKit names)
    animation : a timeline over `shapes`, or None
    name : object name in the exported scene
    """

    template: Template
    neutral: Float32Array
    shapes: dict[str, Float32Array]
    animation: Animation | None = None
    name: str = "face"

    def __post_init__(self) -> None:
        n = self.template.n_vertices
        object.__setattr__(self, "neutral", _mesh("the neutral", self.neutral, n))
        object.__setattr__(self, "shapes", {str(k): _mesh(f"shape '{k}'", v, n) for k, v in self.shapes.items()})
        anim = self.animation
        if anim is None:
            return
        if anim.weights.shape[1] != len(self.shapes):
            raise ExportError(f"the animation has {anim.weights.shape[1]} weight columns but the rig has "
                              f"{len(self.shapes)} shapes: give one column per shape, in rig order")
        for k, v in anim.identity_shapes.items():
            _mesh(f"identity shape '{k}'", v, n)
            if k in self.shapes:
                raise ExportError(f"identity shape '{k}' has the name of a rig shape; rename it")

    @classmethod
    def from_offsets(cls, template: Template, neutral: FloatArray, offsets: FloatArray,
                     names: tuple[str, ...] = ARKIT_UNITS, **kwargs) -> "Rig":
        """A rig from (S, N, 3) mm offsets added to `neutral` (N, 3) mm, named by `names`."""
        offsets = np.asarray(offsets)
        if offsets.ndim != 3 or len(offsets) != len(names):
            raise ExportError(f"`offsets` must be ({len(names)}, N, 3), one per name, got shape {offsets.shape}")
        neutral = np.asarray(neutral, np.float32)
        return cls(template, neutral, {k: neutral + d for k, d in zip(names, offsets)}, **kwargs)


@dataclass(frozen=True)
class ExportOptions:
    """How to write a rig. Every exporter reads the fields that apply to it.

    units : "mm", "cm" or "m" for OBJ and FBX (FBX also records it); glTF is always metres
    naming : one of `NAMINGS`; renames ARKit names only, other names are written as given
    shapes : which shapes to export, in order: rig shape names and/or expression categories
        (`core.data.synth.expressions.CATEGORIES`, exported as the recipe's mix of rig shapes);
        None exports every rig shape. Identity shapes are always exported.
    intensity : what weight 1 means, as a multiple of the decoded expression (offsets scale by it;
        animation weights are written as they are)
    normals : write per-vertex normals (and normal offsets of the shapes)
    fbx_version : 7400 (default, read everywhere) or 7500 (64-bit offsets)
    obj_shapes : OBJ only: also one OBJ per shape, in `<stem>_shapes/`
    obj_sequence : OBJ only: also one OBJ per animation frame (at `Animation.fps`), in `<stem>_frames/`
    """

    units: str = "mm"
    naming: str = "arkit"
    shapes: tuple[str, ...] | None = None
    intensity: float = 1.0
    normals: bool = True
    fbx_version: int = 7400
    obj_shapes: bool = False
    obj_sequence: bool = False

    def __post_init__(self) -> None:
        if self.units not in UNITS:
            raise ExportError(f"unknown unit {self.units!r}; choose one of {', '.join(UNITS)}")
        if self.naming not in NAMINGS:
            raise ExportError(f"unknown naming scheme {self.naming!r}; choose one of {', '.join(NAMINGS)}")
        if not (np.isfinite(self.intensity) and self.intensity > 0):
            raise ExportError(f"`intensity` must be a positive number, got {self.intensity!r}")
        if self.fbx_version not in FBX_VERSIONS:
            raise ExportError(f"unsupported FBX version {self.fbx_version!r}; choose 7400 or 7500")
        if self.shapes is not None:
            object.__setattr__(self, "shapes", tuple(self.shapes))


@dataclass(frozen=True, eq=False)
class Prepared:
    """A rig with the options applied, ready to encode.

    neutral : (N, 3) float64, output units
    names : exported shape names (expression shapes first, then identity shapes)
    offsets : (S, N, 3) float64, output units, shape minus neutral (intensity applied)
    times : (K,) float64 s and weights (K, S) float32 0..1, or None without an animation
    """

    template: Template
    name: str
    scale: float
    neutral: np.ndarray
    names: list[str]
    offsets: np.ndarray
    fps: float | None
    times: np.ndarray | None
    weights: np.ndarray | None

    def sample(self, t: float) -> np.ndarray:
        """(S,) weights at time `t` s, linear between keys and held before/after them."""
        assert self.times is not None and self.weights is not None
        return np.array([np.interp(t, self.times, w) for w in self.weights.T], np.float32)


def prepare(rig: Rig, options: ExportOptions, units: str | None = None) -> Prepared:
    """Apply `options` to `rig`; `units` overrides `options.units` (glTF always uses "m")."""
    scale = UNITS[units or options.units]
    neutral = rig.neutral.astype(np.float64)
    picked, columns = _select(rig, options.shapes)
    names = [rename(k, options.naming) for k, _ in picked]
    offsets = [(shape.astype(np.float64) - neutral) * options.intensity for _, shape in picked]
    anim = rig.animation
    times = weights = None
    if anim is not None:
        names += list(anim.identity_shapes)
        offsets += [v.astype(np.float64) - neutral for v in anim.identity_shapes.values()]
        cols = [anim.weights[:, c] if c is not None else np.zeros(len(anim.times), np.float32) for c in columns]
        if anim.identity_weights is not None:
            cols += list(anim.identity_weights.T)
        times, weights = anim.times, np.stack(cols, axis=1).astype(np.float32)
    dupes = sorted({k for k in names if names.count(k) > 1})
    if dupes:
        raise ExportError(f"shape names {dupes} occur twice after renaming; pick a subset or rename them")
    stacked = np.stack(offsets) if offsets else np.zeros((0,) + neutral.shape)
    return Prepared(rig.template, rig.name, scale, neutral * scale, names, stacked * scale,
                    None if anim is None else float(anim.fps), times, weights)


def rename(name: str, naming: str) -> str:
    """`name` in a naming scheme; only ARKit names change (`eyeBlinkLeft` -> `eyeBlink_L`, `EyeBlinkLeft`)."""
    if naming not in NAMINGS:
        raise ExportError(f"unknown naming scheme {naming!r}; choose one of {', '.join(NAMINGS)}")
    if name not in ARKIT_UNITS or naming == "arkit":
        return name
    if naming == "ict":
        return re.sub(r"(Left|Right)$", lambda m: "_" + m.group(1)[0], name)
    return name[0].upper() + name[1:]


def _select(rig: Rig, wanted: tuple[str, ...] | None) -> tuple[list[tuple[str, np.ndarray]], list[int | None]]:
    """The (name, absolute shape) pairs to export and the animation column of each (None: no curve)."""
    keys = list(rig.shapes)
    if wanted is None:
        return list(rig.shapes.items()), list(range(len(keys)))
    unknown = [k for k in wanted if k not in rig.shapes and k not in CATEGORIES]
    if unknown:
        raise ExportError(f"unknown shapes {unknown} in the subset; choose from the rig's shapes "
                          f"({', '.join(keys)}) or the expression categories ({', '.join(CATEGORIES)})")
    picked, columns = [], []
    for k in wanted:
        if k in rig.shapes:
            picked.append((k, rig.shapes[k]))
            columns.append(keys.index(k))
            continue
        missing = [u for u in CATEGORIES[k] if u not in rig.shapes]
        if missing:
            raise ExportError(f"expression category '{k}' needs shapes {missing} that the rig lacks")
        mix = rig.neutral.astype(np.float64)
        for unit, w in CATEGORIES[k].items():
            mix = mix + w * (rig.shapes[unit].astype(np.float64) - rig.neutral)
        picked.append((k, mix))  # float64: a float32 absolute position would round the offsets
        columns.append(None)
    return picked, columns


def _mesh(what: str, array: FloatArray, n: int) -> Float32Array:
    out = np.asarray(array, np.float32)
    if out.ndim != 2 or out.shape[1] != 3:
        raise ExportError(f"{what} must be (N, 3) positions in mm, got shape {out.shape}")
    if out.shape[0] != n:
        raise ExportError(f"{what} has {out.shape[0]} vertices but the template has {n}: every shape must "
                          "be on the template topology")
    _check_finite(what, out)
    return out


def _weights(what: str, array, k: int) -> Float32Array:
    if array is None:
        raise ExportError(f"animation `{what}` is missing")
    w = np.asarray(array, np.float32)
    if w.ndim != 2 or w.shape[0] != k:
        raise ExportError(f"animation `{what}` must be (K, S) with one row per key (K={k}), got shape {w.shape}")
    _check_finite(f"animation {what}", w)
    if w.size and (w.min() < 0 or w.max() > 1):
        raise ExportError(f"animation `{what}` must lie in 0..1, got {w.min():.3g}..{w.max():.3g}; use "
                          "`ExportOptions.intensity` to change what weight 1 means")
    return w


def _check_finite(what: str, array: np.ndarray) -> None:
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ExportError(f"{what} holds {bad} non-finite values (NaN or inf); decode it again or drop it")


def write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically; an OS failure becomes an ExportError saying what to do."""
    with destination(path):
        atomic_write_bytes(path, data)


@contextmanager
def destination(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into an ExportError."""
    try:
        yield
    except OSError as e:
        raise ExportError(f"cannot write there ({e.strerror or e}); choose a folder you can write to "
                          "and check the disk has space", path, e) from e


def safe_filename(name: str) -> str:
    """`name` with every character other than letters, digits, '-', '_' and '.' replaced by '_'."""
    return re.sub(r"[^\w.-]", "_", name) or "_"
