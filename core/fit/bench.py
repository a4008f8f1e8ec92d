"""`faceforge bench fit`: raw scans of held-out synthetic subjects, fitted and scored against the
ground truth.

The subjects come from a population with another seed than the default model's training data
(seed 0), generated without rigid jitter or noise, so their template-topology meshes and true
neutrals are exact. Each chosen expression mesh becomes one raw scan per condition (rawscan.py:
re-meshed at a density, 0.2 mm noise along the normals, any rotation, a translation, +-5% scale,
plus the condition's holes, cropped side, shoulders, cap or units), is written as PLY, then loaded
and fitted the way a user's file is. Per scan:

- registration error: each registered vertex, taken to the scan's frame by the fit's pose and
  back to the model frame by the scan's known transform, to the ground-truth surface (mm); over
  the vertices whose surface the scan shows ("seen") and over all; and vertex to vertex
- neutral error: E_neu of core.eval.metrics (average vertex distance) between the fitted neutral,
  mapped back the same way, and the subject's true neutral (mm), next to the encoder's E_neu
  (decode(encode_id(ground-truth mesh), 0)) for the same mesh; over all vertices and over
  the expressive region, the EXPRESSIVE_SHARE of vertices the true expression moves most (a
  whole-head mean hides an expression left in the neutral)
- seconds: load_scan + fit_scan
"""
from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bench import machine
from ..data.synth.expressions import CATEGORIES
from ..data.synth.generate import Population, SynthConfig
from ..errors import FaceForgeError
from ..eval.metrics import e_neu
from ..mesh.closest import closest_points
from ..models.base import FaceModel
from ..progress import drive
from ..typed import BoolArray, FloatArray
from .fitting import FitOptions, fit_scan
from .result import FitResult
from .rawscan import RawScan, RawScanSpec, make_raw_scan, write_raw_scan
from .scan import load_scan
from .transfer import transfer_expression

CONDITIONS: dict[str, dict] = {  # name -> RawScanSpec fields besides the seed
    "10k": dict(density=10_000),
    "50k-holes": dict(density=50_000, holes=3),
    "100k-crop": dict(density=100_000, holes=2, crop_side=True),
    "100k-m": dict(density=100_000, units="m"),
    "300k-cm": dict(density=300_000, holes=2, units="cm"),
    "50k-shoulders": dict(density=50_000, extras="shoulders"),
    "50k-cap-m": dict(density=50_000, extras="cap", units="m"),
}
TARGET_REGISTRATION_MM = 1.0
TARGET_NEUTRAL_RATIO = 1.3
TARGET_SECONDS_100K = 10.0
EXPRESSIVE_SHARE = 0.2  # the expressive region: this share of vertices, moved most by the expression


@dataclass(frozen=True)
class FitScore:
    """One fitted raw scan against its ground truth (error is empty when the fit succeeded).

    registration : (N,) mm, registered vertex -> ground-truth surface; seen : (N,) bool, vertices
    whose surface is in the scan; v2v, neutral, encoder : mm (encoder: the encoder's E_neu);
    neutral_expressive, encoder_expressive : mm, the same over the expressive region
    """

    condition: str
    subject: int
    expression: str
    vertices: int
    encoder: float
    encoder_expressive: float = math.nan
    seconds: float = math.nan
    registration: FloatArray | None = None
    seen: BoolArray | None = None
    v2v: float = math.nan
    neutral: float = math.nan
    neutral_expressive: float = math.nan
    error: str = ""


@dataclass(frozen=True)
class TransferScore:
    """One fitted scan's expression put on another subject's fitted scan of the same condition.

    Against the target subject's own version of the source's expression (its true meshes):
    error : mm, mean over that expression's expressive region, of the transferred motion (result
        minus the target's fitted neutral) minus the true motion; moved : mm, the true motion
        there (doing nothing leaves this much); leak : mm, the same error over the other vertices
    encoder_error, encoder_leak : the same for the encoder's codes of the true meshes
    """

    condition: str
    target: int
    source: int
    expression: str
    error: float
    leak: float
    moved: float
    encoder_error: float
    encoder_leak: float


