"""Rigid alignment of raw-looking scans of held-out synthetic subjects to the shipped default
model's mean face: random similarity, units, a cropped side, holes, shoulders, a cap, noise, a
point cloud; non-faces; landmark picks."""
import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from faceforge.core.errors import ScanError
from faceforge.core.fit.rigid import align_from_landmarks, auto_align, guess_unit_scale
from faceforge.core.fit.scan import prepare_scan
from faceforge.core.mesh.align import SimilarityTransform, procrustes
from faceforge.core.mesh.subdivide import loop_subdivide

UNITS = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "inch": 25.4}
RIGID = ("forehead", "nose", "scalp", "ears", "eyes", "brows")  # do not move with expressions


@pytest.fixture(scope="module")
def model():
    from faceforge.core.models.registry import load_default_model

    return load_default_model()


@pytest.fixture(scope="module")
def reference(model):
    """The model's mean face, (N, 3) mm."""
    return model.decode(np.zeros((1, model.id_dim), np.float32), np.zeros((1, model.exp_dim), np.float32))[0]


@pytest.fixture(scope="module")
def subjects():
    """Neutral and smiling heads of 6 subjects of a population the model never saw (seed 1234)."""
    from faceforge.core.data.synth.generate import Population, SynthConfig

    pop = Population(SynthConfig(subjects=6, per_subject=2, seed=1234))
    return [pop.subject(i).vertices for i in range(6)]


def raw_scan(vertices, triangles, seed, unit="mm", crop=None, holes=4, shoulders=False, cap=False,
             cloud=False):
    """A scan of `vertices` (template topology, mm): Loop-subdivided (other topology), random
    faces dropped, round holes punched, the side x > `crop` mm cut, optional shoulders (a box
    under the neck) and cap, 0.2 mm noise, then a random rotation, translation and the unit.

    Returns (Scan, truth: the similarity from the model frame to the scan frame)."""
    rng = np.random.default_rng(seed)
    sub = loop_subdivide(vertices, triangles, iterations=2)
    v, tri = sub.vertices.astype(np.float64), sub.triangles
    centre = v[tri].mean(axis=1)
    keep = rng.random(len(tri)) > 0.02
    for _ in range(holes):
        keep &= np.linalg.norm(centre - v[rng.integers(len(v))], axis=1) > rng.uniform(5, 12)
    if crop is not None:
        keep &= centre[:, 0] < crop
    parts = [trimesh.Trimesh(v, tri[keep], process=False)]
    if shoulders:
        parts.append(trimesh.creation.box(bounds=[[-160, 460, -60], [160, 605, 90]]).subdivide().subdivide())
    if cap:
        dome = trimesh.creation.icosphere(4, radius=95.0)
        dome.apply_translation([0, 770, 40])
        dome.update_faces(dome.vertices[dome.faces].mean(axis=1)[:, 1] > 800)
        parts.append(dome)
    mesh = trimesh.util.concatenate(parts)
    points = np.asarray(mesh.vertices) + rng.normal(0, 0.2, mesh.vertices.shape)
    truth = SimilarityTransform(Rotation.random(random_state=seed).as_matrix(),
                                rng.normal(0, 300, 3) / UNITS[unit], 1.0 / UNITS[unit])
    if cloud:
        used = np.unique(mesh.faces)
        return prepare_scan(truth.apply(points[used])), truth
    return prepare_scan(truth.apply(points), np.asarray(mesh.faces)), truth


def errors(fit_transform, truth, head, reference, template):
    """(mean, max landmark error mm, rotation error deg, relative scale error) of a scan -> model
    transform against the ideal one: the scan's truth undone, then the subject's rigid parts
    Procrustes-aligned (with scale) onto the reference."""
    rigid = np.concatenate([template.regions[r] for r in RIGID])
    ideal = procrustes(head[rigid], reference[rigid])
    names = [n for n in template.landmarks if not n.startswith(("ear", "head"))]
    marks = head[template.landmark_ids(names)]
    error = np.linalg.norm(fit_transform.apply(truth.apply(marks)) - ideal.apply(marks), axis=1)
    turn = fit_transform.rotation @ truth.rotation @ ideal.rotation.T
    angle = np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1)))
    scale = fit_transform.scale * truth.scale / ideal.scale - 1
    return float(error.mean()), float(error.max()), float(angle), float(abs(scale))


CASES = [
    ("mm", {}, 0, False),
    ("cm", {"crop": 25.0}, 1, False),
    ("m", {"shoulders": True, "cap": True}, 2, False),
    ("inch", {"holes": 10}, 3, True),
    ("m", {"cloud": True}, 4, False),
    ("mm", {"crop": 40.0, "shoulders": True}, 5, True),
]


@pytest.mark.parametrize("unit, options, index, smiling", CASES)
def test_auto_align_recovers_pose_units_and_scale(model, reference, subjects, unit, options, index,
                                                  smiling):
    head = subjects[index][int(smiling)]
    scan, truth = raw_scan(head, model.template.triangles(), seed=index, unit=unit, **options)
    fit = auto_align(scan, reference, model.template, seed=index)
    mean, worst, angle, scale = errors(fit.transform, truth, head, reference, model.template)
    assert fit.unit_scale == UNITS[unit]
    assert mean < 5.0 and worst < 10.0 and angle < 5.0 and scale < 0.04, (mean, worst, angle, scale)
    assert fit.rmse < 3.0 and 0.0 < fit.overlap <= 1.0


