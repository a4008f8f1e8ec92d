"""The default face population: identities x expressions with known ground truth.

Every expression is a combination of ARKit units on the hm08 base head, carried onto each
identity by deformation transfer, scaled by the subject's own expression style (per-unit gains
and left/right asymmetry), then moved by a small rigid transform and scanner-like noise.
Subject s draws from `np.random.default_rng([seed, s])`, so a subject does not depend on how
many others are generated, and the same seed gives the same bytes.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ...progress import drive
from ..dataset import MeshDataset
from .assets import ARKIT_UNITS, anny_version
from .expressions import CATEGORIES, MIXTURE, random_mixture, recipe
from .head import ETHNICITIES, HeadAssets, load_head
from .identity import Identity, identity_shape, modifiers, sample_identity
from .transfer import TransferSolver, frames

GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Lengths in mm, angles in degrees."""

    subjects: int = 300
    per_subject: int = 20  # the first min(20, M) categories, then random mixtures
    seed: int = 0
    parts: tuple[str, ...] = ()  # optional head parts: "eyes", "mouth"
    noise_mm: float = 0.1  # isotropic scanner noise (std)
    rotation_deg: float = 1.5  # rigid jitter (std of the angle)
    translation_mm: float = 1.5  # rigid jitter (std per axis)
    style_gain: float = 0.25  # std of the log gain of each ARKit unit per subject
    style_asymmetry: float = 0.08  # std of the left/right imbalance per subject
    intensity: tuple[float, float] = (0.75, 1.0)  # range of expression intensity


@dataclass(frozen=True)
class Subject:
    """One generated person: identity, true neutral, expression style and samples."""

    identity: Identity
    neutral: np.ndarray  # (N, 3) float32 mm, no jitter or noise
    style_gain: np.ndarray  # (52,) multiplier of each ARKit unit
    vertices: np.ndarray  # (M, N, 3) float32 mm
    expression: list[str]
    arkit: np.ndarray  # (M, 52) float32 requested coefficients (before the style)


class Population:
    """Generates subjects of one configuration; the head assets and modifiers are shared."""

    def __init__(self, config: SynthConfig):
        self.config = config
        self.head: HeadAssets = load_head(tuple(config.parts))
        self.mods = modifiers()
        self.triangles = self.head.template.triangles()
        self.rest = self.head.template.vertices.astype(np.float64)
        self.rest_inverse = np.linalg.inv(frames(self.rest, self.triangles))
        self.anchors = np.flatnonzero(np.abs(self.head.arkit).max(axis=(0, 2)) == 0)
        units = np.array(ARKIT_UNITS)
        self.left = np.char.endswith(units, "Left")
        self.right = np.char.endswith(units, "Right")

    def subject(self, index: int) -> Subject:
        """Generate subject `index` (deterministic in the seed and the index)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, index])
        ident = sample_identity(rng, self.mods)
        neutral = identity_shape(self.head, ident, self.mods)
        solver = TransferSolver(neutral, self.triangles, self.anchors)
        gain = self._style(rng)
        names = list(CATEGORIES)[: cfg.per_subject]
        names += [MIXTURE] * (cfg.per_subject - len(names))
        meshes, coeffs = [], []
        for name in names:
            c = random_mixture(rng) if name == MIXTURE else recipe(name) * rng.uniform(*cfg.intensity)
            shape = neutral if not c.any() else self._transfer(solver, c * gain)
            meshes.append(self._scan(rng, shape))
            coeffs.append(c)
        return Subject(identity=ident, neutral=neutral.astype(np.float32), style_gain=gain,
                       vertices=np.stack(meshes).astype(np.float32), expression=names,
                       arkit=np.stack(coeffs).astype(np.float32))

    def _style(self, rng: np.random.Generator) -> np.ndarray:
        """(52,) per-unit gains with a left/right imbalance."""
        cfg = self.config
        gain = np.exp(rng.normal(0, cfg.style_gain, len(ARKIT_UNITS)))
        tilt = rng.normal(0, cfg.style_asymmetry)
        return (gain * (1 + tilt * self.left) * (1 - tilt * self.right)).astype(np.float32)

    def _transfer(self, solver: TransferSolver, coeffs: np.ndarray) -> np.ndarray:
        source = self.rest + np.tensordot(coeffs, self.head.arkit, axes=1)
        return solver.solve(frames(source, self.triangles) @ self.rest_inverse)

    def _scan(self, rng: np.random.Generator, shape: np.ndarray) -> np.ndarray:
        """A small random rigid motion about the centroid, then isotropic noise."""
        cfg = self.config
        rot = Rotation.from_rotvec(np.deg2rad(cfg.rotation_deg) * rng.normal(size=3))
        centre = shape.mean(axis=0)
        moved = rot.apply(shape - centre) + centre + rng.normal(0, cfg.translation_mm, 3)
        return moved + rng.normal(0, cfg.noise_mm, shape.shape)


def iter_generate(config: SynthConfig) -> Generator[tuple[int, int], None, MeshDataset]:
    """Yield (subjects done, total) after each subject; return the whole MeshDataset."""
    pop = Population(config)
    subjects = []
    for s in range(config.subjects):
        subjects.append(pop.subject(s))
        yield s + 1, config.subjects
    return _dataset(pop, subjects)


def generate(config: SynthConfig,
             progress: Callable[[int, int], None] | None = None) -> MeshDataset:
    """Generate a population; `progress(done, total)` is called after each subject."""
    return drive(iter_generate(config), progress and (lambda item: progress(*item)))


def _dataset(pop: Population, subjects: list[Subject]) -> MeshDataset:
    ids = [f"s{i:04d}" for i in range(len(subjects))]
    m = pop.config.per_subject
    idents = [s.identity for s in subjects]
    expression = np.array([e for s in subjects for e in s.expression])
    ages = np.array([i.age_years for i in idents], np.float32)
    return MeshDataset(
        vertices=np.concatenate([s.vertices for s in subjects]),
        subject=np.repeat(ids, m), expression=expression, age=np.repeat(ages, m),
        neutral=expression == "neutral", path=np.full(len(expression), ""),
        extras={"arkit": np.concatenate([s.arkit for s in subjects])},
        subject_table={
            "neutral_vertices": np.stack([s.neutral for s in subjects]),
            "age": ages, "gender": np.array([i.gender for i in idents], np.float32),
            "ethnicity": np.stack([i.ethnicity for i in idents]).astype(np.float32),
            "muscle": np.array([i.muscle for i in idents], np.float32),
            "weight": np.array([i.weight for i in idents], np.float32),
            "modifiers": np.stack([i.modifiers for i in idents]).astype(np.float32),
            "style_gain": np.stack([s.style_gain for s in subjects]),
        },
        template=pop.head.template,
        meta={
            "source": "faceforge.synth", "generator_version": GENERATOR_VERSION,
            "anny_version": anny_version(), "config": dataclasses.asdict(pop.config),
            "arkit_units": list(ARKIT_UNITS), "categories": list(CATEGORIES) + [MIXTURE],
            "modifiers": [mod.name for mod in pop.mods], "ethnicities": list(ETHNICITIES),
        },
    )
