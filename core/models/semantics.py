"""Semantic controls stored with a model: named expressions, attribute directions, plausibility.

- Expressions: z_exp = a @ W for ARKit coefficients a (52,), fit by ridge regression without
  intercept on the training meshes (all-zero coefficients give z_exp = 0, the neutral), and one
  preset z_exp per expression category (the mean code of that category's meshes).
- Attributes: per-subject identity codes regressed on labels (age, gender, ...). Each attribute
  gets a unit direction n in z_id (InterFaceGAN / AlbedoGAN editing z + alpha n), orthogonal to
  the other attributes' directions, so moving along it changes that attribute and leaves the
  others' predicted values alone, and a linear read-out of its value from z_id.
- Plausibility: the training codes' mean and covariance; the squared Mahalanobis distance of a
  code follows a chi-square law with D degrees of freedom under a Gaussian fit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save
from scipy.stats import chi2

from ..cache import atomic_write_bytes
from ..errors import CheckpointError

FILE = "semantics.safetensors"


@dataclass(frozen=True, eq=False)
class Gaussian:
    """A Gaussian fit of codes: mean (D,), inverse covariance (D, D), D."""

    mean: np.ndarray
    precision: np.ndarray

    @classmethod
    def fit(cls, codes: np.ndarray, ridge: float = 1e-3) -> "Gaussian":
        """Fit (M, D) codes; `ridge` keeps the covariance invertible."""
        cov = np.cov(codes, rowvar=False) + ridge * np.eye(codes.shape[1])
        return cls(codes.mean(axis=0), np.linalg.inv(cov))

    def distance2(self, z: np.ndarray) -> np.ndarray:
        """(...,) squared Mahalanobis distance of (..., D) codes."""
        d = z - self.mean
        return np.einsum("...i,ij,...j->...", d, self.precision, d)

    def plausibility(self, z: np.ndarray) -> np.ndarray:
        """(...,) in [0, 1]: the share of the fitted population that lies farther out."""
        return chi2.sf(self.distance2(z), df=len(self.mean))

    def project(self, z: np.ndarray, level: float = 0.01) -> np.ndarray:
        """Pull codes whose plausibility is below `level` back along the line to the mean."""
        limit = chi2.isf(level, df=len(self.mean))
        d2 = self.distance2(z)[..., None]
        scale = np.where(d2 > limit, np.sqrt(limit / np.maximum(d2, 1e-12)), 1.0)
        return (self.mean + (z - self.mean) * scale).astype(np.float32)


    def axes(self) -> "PriorAxes":
        """The principal axes of this Gaussian (the eigenbasis of its covariance)."""
        var, vec = np.linalg.eigh(np.linalg.inv(self.precision.astype(np.float64)))
        order = np.argsort(var)[::-1]
        return PriorAxes(np.asarray(self.mean, np.float32), vec[:, order].T.astype(np.float32),
                         np.sqrt(np.maximum(var[order], 1e-12)).astype(np.float32))


@dataclass(frozen=True, eq=False)
class PriorAxes:
    """Principal axes of a code prior: z = mean + sum_k c_k * scales[k] * axes[k] (the editor's
    identity sliders, c_k in standard deviations).

    mean : (D,); axes : (D, D) orthonormal rows, by decreasing variance; scales : (D,) std devs.
    """

    mean: np.ndarray
    axes: np.ndarray
    scales: np.ndarray

    @classmethod
    def identity(cls, dim: int) -> "PriorAxes":
        """Unit axes around zero, for a model stored without a prior."""
        return cls(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32), np.ones(dim, np.float32))

    def coords(self, z: np.ndarray) -> np.ndarray:
        """(D,) coordinates of a code in standard deviations along each axis."""
        return (self.axes @ (z - self.mean)) / self.scales

    def with_coord(self, z: np.ndarray, k: int, value: float) -> np.ndarray:
        """`z` moved along axis k so its coordinate there is `value` (std devs)."""
        return (z + (value - self.coords(z)[k]) * self.scales[k] * self.axes[k]).astype(np.float32)

    def random(self, seed: int, spread: float = 1.0) -> np.ndarray:
        """A code drawn from the prior (scaled by `spread`), reproducible from `seed`."""
        c = np.random.default_rng(seed).standard_normal(len(self.scales)) * spread
        return (self.mean + (c * self.scales) @ self.axes).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Semantics:
    """Named controls of one model; see the module docstring."""

    arkit_units: list[str]
    expression_map: np.ndarray  # (52, E): z_exp = coefficients @ expression_map
    categories: list[str]
    category_codes: np.ndarray  # (C, E)
    attributes: list[str]
    directions: np.ndarray  # (A, I) unit editing directions in z_id
    readout: np.ndarray  # (A, I + 1): value = [z_id, 1] @ readout[a]
    identity_prior: Gaussian
    expression_prior: Gaussian
    info: dict = field(default_factory=dict)  # fit residuals and sample counts

    def expression(self, coefficients: np.ndarray) -> np.ndarray:
        """(..., E) z_exp for (..., 52) ARKit coefficients."""
        return (np.asarray(coefficients, np.float32) @ self.expression_map).astype(np.float32)

    def category(self, name: str, intensity: float = 1.0) -> np.ndarray:
        """(E,) z_exp of a category preset scaled by `intensity`."""
        if name not in self.categories:
            raise KeyError(f"unknown expression category {name!r}; choose from {self.categories}")
        return (self.category_codes[self.categories.index(name)] * intensity).astype(np.float32)

    def attribute(self, z_id: np.ndarray, name: str) -> np.ndarray:
        """(...,) predicted value of attribute `name` for (..., I) identity codes."""
        w = self.readout[self._index(name)]
        return np.asarray(z_id) @ w[:-1] + w[-1]

    def set_attribute(self, z_id: np.ndarray, name: str, value: float) -> np.ndarray:
        """Move z_id along the attribute's direction until its predicted value is `value`."""
        a = self._index(name)
        n, w = self.directions[a], self.readout[a, :-1]
        step = (value - self.attribute(z_id, name)) / float(n @ w)
        return (np.asarray(z_id) + np.multiply.outer(step, n)).astype(np.float32)

    def attribute_range(self, name: str, sigma: float = 3.0) -> tuple[float, float]:
        """The attribute's mean value -+ `sigma` std devs of its read-out under the identity prior."""
        prior, w = self.identity_prior, self.readout[self._index(name), :-1].astype(np.float64)
        std = float(np.sqrt(w @ np.linalg.inv(prior.precision.astype(np.float64)) @ w))
        mid = float(self.attribute(prior.mean, name))
        return mid - sigma * std, mid + sigma * std

    def _index(self, name: str) -> int:
        if name not in self.attributes:
            raise KeyError(f"unknown attribute {name!r}; choose from {self.attributes}")
        return self.attributes.index(name)

    def save(self, folder: str | Path) -> None:
        """Write `semantics.safetensors` into a model folder (atomically)."""
        arrays = {
            "expression_map": self.expression_map, "category_codes": self.category_codes,
            "directions": self.directions, "readout": self.readout,
            "identity_mean": self.identity_prior.mean,
            "identity_precision": self.identity_prior.precision,
            "expression_mean": self.expression_prior.mean,
            "expression_precision": self.expression_prior.precision,
        }
        names = {"arkit_units": self.arkit_units, "categories": self.categories,
                 "attributes": self.attributes, "info": self.info}
        data = save({k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()},
                    metadata={"names": json.dumps(names)})
        atomic_write_bytes(Path(folder) / FILE, data)

    @classmethod
    def load(cls, folder: str | Path) -> "Semantics | None":
        """Read the semantics of a model folder; None when the model has none."""
        path = Path(folder) / FILE
        if not path.is_file():
            return None
        try:
            with safe_open(path, framework="np") as f:
                names = json.loads(f.metadata()["names"])
                arrays = {k: f.get_tensor(k) for k in f.keys()}
        except (ValueError, KeyError, OSError, SafetensorError) as exc:
            raise CheckpointError(path, f"the semantic controls are unreadable ({exc}); "
                                  "refit them with 'faceforge semantics'") from exc
        return cls(
            arkit_units=names["arkit_units"], expression_map=arrays["expression_map"],
            categories=names["categories"], category_codes=arrays["category_codes"],
            attributes=names["attributes"], directions=arrays["directions"],
            readout=arrays["readout"],
            identity_prior=Gaussian(arrays["identity_mean"], arrays["identity_precision"]),
            expression_prior=Gaussian(arrays["expression_mean"], arrays["expression_precision"]),
            info=names["info"],
        )