@dataclass(frozen=True, eq=False)
class _Fitted:
    """A benchmark scan's fit, with what scoring a transfer needs (true_codes: the encoder's
    (1, I) and (1, E) codes of the true mesh the scan was made from)."""

    condition: str
    subject: int
    expression: int
    raw: RawScan
    result: FitResult
    true_codes: tuple[np.ndarray, np.ndarray]


def iter_bench_fit(model: FaceModel, subjects: int = 4, per_subject: int = 1, seed: int = 1,
                   conditions: list[str] | None = None, options: FitOptions = FitOptions()
                   ) -> Generator[tuple[int, int, FitScore], None, tuple[list[FitScore], list[TransferScore]]]:
    """Make, fit and score subjects x per_subject x conditions raw scans; yield (done, total,
    score) after each; return all scores and the transfer scores of every pair of scans of
    different subjects within a condition. Expressions are drawn (without neutral) per subject."""
    names = list(CONDITIONS) if conditions is None else conditions
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown conditions {unknown}; choose from {', '.join(CONDITIONS)}")
    population = Population(SynthConfig(subjects=subjects, per_subject=len(CATEGORIES), seed=seed,
                                        noise_mm=0.0, rotation_deg=0.0, translation_mm=0.0))
    total, scores, fitted, people = subjects * per_subject * len(names), [], [], []
    with tempfile.TemporaryDirectory(prefix="faceforge-bench-fit-") as tmp:
        for s in range(subjects):
            subject = population.subject(s)
            people.append(subject)
            rng = np.random.default_rng([seed, s])
            for e in rng.choice(np.arange(1, len(CATEGORIES)), per_subject, replace=False):
                truth = subject.vertices[e]
                region = expressive_region(truth, subject.neutral)
                codes = model.encode(truth[None])
                encoder = _errors(subject.neutral, model.decode(codes[0], np.zeros_like(codes[1]))[0], region)
                for name in names:
                    spec = RawScanSpec(**CONDITIONS[name], seed=seed * 100_003 + len(scores))
                    raw = make_raw_scan(truth, model.template, spec)
                    head = dict(condition=name, subject=s, expression=subject.expression[e],
                                vertices=len(raw.vertices), encoder=encoder[0], encoder_expressive=encoder[1])
                    score, result = _fit_and_score(model, raw, subject.neutral, region, Path(tmp) / "scan.ply",
                                                   options, head)
                    scores.append(score)
                    if result is not None:
                        fitted.append(_Fitted(name, s, int(e), raw, result, codes))
                    yield len(scores), total, score
    return scores, _transfer_scores(model, people, fitted)


def _transfer_scores(model: FaceModel, people: list, fitted: list[_Fitted]) -> list[TransferScore]:
    """Score transfer_expression(target, source) for every ordered pair of fits of different
    subjects within a condition (people: the population's subjects, by index)."""
    out = []
    for target in fitted:
        person = people[target.subject]
        back = lambda x, t=target: t.raw.to_model_frame(t.result.in_scan_frame(x))  # noqa: E731
        for source in fitted:
            if source.condition != target.condition or source.subject == target.subject:
                continue
            truth_mesh = person.vertices[source.expression]
            truth = truth_mesh - person.neutral
            region = expressive_region(truth_mesh, person.neutral)
            moved = back(transfer_expression(target.result, source.result, model)) - back(target.result.neutral)
            z_id, z_exp = target.true_codes[0], source.true_codes[1]
            encoder = model.decode(z_id, z_exp)[0] - model.decode(z_id, np.zeros_like(z_exp))[0]
            fit_error, encoder_error = (np.linalg.norm(m - truth, axis=1) for m in (moved, encoder))
            out.append(TransferScore(
                target.condition, target.subject, source.subject, person.expression[source.expression],
                float(fit_error[region].mean()), float(fit_error[~region].mean()),
                float(np.linalg.norm(truth, axis=1)[region].mean()),
                float(encoder_error[region].mean()), float(encoder_error[~region].mean())))
    return out


