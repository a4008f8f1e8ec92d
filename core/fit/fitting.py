"""Fit a face model to a raw scan: rigid initialization, latent optimization, refinement.

`fit_scan` is a progress generator (run it with core.progress.drive). After the rigid
initialization maps the scan into the model frame (the "init frame", mm), the model fit
optimizes z_id, z_exp and a similarity correction C(x) = s R (x - c) + c + t of the decoded mesh
(R from an axis-angle vector, s = exp(log-scale), c the mean face's centroid) with torch LBFGS.
Each outer iteration recomputes correspondences without grad, then minimizes

    E = D(scan samples -> model surface) + D(model vertices -> scan) + w_c E_contour + w_lm E_lm
        + p (w_id |z_id|^2 + w_exp |z_exp|^2) + ((log s_total - log units) / sigma_s)^2

D is a Geman-McClure-weighted, trimmed mean of point-to-plane (plus 0.1 point-to-point) squared
distances; a model point is a barycentric combination of decoded vertices, so D is
differentiable in the codes. Model vertices only match the scan where it has data: within the
stage's reach, normals compatible, not on the scan's open boundary, so a partial scan does not
pull the model into its missing regions. E_contour matches the template's lips and eyelids
contours to the scan's hole boundaries (the surface terms alone let the lips slide along the
skin). The latent prior of the model is N(0, I); the scale prior keeps the scan's units (the
identity explains the head's size). Stages run coarse to fine: pose only, then all codes with
strong priors and a long reach (an open jaw is far from the mean face), then weaker priors and a
tighter robust scale. refine.py then adds per-vertex offsets with Laplacian regularization.
The codes reported then start from the model's encoder of the registered mesh, moved into the
model's own frame first (canonical.py): the data fit trades head pose against the codes, and the
model, trained on scans with rigid jitter, reads a degree of pose as expression; the codes then
explain the registered mesh with z_exp anchored at the encoder's split. The neutral is
decode(z_id, 0) of those codes plus the region-weighted refinement offsets.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..errors import ScanError
from ..mesh.align import SimilarityTransform
from ..mesh.geometry import vertex_normals
from ..models.base import FaceModel
from ..typed import Float32Array, FloatArray
from .canonical import STABLE_REGIONS, anchored_codes, canonical_codes, stable_vertices
from .correspond import (SurfaceIndex, TemplateSurface, closest_on_segments,
                         feature_contours, robust_weights)
from .refine import RefineOptions, face_normals, refine_offsets, scan_normals, vertex_residual
from .result import FitResult, compose
from .rigid import RigidFit, align_from_landmarks, auto_align
from .scan import Scan, sample_surface

COMPATIBLE = 0.3  # cosine: normals of matched points may differ by up to ~72 degrees
POINT_WEIGHT = 0.1  # share of point-to-point distance added to point-to-plane


@dataclass(frozen=True)
class FitStage:
    """One coarse-to-fine stage of the model fit.

    name : shown in progress; iterations : outer iterations (correspondences recomputed);
    codes : optimize z_id and z_exp (else the pose only); prior : multiplies the code priors;
    sigma : mm, Geman-McClure scale; trim, reach : override FitOptions.trim and max_distance
    (mm) when set; a long reach lets a coarse stage find an open jaw far from the mean face.
    """

    name: str
    iterations: int
    codes: bool = True
    prior: float = 1.0
    sigma: float = 2.0
    trim: float | None = None
    reach: float | None = None


STAGES = (  # measured on held-out synthetic scans: see the issue 6 report
    FitStage("pose", 3, codes=False, sigma=5.0, reach=30.0),
    FitStage("coarse", 8, prior=10.0, sigma=8.0, reach=30.0),
    FitStage("fine", 16, prior=1.0, sigma=2.0),
    FitStage("final", 4, prior=0.3, sigma=1.0),
)


@dataclass(frozen=True)
class FitOptions:
    """How to fit a scan. Lengths in mm (model frame).

    samples : scan surface samples used by the fit
    trim : keep this quantile of correspondences each way
    max_distance : correspondences farther than this are ignored
    landmark_weight : weight of the landmark term (mean squared mm) relative to the scan terms
    contour_weight : weight of matching the template's open contours (lips, eyelids) in
        `contour_regions` to the scan's hole boundaries
    prior_id, prior_exp : weights of |z|^2 of the codes (their prior is N(0, I)); the weak
        expression prior lets the fit reach strong expressions, so the registered mesh keeps its
        correspondences (an open jaw no longer slides the chin along the neck); the identity /
        expression split of the result comes from the encoder (encoder_codes)
    scale_prior : std of the log of the fitted scan-to-model scale around the units guess
        (the model's identity explains the head size); None leaves the scale free
    stages : the coarse-to-fine schedule
    inner_iterations : LBFGS iterations per outer iteration
    refine : add per-vertex offsets (refine.py); refine_smoothness : their Laplacian weight;
    refine_iterations : correspondence updates of the refinement
    neutral_offsets : region -> factor the offsets are multiplied by in the neutral (others 1)
    encoder_codes : report codes from the model encoder of the registered mesh in the model's own
        frame (canonical.py; see the module docstring) and the neutral they give; with refine only,
        since the offsets then carry registered - decode(codes)
    stable_regions : template regions expressions barely move, which set that frame
    seed : of the surface sampling
    """

    samples: int = 20_000
    trim: float = 0.9
    max_distance: float = 10.0
    landmark_weight: float = 0.1
    contour_weight: float = 0.05
    contour_regions: tuple[str, ...] = ("mouth", "eyes")
    prior_id: float = 1e-3
    prior_exp: float = 1e-3
    scale_prior: float | None = 0.02
    stages: tuple[FitStage, ...] = STAGES
    inner_iterations: int = 8
    refine: bool = True
    refine_smoothness: float = 1.0
    refine_iterations: int = 3
    neutral_offsets: tuple[tuple[str, float], ...] = (("mouth", 0.5), ("eyes", 0.5))
    encoder_codes: bool = True
    stable_regions: tuple[str, ...] = STABLE_REGIONS
    seed: int = 0


@dataclass(frozen=True, eq=False)
class FitProgress:
    """One step of a fit: stage name, step (1..total), total, rmse (mm) of the scan matches.

    rigid : on the first step ("rigid") the scan -> model initialization, so a view can show the
        aligned scan while the model fit runs; None on the other steps
    """

    stage: str
    step: int
    total: int
    rmse: float
    rigid: RigidFit | None = None


class FitCancelled(Exception):
    """The caller set the cancel event; the fit stopped at its next step."""


def fit_scan(model: FaceModel, scan: Scan, options: FitOptions = FitOptions(), *,
             landmarks: dict[str, FloatArray] | None = None, rigid: RigidFit | None = None,
             cancel: threading.Event | None = None) -> Generator[FitProgress, None, FitResult]:
    """Fit `model` to `scan`, yielding FitProgress after every step; return the FitResult.

    The first step carries the rigid initialization (FitProgress.rigid).

    landmarks : template landmark name -> (3,) point in scan coordinates: a landmark term, and
        with 4 or more the rigid initialization when `rigid` is None
    rigid : the scan -> model initialization; default align_from_landmarks with >= 4
        landmarks (refined by ICP on the scan), else auto_align against the model's mean face
    cancel : set it (from any thread) to raise FitCancelled at the next step
    """
    start = time.perf_counter()
    refine_steps = options.refine_iterations if options.refine else 0
    total = 1 + sum(s.iterations for s in options.stages) + refine_steps
    steps = _Steps(total, cancel)
    steps.check()
    if rigid is None:
        rigid = _initial_alignment(model, scan, landmarks, options.seed)
    yield steps.next("rigid", rigid.rmse, rigid)
    problem = _Problem(model, scan, rigid, landmarks, options)
    for stage in options.stages:
        for _ in range(stage.iterations):
            steps.check()
            yield steps.next(stage.name, problem.iterate(stage))
    posed, correction = problem.posed(), problem.correction()
    offsets = np.zeros_like(posed)
    if options.refine:
        refine = RefineOptions(smoothness=options.refine_smoothness, iterations=refine_steps,
                               max_distance=options.max_distance, trim=options.trim)
        gen = refine_offsets(posed, problem.triangles, problem.scan, problem.samples,
                             problem.sample_normals, refine)
        offsets = yield from steps.relay("refine", gen)
    residual = vertex_residual(posed + offsets, problem.triangles, problem.scan,
                               options.max_distance) / float(correction.scale)
    return _result(model, problem, rigid, correction, offsets, residual, options,
                   time.perf_counter() - start)


class _Steps:
    """Counts steps, builds FitProgress records and honours the cancel event."""

    def __init__(self, total: int, cancel: threading.Event | None):
        self.total, self.cancel, self.done = total, cancel, 0

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise FitCancelled(f"the fit was cancelled after step {self.done} of {self.total}")

    def next(self, stage: str, rmse: float, rigid: RigidFit | None = None) -> FitProgress:
        self.done += 1
        return FitProgress(stage, self.done, self.total, float(rmse), rigid)

    def relay(self, stage: str, gen: Generator[float, None, np.ndarray]):
        """Run a generator of rmse values as steps of `stage`; return its value."""
        while True:
            self.check()
            try:
                rmse = next(gen)
            except StopIteration as stop:
                return stop.value
            yield self.next(stage, rmse)


def _initial_alignment(model: FaceModel, scan: Scan, landmarks: dict[str, FloatArray] | None,
                       seed: int) -> RigidFit:
    mean_face = model.decode(*_zero_codes(model))[0]
    if landmarks is not None and len(landmarks) >= 4:
        names = list(landmarks)
        points = np.stack([np.asarray(landmarks[n], np.float64) for n in names])
        return align_from_landmarks(points, names, mean_face, model.template, scan=scan, seed=seed)
    return auto_align(scan, mean_face, model.template, seed=seed)


def _zero_codes(model: FaceModel) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((1, model.id_dim), np.float32), np.zeros((1, model.exp_dim), np.float32)


class _Problem:
    """The model fit's state: scan data in the init frame and the torch parameters."""

    def __init__(self, model: FaceModel, scan: Scan, rigid: RigidFit,
                 landmarks: dict[str, FloatArray] | None, options: FitOptions):
        self.model, self.options = model, options
        self.device = getattr(model, "device", torch.device("cpu"))
        self.triangles = model.template.triangles().astype(np.int64)
        self.template_surface = TemplateSurface(self.triangles)
        self.rigid_scale = float(np.asarray(rigid.transform.scale))
        self.unit_scale = float(rigid.unit_scale)
        to_model = rigid.transform
        points, normals = sample_surface(scan, options.samples, options.seed)
        self.samples = to_model.apply(points.astype(np.float64))
        self.sample_normals = _rotate(normals, to_model.rotation)
        self.scan = SurfaceIndex.build(to_model.apply(scan.vertices.astype(np.float64)),
                                       scan.faces, _rotate(scan.normals, to_model.rotation))
        self.landmark_ids, self.landmark_points = _landmarks(model, landmarks, to_model)
        self.contours = feature_contours(model.template, options.contour_regions)  # (K, 2)
        edge = self.scan.boundary
        self.scan_edge = self.scan.vertices[edge] if len(self.contours) else np.zeros((0, 3))
        self.scan_edge_tree = cKDTree(self.scan_edge) if len(self.scan_edge) else None
        mean_face = model.decode(*_zero_codes(model))[0].astype(np.float64)
        self.centre = torch.tensor(mean_face.mean(axis=0), dtype=torch.float32, device=self.device)
        # rotation and log-scale are optimized in mm at this radius: all parameters move the
        # surface by about one mm per unit, which LBFGS needs to converge quickly
        self.radius = float(np.sqrt(((mean_face - mean_face.mean(axis=0)) ** 2).sum(axis=1).mean()))
        self.params = {
            "z_id": torch.zeros(1, model.id_dim, device=self.device),
            "z_exp": torch.zeros(1, model.exp_dim, device=self.device),
            "rotvec": torch.zeros(3, device=self.device, dtype=torch.float32),
            "translation": torch.zeros(3, device=self.device),
            "log_scale": torch.zeros((), device=self.device),
        }
        for p in self.params.values():
            p.requires_grad_(True)
        self._samples = torch.as_tensor(self.samples, dtype=torch.float32, device=self.device)

    def decoded(self) -> torch.Tensor:
        """(N, 3) mm, decode(z_id, z_exp) in the model frame (differentiable)."""
        return self.model.decode(self.params["z_id"], self.params["z_exp"])[0]

    def pose(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3) model-frame points moved by the correction into the init frame."""
        rotation, scale = self._rotation_scale()
        return scale * (x - self.centre) @ rotation.T + self.centre + self.params["translation"]

    def _rotation_scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.params
        return (torch.linalg.matrix_exp(_skew(p["rotvec"] / self.radius)),
                torch.exp(p["log_scale"] / self.radius))

    def posed(self) -> Float32Array:
        """(N, 3) float32 mm, the current model fit in the init frame."""
        with torch.no_grad():
            return self.pose(self.decoded()).cpu().numpy().astype(np.float32)

    def correction(self) -> SimilarityTransform:
        """The model frame -> init frame similarity of the current pose parameters."""
        with torch.no_grad():
            rotation, scale = self._rotation_scale()
            rotation, scale = rotation.double().cpu().numpy(), float(scale)
            t = self.params["translation"].double().cpu().numpy()
        c = self.centre.double().cpu().numpy()
        return SimilarityTransform(rotation, c - scale * rotation @ c + t, scale)

    def codes(self) -> tuple[Float32Array, Float32Array]:
        return tuple(self.params[k].detach().cpu().numpy()[0].astype(np.float32)
                     for k in ("z_id", "z_exp"))

    def iterate(self, stage: FitStage) -> float:
        """Match, then run LBFGS on the matched energy; returns the scan matches' rmse (mm)."""
        terms, rmse = self._match(stage)
        names = ["rotvec", "translation", "log_scale"] + (["z_id", "z_exp"] if stage.codes else [])
        params = [self.params[n] for n in names]
        optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=self.options.inner_iterations,
                                      line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = self._energy(terms, stage)
            loss.backward()
            return loss

        optimizer.step(closure)
        return rmse

    def _match(self, stage: FitStage) -> tuple[dict[str, torch.Tensor], float]:
        """Correspondences of the current fit both ways, as tensors for `_energy`."""
        o = self.options
        trim = o.trim if stage.trim is None else stage.trim
        reach = o.max_distance if stage.reach is None else stage.reach
        v = self.posed().astype(np.float64)
        # scan samples -> model surface
        hit = self.template_surface.closest(v, self.samples)
        face_n = face_normals(v, self.triangles)[hit.triangle]
        keep = (hit.distance < reach) & \
            (np.einsum("ij,ij->i", face_n, self.sample_normals) > COMPATIBLE)
        w_s = robust_weights(hit.distance, keep, trim, stage.sigma)
        # model vertices -> scan surface
        near = self.scan.closest(v, k=3)
        n_scan, covered = scan_normals(self.scan, near)
        keep = covered & (near.distance < reach) & \
            (np.einsum("ij,ij->i", vertex_normals(v, self.triangles), n_scan) > COMPATIBLE)
        w_m = robust_weights(near.distance, keep, trim, stage.sigma)
        used = w_s > 0
        rmse = float(np.sqrt(np.mean(hit.distance[used] ** 2))) if used.any() else float("nan")
        t = lambda a, dtype=torch.float32: torch.as_tensor(np.asarray(a), dtype=dtype,  # noqa: E731
                                                           device=self.device)
        terms = {
            "s_tri": t(self.triangles[hit.triangle], torch.long), "s_bary": t(hit.barycentric),
            "s_normal": t(face_n), "s_weight": t(w_s),
            "m_target": t(near.points), "m_normal": t(n_scan), "m_weight": t(w_m),
        }
        if self.scan_edge_tree is not None:
            terms.update({k: t(v, torch.long if v.dtype.kind == "i" else torch.float32)
                          for k, v in self._match_contours(v, trim, reach).items()})
        return terms, rmse

    def _match_contours(self, v: np.ndarray, trim: float, reach: float) -> dict[str, np.ndarray]:
        """The lips' and eyelids' contours against the scan's hole boundaries, both ways: scan
        boundary points -> closest point on a contour segment, contour vertices -> nearest scan
        boundary point. Where the scan has no hole there (closed lips) nothing is near."""
        ends = v[self.contours]  # (K, 2, 3)
        ids = np.unique(self.contours)
        near = self.scan_edge_tree.query_ball_point(v[ids], reach)
        picked = np.unique(np.concatenate([np.asarray(n, np.int64) for n in near] + [[]])).astype(np.int64)
        seg, along, dist = closest_on_segments(self.scan_edge[picked], ends[:, 0], ends[:, 1])
        w_in = robust_weights(dist, dist < reach, trim, np.inf)
        gap, nearest = self.scan_edge_tree.query(v[ids])
        w_out = robust_weights(gap, gap < reach, trim, np.inf)
        nearest = np.minimum(nearest, len(self.scan_edge) - 1)
        return {"c_points": self.scan_edge[picked], "c_ends": self.contours[seg], "c_t": along,
                "c_in_weight": w_in, "c_ids": ids, "c_targets": self.scan_edge[nearest],
                "c_out_weight": w_out}

    def _energy(self, m: dict[str, torch.Tensor], stage: FitStage) -> torch.Tensor:
        o, p = self.options, self.params
        x = self.pose(self.decoded())
        foot = torch.einsum("sk,skc->sc", m["s_bary"], x[m["s_tri"]])
        energy = _plane_term(self._samples - foot, m["s_normal"], m["s_weight"]) \
            + _plane_term(x - m["m_target"], m["m_normal"], m["m_weight"])
        if "c_ids" in m and o.contour_weight > 0:
            ends = x[m["c_ends"]]  # (C, 2, 3)
            foot = ends[:, 0] + m["c_t"][:, None] * (ends[:, 1] - ends[:, 0])
            energy = energy + o.contour_weight * (
                _mean_square(m["c_points"] - foot, m["c_in_weight"])
                + _mean_square(x[m["c_ids"]] - m["c_targets"], m["c_out_weight"]))
        if self.landmark_ids is not None:
            d = x[self.landmark_ids] - self.landmark_points
            energy = energy + o.landmark_weight * (d**2).sum(dim=1).mean()
        if stage.codes:
            energy = energy + stage.prior * (o.prior_id * (p["z_id"] ** 2).sum()
                                             + o.prior_exp * (p["z_exp"] ** 2).sum())
        if o.scale_prior is not None:
            log_total = np.log(self.rigid_scale / self.unit_scale) - p["log_scale"] / self.radius
            energy = energy + (log_total / o.scale_prior) ** 2
        return energy


def _plane_term(r: torch.Tensor, normal: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of (n . r)^2 + POINT_WEIGHT |r|^2 over matches (M, 3); 0 without any."""
    total = weight.sum()
    if total <= 0:
        return r.new_zeros(())
    plane = (r * normal).sum(dim=1) ** 2
    return (weight * (plane + POINT_WEIGHT * (r**2).sum(dim=1))).sum() / total


def _mean_square(r: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of |r|^2 over (M, 3) matches; 0 without any."""
    total = weight.sum()
    return (weight * (r**2).sum(dim=1)).sum() / total if total > 0 else r.new_zeros(())


def _rotate(normals: FloatArray, rotation: FloatArray) -> np.ndarray:
    return np.asarray(normals, np.float64) @ np.asarray(rotation, np.float64).T


def _skew(w: torch.Tensor) -> torch.Tensor:
    zero = w.new_zeros(())
    return torch.stack([torch.stack([zero, -w[2], w[1]]), torch.stack([w[2], zero, -w[0]]),
                        torch.stack([-w[1], w[0], zero])])


def _landmarks(model: FaceModel, landmarks: dict[str, FloatArray] | None,
               to_model: SimilarityTransform) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Landmark vertex ids and their points in the init frame, as tensors (or None, None)."""
    if not landmarks:
        return None, None
    known = model.template.landmarks
    unknown = [n for n in landmarks if n not in known]
    if unknown:
        raise ScanError(f"unknown landmark names {unknown}; use names of the template's "
                        f"landmarks: {', '.join(known)}")
    device = getattr(model, "device", torch.device("cpu"))
    ids = torch.as_tensor([known[n] for n in landmarks], device=device)
    points = to_model.apply(np.stack([np.asarray(p, np.float64) for p in landmarks.values()]))
    return ids, torch.as_tensor(points, dtype=torch.float32, device=device)


def _result(model: FaceModel, problem: _Problem, rigid: RigidFit,
            correction: SimilarityTransform, offsets_init: np.ndarray, residual: np.ndarray,
            options: FitOptions, seconds: float) -> FitResult:
    """Assemble the FitResult: offsets back in the model frame, pose model -> scan."""
    z_id, z_exp = problem.codes()
    model_fit = model.decode(z_id[None], z_exp[None])[0]
    offsets = (offsets_init @ correction.rotation / correction.scale).astype(np.float32)
    to_init = correction  # model frame -> init frame
    if options.encoder_codes and options.refine:  # the offsets keep registered = model_fit + offsets
        stable = stable_vertices(model.template, options.stable_regions)
        fitted = (model_fit + offsets).astype(np.float64)
        frame, z_id, z_exp = canonical_codes(model, fitted, stable)
        registered = frame.apply(fitted)
        z_id, z_exp = anchored_codes(model, registered, z_id, z_exp)
        model_fit = model.decode(z_id[None], z_exp[None])[0]
        offsets = (registered - model_fit).astype(np.float32)
        to_init = compose(correction, frame.inverse())
    return FitResult(
        template=model.template, z_id=z_id, z_exp=z_exp, pose=compose(rigid.transform.inverse(), to_init),
        # registered recomputed as FitResult.load does, so a saved fit loads back bit for bit
        model_fit=model_fit, offsets=offsets, registered=(model_fit + offsets).astype(np.float32),
        neutral=_fit_neutral(model, z_id, offsets, options), residual=residual.astype(np.float32),
        rigid=rigid, seconds=seconds, notes=_notes(problem, correction, residual),
    )


def _fit_neutral(model: FaceModel, z_id: np.ndarray, offsets: np.ndarray,
                 options: FitOptions) -> Float32Array:
    """(N, 3) float32 mm: decode(z_id, 0) plus the offsets weighted by options.neutral_offsets."""
    base = model.decode(z_id[None], np.zeros((1, model.exp_dim), np.float32))[0]
    factor = np.ones(model.template.n_vertices, np.float32)
    for region, value in options.neutral_offsets:
        factor[np.asarray(model.template.regions.get(region, ()), np.int64)] = value
    return (base + factor[:, None] * offsets).astype(np.float32)


def _notes(problem: _Problem, correction: SimilarityTransform, residual: np.ndarray) -> tuple[str, ...]:
    covered = np.isfinite(residual)
    notes = [f"the scan covers {100 * covered.mean():.0f}% of the template's vertices"]
    total_scale = problem.rigid_scale / float(correction.scale)
    if abs(np.log(total_scale / problem.unit_scale)) > 0.05:
        notes.append(f"the scan was fitted at {total_scale:.3g}x its units guess "
                     f"({problem.unit_scale:g} mm per unit)")
    return tuple(notes)