def fit_semantics(z_id: np.ndarray, z_exp: np.ndarray, subject_index: np.ndarray,
                  arkit: np.ndarray, arkit_units: list[str], expression: np.ndarray,
                  attributes: dict[str, np.ndarray], ridge: float = 1e-2) -> Semantics:
    """Fit the controls from encoded training meshes.

    Parameters
    ----------
    z_id, z_exp : (M, I), (M, E) posterior means of the training meshes
    subject_index : (M,) int, subject of each mesh (0..S-1)
    arkit : (M, 52) ARKit coefficients of each mesh
    expression : (M,) str category label of each mesh ("" when unknown)
    attributes : name -> (S,) value per subject, e.g. "age" in years
    """
    w_exp, exp_rms = _ridge(arkit, z_exp, ridge)
    categories = sorted(c for c in set(expression.tolist()) if c)
    codes = np.stack([z_exp[expression == c].mean(axis=0) for c in categories])
    if "neutral" in categories:
        codes[categories.index("neutral")] = 0.0
    subjects = np.unique(subject_index)
    z_subject = np.stack([z_id[subject_index == s].mean(axis=0) for s in subjects])
    names = list(attributes)
    labels = np.stack([attributes[n][subjects] for n in names], axis=1)  # (S, A)
    design = np.hstack([z_subject, np.ones((len(z_subject), 1))])
    readout = np.linalg.lstsq(design, labels, rcond=None)[0].T  # (A, I + 1)
    directions = _orthogonal_directions(readout[:, :-1])
    r2 = 1 - ((design @ readout.T - labels) ** 2).sum(0) / ((labels - labels.mean(0)) ** 2).sum(0)
    return Semantics(
        arkit_units=list(arkit_units), expression_map=w_exp.astype(np.float32),
        categories=categories, category_codes=codes.astype(np.float32), attributes=names,
        directions=directions.astype(np.float32), readout=readout.astype(np.float32),
        identity_prior=Gaussian.fit(z_id), expression_prior=Gaussian.fit(z_exp),
        info={"expression_fit_rms": float(exp_rms), "meshes": int(len(z_id)),
              "subjects": int(len(subjects)),
              "attribute_r2": {n: float(v) for n, v in zip(names, r2)}},
    )


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """Ridge solution W of y ~ x W without intercept, and the RMS residual."""
    w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ y)
    return w, float(np.sqrt(((x @ w - y) ** 2).mean()))