def bench_fit(model: FaceModel, subjects: int = 4, per_subject: int = 1, seed: int = 1,
              conditions: list[str] | None = None, model_name: str = "default",
              progress: Callable[[int, int, FitScore], None] | None = None) -> str:
    """Run the fit benchmark and return its Markdown section."""
    scores, transfers = drive(iter_bench_fit(model, subjects, per_subject, seed, conditions),
                              progress and (lambda item: progress(*item)))
    picked = "" if conditions is None else f" --conditions {','.join(conditions)}"
    command = (f"`faceforge bench fit --subjects {subjects} --per-subject {per_subject} --seed {seed}{picked}` "
               f"on {machine()}; model `{model_name}` ({model.template.n_vertices} vertices)")
    return f"{command}\n\n{report(scores, transfers)}"


def expressive_region(expression: FloatArray, neutral: FloatArray) -> BoolArray:
    """(N,) bool: the EXPRESSIVE_SHARE of the (N, 3) vertices that `expression` moves most away
    from `neutral` (both mm, same frame)."""
    moved = np.linalg.norm(np.asarray(expression, np.float64) - np.asarray(neutral, np.float64), axis=1)
    return moved > np.quantile(moved, 1.0 - EXPRESSIVE_SHARE)


def _errors(truth: FloatArray, neutral: FloatArray, region: BoolArray) -> tuple[float, float]:
    """E_neu (mm) of an (N, 3) neutral against the truth over all vertices and over `region`."""
    distance = np.linalg.norm(np.asarray(neutral, np.float64) - np.asarray(truth, np.float64), axis=1)
    return float(e_neu(truth, np.asarray(neutral)[None])[0]), float(distance[region].mean())


def _fit_and_score(model: FaceModel, raw: RawScan, neutral_truth: FloatArray, region: BoolArray,
                   path: Path, options: FitOptions, head: dict) -> tuple[FitScore, FitResult | None]:
    write_raw_scan(path, raw)
    start = time.perf_counter()
    try:
        result = drive(fit_scan(model, load_scan(path), options))
    except FaceForgeError as e:
        return FitScore(**head, seconds=time.perf_counter() - start, error=str(e)), None
    seconds = time.perf_counter() - start
    registered = raw.to_model_frame(result.in_scan_frame(result.registered))
    neutral = raw.to_model_frame(result.in_scan_frame(result.neutral))
    surface = closest_points(raw.truth, model.template.triangles(), registered).distance
    whole, expressive = _errors(neutral_truth, neutral, region)
    return FitScore(**head, seconds=seconds, registration=surface, seen=raw.visible,
                    v2v=float(np.linalg.norm(registered - raw.truth, axis=1).mean()),
                    neutral=whole, neutral_expressive=expressive), result


def report(scores: list[FitScore], transfers: list[TransferScore] = ()) -> str:
    """Markdown: a row per condition and overall, the targets checked, the failures listed, then
    the expression transfer table."""
    rows = ["| condition | fitted | vertices | registration, seen: mean / median (mm) | registration, all: "
            "mean (mm) | vertex to vertex (mm) | neutral error (mm) | encoder E_neu (mm) | ratio | neutral error, "
            "expressive region: fit / encoder (mm) | ratio | s per scan |",
            "| --- |" + " --- |" * 11]
    groups = {name: [s for s in scores if s.condition == name] for name in dict.fromkeys(s.condition for s in scores)}
    for name, group in list(groups.items()) + [("**all**", scores)]:
        rows.append(_row(name, group))
    ok = [s for s in scores if not s.error]
    seen = _pool(ok, seen_only=True)
    ratio = _mean([s.neutral for s in ok]) / _mean([s.encoder for s in ok]) if ok else math.nan
    local = _mean([s.neutral_expressive for s in ok]) / _mean([s.encoder_expressive for s in ok]) if ok else math.nan
    at_100k = [s.seconds for s in ok if s.condition.startswith("100k")]
    checks = [
        (f"mean registration error (seen surface) < {TARGET_REGISTRATION_MM} mm", f"{_mean(seen):.3f} mm",
         _mean(seen) < TARGET_REGISTRATION_MM),
        (f"neutral error within {TARGET_NEUTRAL_RATIO}x the encoder's E_neu (both over all vertices, mean over "
         "scans; the encoder's of the true meshes)", f"{ratio:.2f}x", ratio <= TARGET_NEUTRAL_RATIO),
        (f"neutral error in the expressive region ({100 * EXPRESSIVE_SHARE:.0f}% of vertices the true expression "
         f"moves most, mean over scans) within {TARGET_NEUTRAL_RATIO}x the encoder's there", f"{local:.2f}x",
         local <= TARGET_NEUTRAL_RATIO),
        (f"< {TARGET_SECONDS_100K:.0f} s per 100k-vertex scan", f"{_mean(at_100k):.1f} s" if at_100k else "no "
         "100k scan in this run", _mean(at_100k) < TARGET_SECONDS_100K if at_100k else None),
    ]
    verdict = {True: "MET", False: "MISSED", None: "NOT MEASURED"}
    lines = [f"- {text}: {value} -> {verdict[met]}" for text, value, met in checks]
    failures = [f"- failed: {s.condition}, subject {s.subject} ({s.expression}): {s.error}" for s in scores if s.error]
    notes = ["Scans: 0.2 mm noise along the normals, any rotation, translation up to 300 mm, scale 1 +- 5%; "
             "holes are 8 mm geodesic discs on the face; crop drops one side beyond a plane near a cheek; "
             "m / cm: the file is in metres / centimetres. Subjects are held out (another population seed "
             "than the model's training data). Seen: vertices whose surface is in the scan."]
    return "\n".join(rows + [""] + lines + failures + [""] + notes + _transfer_table(transfers))


