"""Identities: MakeHuman macro and modifier weights drawn from priors, and the faces they make.

Macro weights follow MakeHuman's scheme: gender in [0, 1] (0 female), age in [0, 1]
(0 = 1 year, 0.1875 = 11, 0.5 = 25, 1 = 90 years), ethnic proportions summing to 1, muscle
and weight in [0, 1] (0.5 average). Modifiers are MakeHuman's face-shape sliders in [-1, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...mesh.align import procrustes
from . import assets
from .head import AGES, ETHNICITIES, GENDERS, IDENTITY_GROUPS, LEVELS, HeadAssets

_SKIP = ("-trans-", "head-age", "head-fat")  # whole-head shifts; age and fat come from macros


@dataclass(frozen=True)
class Modifier:
    """One face-shape slider: value < 0 applies `negative`, > 0 applies `positive`."""

    name: str
    negative: str
    positive: str


@dataclass(frozen=True)
class Identity:
    """Macro parameters (see module doc), age in years, and modifier slider values."""

    gender: float
    age_years: float
    ethnicity: np.ndarray  # (3,) proportions, ETHNICITIES order
    muscle: float
    weight: float
    modifiers: np.ndarray  # (K,) in [-1, 1], `modifiers()` order


def modifiers() -> list[Modifier]:
    """Face-shape modifiers, one per side for sided ones (`l-` first, then `r-`)."""
    out = []
    for cat in assets.modifier_catalog(IDENTITY_GROUPS):
        if any(s in cat["name"] for s in _SKIP):
            continue
        if len(cat["targets"]) == 1:  # one-sided shape blends such as head-oval
            out.append(Modifier(cat["name"], "", cat["targets"][0]))
            continue
        neg, pos = cat["name"].split("-")[-2:]
        for side in ("l-", "r-") if cat["has_left_and_right"] else ("",):
            names = [t for t in cat["targets"] if t.startswith(side)]
            out.append(Modifier(side + cat["name"], next(t for t in names if t.endswith(neg)),
                                next(t for t in names if t.endswith(pos))))
    return out


def age_to_macro(years: float) -> float:
    """MakeHuman's age slider value for an age in years (1 to 90)."""
    if years < 11:
        return (years - 1) / 10 * 0.1875
    if years < 25:
        return 0.1875 + (years - 11) / 14 * 0.3125
    return 0.5 + (years - 25) / 65 * 0.5


def _age_weights(a: float) -> np.ndarray:
    """(4,) weights of baby, child, young, old for an age slider value."""
    if a < 0.5:
        young = max(0.0, (a - 0.1875) / 0.3125)
        baby = max(0.0, 1 - a / 0.1875)
        return np.array([baby, 1 - baby - young, young, 0.0])
    old = (a - 0.5) / 0.5
    return np.array([0.0, 0.0, 1 - old, old])


def _level_weights(value: float) -> np.ndarray:
    """(3,) weights of min, average, max for a muscle or weight value in [0, 1]."""
    if value < 0.5:
        return np.array([1 - value / 0.5, value / 0.5, 0.0])
    return np.array([0.0, 1 - (value - 0.5) / 0.5, (value - 0.5) / 0.5])


def macro_weights(ident: Identity) -> dict[str, float]:
    """Weight of every macro target (names as in `head.macro_target_names`)."""
    gender = np.array([1 - ident.gender, ident.gender])
    age = _age_weights(age_to_macro(ident.age_years))
    muscle, weight = _level_weights(ident.muscle), _level_weights(ident.weight)
    out = {}
    for i, g in enumerate(GENDERS):
        for j, a in enumerate(AGES):
            for k, e in enumerate(ETHNICITIES):
                out[f"{e}-{g}-{a}"] = ident.ethnicity[k] * gender[i] * age[j]
            for m, lm in enumerate(LEVELS):
                for w, lw in enumerate(LEVELS):
                    key = f"universal-{g}-{a}-{lm}muscle-{lw}weight"
                    out[key] = gender[i] * age[j] * muscle[m] * weight[w]
    return out


def identity_shape(head: HeadAssets, ident: Identity, mods: list[Modifier]) -> np.ndarray:
    """(N, 3) float64 neutral face of an identity, mm, rigidly aligned to the template.

    The macro targets reshape the whole body, so they also move and tilt the head (a child's
    head sits lower); a rigid fit to the template's rest shape (no scale: a child's head stays
    small) removes that, as a scanner's head-centred frame would.
    """
    rest = head.template.vertices.astype(np.float64)
    shape = rest.copy()
    for name, w in macro_weights(ident).items():
        if w:
            shape += w * head.targets[name]
    for mod, value in zip(mods, ident.modifiers):
        target = mod.positive if value > 0 else mod.negative
        if target and value:
            shape += abs(value) * head.targets[target]
    return procrustes(shape, rest, scale=False).apply(shape)


def sample_identity(rng: np.random.Generator, mods: list[Modifier]) -> Identity:
    """Draw a plausible identity: adults and children, mostly symmetric, some asymmetry.

    A left/right pair of sliders shares one drawn value plus a small per-side deviation
    (larger for one subject in ten).
    """
    child = rng.random() < 0.15
    age = rng.uniform(6, 17) if child else 18 + 67 * rng.beta(1.3, 2.0)
    gender = rng.beta(2, 14) if rng.random() < 0.5 else rng.beta(14, 2)
    keys = sorted({_unsided(m.name) for m in mods})
    active = rng.random(len(keys)) < 0.6
    base = dict(zip(keys, np.where(active, rng.normal(0, 0.35, len(keys)), 0.0)))
    asym = 0.15 if rng.random() < 0.1 else 0.04
    values = np.array([base[_unsided(m.name)] for m in mods])
    sided = np.array([m.name != _unsided(m.name) for m in mods])
    values += sided * (values != 0) * rng.normal(0, asym, len(mods))
    return Identity(gender=float(gender), age_years=float(age),
                    ethnicity=rng.dirichlet([0.8, 0.8, 0.8]), muscle=float(rng.beta(2.5, 2.5)),
                    weight=float(rng.beta(2.5, 2.5)), modifiers=np.clip(values, -1, 1))


def _unsided(name: str) -> str:
    return name[2:] if name[:2] in ("l-", "r-") else name