def _orthogonal_directions(weights: np.ndarray) -> np.ndarray:
    """(A, I) unit directions: each attribute's gradient with the other gradients projected out.

    Moving along direction a changes attribute a's prediction and no other's (conditional
    manipulation, InterFaceGAN Sec. 2.3), as long as the gradients are linearly independent.
    """
    out = np.zeros_like(weights)
    for a in range(len(weights)):
        others = np.delete(weights, a, axis=0)
        q, _ = np.linalg.qr(others.T)  # orthonormal basis of the others' span
        n = weights[a] - q @ (q.T @ weights[a])
        out[a] = n / max(np.linalg.norm(n), 1e-12)
    return out


ATTRIBUTES = ("age", "gender", "weight", "muscle")
"""Per-subject labels used as editing directions when a dataset has them."""


def fit_for_model(model, dataset, batch: int = 64) -> Semantics:
    """Encode `dataset` (a MeshDataset with ARKit coefficients) with `model` and fit its controls.

    Attributes come from the dataset's per-subject table (`ATTRIBUTES` that it has), or from
    the per-mesh ages when there is no table.
    """
    if "arkit" not in dataset.extras:
        raise ValueError("fitting named expressions needs per-mesh ARKit coefficients "
                         "(extras['arkit'], as the synthetic population has)")
    codes = [model.encode(np.asarray(dataset.vertices[i:i + batch]))
             for i in range(0, len(dataset), batch)]
    z_id = np.concatenate([c[0] for c in codes])
    z_exp = np.concatenate([c[1] for c in codes])
    subject_index = dataset.subject_index()
    table = {k: np.asarray(v, np.float64) for k, v in dataset.subject_table.items()
             if k in ATTRIBUTES}
    if not table and np.isfinite(dataset.age).all():
        table = {"age": np.array([dataset.age[subject_index == s][0]
                                  for s in range(len(dataset.subjects()))], np.float64)}
    units = dataset.meta.get("arkit_units") or list(range(dataset.extras["arkit"].shape[1]))
    return fit_semantics(z_id, z_exp, subject_index, dataset.extras["arkit"], units,
                         dataset.expression, table)


def fit_for_checkpoint(folder, dataset) -> Semantics:
    """Fit and save the controls of the model in `folder` on its own training subjects.

    The subject split recorded at training time (metadata "train" -> "split") selects them,
    so held-out subjects stay unseen; without one, the whole dataset is used.
    """
    from ..data.stats import split_dataset
    from .registry import load_model

    model = load_model(folder)
    split = (model.metadata.get("train") or {}).get("split")
    if split:
        dataset, _ = split_dataset(dataset, split["test_fraction"], split["seed"])
    semantics = fit_for_model(model, dataset)
    semantics.save(folder)
    return semantics