def _transfer_table(transfers: list[TransferScore]) -> list[str]:
    """Markdown lines: the transfer scores by the source's expression and overall."""
    if not transfers:
        return []
    rows = ["", "Expression transfer (`faceforge transfer`): each fitted scan's expression put on every other "
            "subject's fitted scan of the same condition, against that subject's own version of the expression "
            "(true meshes; subjects have their own expression styles, so even the encoder's codes of the true "
            "meshes leave an error). Leak: the error where the true expression moves little.", "",
            "| source expression | pairs | true motion (mm) | error: fit / encoder (mm) | ratio | leak: fit / "
            "encoder (mm) |", "| --- |" + " --- |" * 5]
    names = sorted({t.expression for t in transfers})
    groups = {name: [t for t in transfers if t.expression == name] for name in names}
    for name, group in list(groups.items()) + [("**all**", transfers)]:
        error, encoder = _mean([t.error for t in group]), _mean([t.encoder_error for t in group])
        rows.append(f"| {name} | {len(group)} | {_mean([t.moved for t in group]):.2f} | {error:.2f} / {encoder:.2f} | "
                    f"{error / encoder:.2f} | {_mean([t.leak for t in group]):.2f} / "
                    f"{_mean([t.encoder_leak for t in group]):.2f} |")
    return rows


def _row(name: str, group: list[FitScore]) -> str:
    ok = [s for s in group if not s.error]
    seen, every = _pool(ok, seen_only=True), _pool(ok, seen_only=False)
    neutral, encoder = _mean([s.neutral for s in ok]), _mean([s.encoder for s in ok])
    local, local_encoder = _mean([s.neutral_expressive for s in ok]), _mean([s.encoder_expressive for s in ok])
    median = float(np.median(seen)) if len(seen) else math.nan
    return (f"| {name} | {len(ok)}/{len(group)} | {_mean([s.vertices for s in group]):,.0f} | "
            f"{_mean(seen):.3f} / {median:.3f} | {_mean(every):.3f} | {_mean([s.v2v for s in ok]):.3f} | "
            f"{neutral:.3f} | {encoder:.3f} | {neutral / encoder:.2f} | {local:.3f} / {local_encoder:.3f} | "
            f"{local / local_encoder:.2f} | {_mean([s.seconds for s in ok]):.1f} |")


def _pool(scores: list[FitScore], seen_only: bool) -> FloatArray:
    """Per-vertex registration errors of all `scores`, pooled (mm)."""
    parts = [s.registration[s.seen] if seen_only else s.registration for s in scores]
    return np.concatenate(parts) if parts else np.zeros(0)


def _mean(values) -> float:
    values = np.asarray(values, np.float64)
    return float(values.mean()) if values.size else math.nan
