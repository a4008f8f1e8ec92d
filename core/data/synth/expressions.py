"""Expression categories (FaceScape's 20) as recipes of ARKit coefficients, and random mixtures."""
from __future__ import annotations

import numpy as np

from .assets import ARKIT_UNITS

_BOTH = ("Left", "Right")


def _sym(**units: float) -> dict[str, float]:
    """Expand `mouthSmile=0.8` to both sides; names already ending in a side stay as they are."""
    out: dict[str, float] = {}
    for name, value in units.items():
        if name in ARKIT_UNITS:
            out[name] = value
        else:
            out.update({name + side: value for side in _BOTH})
    return out


CATEGORIES: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": _sym(mouthSmile=0.85, cheekSquint=0.45, eyeSquint=0.25),
    "mouth_stretch": _sym(jawOpen=1.0, mouthLowerDown=0.4, mouthStretch=0.3),
    "anger": _sym(browDown=0.9, eyeSquint=0.45, noseSneer=0.55, mouthPress=0.5, mouthFrown=0.3),
    "jaw_left": _sym(jawLeft=1.0, jawOpen=0.1),
    "jaw_right": _sym(jawRight=1.0, jawOpen=0.1),
    "jaw_forward": _sym(jawForward=1.0, jawOpen=0.1),
    "mouth_left": _sym(mouthLeft=1.0),
    "mouth_right": _sym(mouthRight=1.0),
    "dimpler": _sym(mouthDimple=1.0, mouthPress=0.25),
    "chin_raiser": _sym(mouthShrugLower=1.0, mouthShrugUpper=0.35, mouthPress=0.2),
    "lip_puckerer": _sym(mouthPucker=1.0),
    "lip_funneler": _sym(mouthFunnel=1.0, jawOpen=0.15),
    "sadness": _sym(browInnerUp=0.85, mouthFrown=0.75, mouthShrugLower=0.35, eyeSquint=0.1),
    "lip_roll": _sym(mouthRollLower=1.0, mouthRollUpper=1.0),
    "grin": _sym(mouthSmile=1.0, mouthUpperUp=0.6, mouthLowerDown=0.5, mouthStretch=0.35,
                 cheekSquint=0.6, jawOpen=0.15),
    "cheek_blowing": _sym(cheekPuff=1.0, mouthClose=0.2),
    "eye_closed": _sym(eyeBlink=1.0),
    "brow_raiser": _sym(browInnerUp=1.0, browOuterUp=1.0, eyeWide=0.35),
    "brow_lower": _sym(browDown=1.0, eyeSquint=0.2),
}
"""The 20 FaceScape expression categories, neutral first, each at full intensity."""

MIXTURE = "mixture"
_MIX_UNITS = np.array([i for i, u in enumerate(ARKIT_UNITS)
                       if not u.startswith("eyeLook") and u != "tongueOut"])


def recipe(category: str) -> np.ndarray:
    """(52,) float32 ARKit coefficients of a category at full intensity."""
    if category not in CATEGORIES:
        raise KeyError(f"unknown expression category {category!r}; choose from {list(CATEGORIES)}")
    coeffs = np.zeros(len(ARKIT_UNITS), np.float32)
    for name, value in CATEGORIES[category].items():
        coeffs[ARKIT_UNITS.index(name)] = value
    return coeffs


def random_mixture(rng: np.random.Generator) -> np.ndarray:
    """(52,) float32: two to five random units (no gaze, no tongue) at random strengths."""
    coeffs = np.zeros(len(ARKIT_UNITS), np.float32)
    units = rng.choice(_MIX_UNITS, size=rng.integers(2, 6), replace=False)
    coeffs[units] = rng.uniform(0.3, 1.0, size=len(units))
    return coeffs