@pytest.mark.parametrize("unit", list(UNITS))
def test_unit_guess_of_heads_and_face_crops(model, subjects, unit):
    head = subjects[0][0]
    tri = model.template.triangles()
    scan, _ = raw_scan(head, tri, seed=7, unit=unit)
    assert guess_unit_scale(scan) == UNITS[unit]
    front = tri[head[tri].mean(axis=1)[:, 2] > 60]  # the face alone, a smaller surface
    face = prepare_scan(head / UNITS[unit], front)
    assert guess_unit_scale(face) == UNITS[unit]


@pytest.mark.parametrize("shape", ["sphere", "box", "plane"])
def test_non_faces_ask_for_landmarks(model, reference, shape):
    mesh = {"sphere": trimesh.creation.icosphere(5, radius=100.0),
            "box": trimesh.creation.box([200.0, 250.0, 180.0]).subdivide().subdivide().subdivide(),
            "plane": trimesh.creation.box([300.0, 300.0, 1.0]).subdivide().subdivide().subdivide()}[shape]
    noise = np.random.default_rng(0).normal(0, 0.2, mesh.vertices.shape)
    scan = prepare_scan(np.asarray(mesh.vertices) + noise, np.asarray(mesh.faces))
    with pytest.raises(ScanError, match="does not look like a face.*pick 4 or more landmarks"):
        auto_align(scan, reference, model.template)


def test_strong_expressions_pass_as_faces(model, reference):
    """A held-out person's grin as a 10k raw scan: `faceforge bench fit` once found it rejected as
    "not a face" (the mouth had moved too far from the mean face's to count as lying on the scan)."""
    from faceforge.core.data.synth.expressions import CATEGORIES
    from faceforge.core.data.synth.generate import Population, SynthConfig
    from faceforge.core.fit.fitting import fit_scan
    from faceforge.core.fit.rawscan import RawScanSpec, make_raw_scan
    from faceforge.core.mesh.closest import closest_points
    from faceforge.core.progress import drive

    person = Population(SynthConfig(subjects=1, per_subject=len(CATEGORIES), seed=4242, noise_mm=0.0,
                                    rotation_deg=0.0, translation_mm=0.0)).subject(0)
    grin = list(person.expression).index("grin")
    raw = make_raw_scan(person.vertices[grin], model.template, RawScanSpec(density=10_000, seed=4242 * 100_003))
    scan = prepare_scan(raw.vertices, raw.faces)
    rigid = auto_align(scan, reference, model.template)
    _, _, angle, scale = errors(rigid.transform, raw.transform, raw.truth, reference, model.template)
    assert angle < 12.0 and scale < 0.06, (angle, scale)  # measured 8.7 deg: the wide mouth tilts it
    result = drive(fit_scan(model, scan, rigid=rigid))  # the model fit takes the tilt out
    registered = raw.to_model_frame(result.in_scan_frame(result.registered))
    assert closest_points(raw.truth, model.template.triangles(), registered).distance.mean() < 1.0  # mm, measured 0.37


@pytest.mark.parametrize("names", [
    ["nose_tip", "eye_outer_corner_l", "eye_outer_corner_r", "chin_front"],
    ["nose_tip", "eye_outer_corner_l", "eye_outer_corner_r", "eye_inner_corner_l",
     "eye_inner_corner_r", "mouth_corner_l", "mouth_corner_r", "chin_front", "glabella",
     "subnasale"],
])
def test_landmark_picks_align_and_refine_on_the_scan(model, reference, subjects, names):
    head = subjects[1][0]
    scan, truth = raw_scan(head, model.template.triangles(), seed=11, unit="cm", crop=30.0)
    picks = truth.apply(head[model.template.landmark_ids(names)])
    picks = picks + np.random.default_rng(0).normal(0, 0.1, picks.shape)  # 1 mm in cm
    rough = align_from_landmarks(picks, names, reference, model.template)
    fit = align_from_landmarks(picks, names, reference, model.template, scan=scan)
    assert rough.unit_scale == fit.unit_scale == 10.0
    for result, tolerance in ((rough, 12.0), (fit, 6.0)):
        mean, worst, angle, scale = errors(result.transform, truth, head, reference, model.template)
        assert mean < tolerance and angle < tolerance and scale < 0.1, (mean, worst, angle, scale)
    assert fit.rmse < 3.0


def test_bad_landmark_picks_raise_scan_errors(model, reference):
    tpl = model.template
    names = ["nose_tip", "eye_outer_corner_l", "eye_outer_corner_r", "chin_front"]
    picks = reference[tpl.landmark_ids(names)]
    with pytest.raises(ScanError, match="3 landmarks were picked; pick at least 4"):
        align_from_landmarks(picks[:3], names[:3], reference, tpl)
    with pytest.raises(ScanError, match="unknown landmark names \\['nose_top'\\]"):
        align_from_landmarks(picks, ["nose_top"] + names[1:], reference, tpl)
    with pytest.raises(ScanError, match="picked once"):
        align_from_landmarks(picks, names[:3] + ["nose_tip"], reference, tpl)
    line = picks[0] + np.outer(np.arange(4.0), [10.0, 5.0, 0.0])
    with pytest.raises(ScanError, match="one line"):
        align_from_landmarks(line, names, reference, tpl)
    with pytest.raises(ScanError, match="one name each"):
        align_from_landmarks(picks, names[:3], reference, tpl)
