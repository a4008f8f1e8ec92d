"""Fitting the default model to raw scans of an unseen person; the saved result."""
import json
import threading

import numpy as np
import pytest
import torch

from faceforge.core.data.synth.generate import Population, SynthConfig
from faceforge.core.errors import FitResultError, ScanError
from faceforge.core.eval.metrics import e_neu
from faceforge.core.fit.fitting import FitCancelled, FitOptions, FitProgress, FitStage, fit_scan
from faceforge.core.fit.rawscan import RawScanSpec, make_raw_scan
from faceforge.core.fit.result import FitResult
from faceforge.core.fit.rigid import RigidFit, align_from_landmarks
from faceforge.core.fit.scan import load_scan, prepare_scan
from faceforge.core.mesh.align import procrustes
from faceforge.core.mesh.closest import closest_points
from faceforge.core.mesh.io import read_mesh, write_ply
from faceforge.core.models.registry import load_default_model
from faceforge.core.progress import drive

CLOUD = FitOptions(samples=8_000, stages=(FitStage("pose", 1, codes=False),
                                          FitStage("coarse", 3, prior=10.0, sigma=4.0),
                                          FitStage("fine", 3, sigma=2.0)), refine_iterations=2)
QUICK = FitOptions(samples=5_000, stages=(FitStage("pose", 1, codes=False), FitStage("codes", 2)),
                   refine_iterations=1)


@pytest.fixture(scope="module")
def model():
    return load_default_model()


@pytest.fixture(scope="module")
def person():
    """An unseen subject (seed 4242): (expressions (M, N, 3), names, true neutral (N, 3))."""
    config = SynthConfig(subjects=1, per_subject=3, seed=4242, noise_mm=0.0, rotation_deg=0.0,
                         translation_mm=0.0)
    subject = Population(config).subject(0)
    assert subject.expression[1:] == ["smile", "mouth_stretch"]
    return subject.vertices, subject.expression, subject.neutral


@pytest.fixture(scope="module")
def smile_scan(model, person):
    """A raw scan of the smile: new topology, 0.2 mm noise, any pose, in metres."""
    raw = make_raw_scan(person[0][1], model.template,
                        RawScanSpec(density=30_000, units="m", scale_jitter=0.0, seed=5))
    return raw, prepare_scan(raw.vertices, raw.faces)


@pytest.fixture(scope="module")
def smile_fit(model, smile_scan):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    progress = []
    result = drive(fit_scan(model, smile_scan[1]), progress.append)
    torch.set_num_threads(threads)
    return result, progress


def angle(a, b):
    """Degrees between two (3, 3) rotations."""
    return float(np.degrees(np.arccos(np.clip((np.trace(a @ b.T) - 1) / 2, -1, 1))))


def rigid_error(a, b):
    """E_neu (mm) of `a` against `b` after a rigid Procrustes alignment on all vertices."""
    return float(e_neu(b[None], procrustes(a, b, scale=False).apply(a)[None])[0])


def test_fit_registers_the_scan_and_neutralizes_it(model, person, smile_scan, smile_fit):
    raw, _ = smile_scan
    result, _ = smile_fit
    truth, neutral = person[0][1], person[2]
    registered = raw.to_model_frame(result.in_scan_frame(result.registered))
    distance = closest_points(truth, model.template.triangles(), registered).distance
    assert distance.mean() < 1.0 and np.median(distance) < 0.5, distance.mean()  # mm
    covered = np.isfinite(result.residual)
    assert covered.mean() > 0.8 and np.nanmean(result.residual) < 0.5
    # the neutral is the person without the smile: closer to the truth than the smile is, and
    # within the 1.3x of the encoder's own neutralization of the clean registered mesh
    fitted = rigid_error(result.neutral, neutral)
    assert fitted < rigid_error(truth, neutral)
    assert fitted < 1.3 * rigid_error(model.neutralize(truth[None])[0], neutral)
    np.testing.assert_allclose(result.registered, result.model_fit + result.offsets, atol=1e-5)
    assert result.z_id.shape == (model.id_dim,) and result.z_exp.shape == (model.exp_dim,)
    assert abs(result.rigid.unit_scale - 1000.0) < 1e-9  # metres were recognized
    assert abs(float(result.pose.scale) * 1000.0 - 1.0) < 0.03


def test_progress_steps_are_monotone_and_end_with_the_refinement(smile_fit):
    result, progress = smile_fit
    assert all(isinstance(p, FitProgress) for p in progress)
    assert progress[0].rigid is result.rigid and all(p.rigid is None for p in progress[1:])
    assert [p.step for p in progress] == list(range(1, len(progress) + 1))
    assert all(p.total == len(progress) for p in progress)
    stages = [p.stage for p in progress]
    assert stages[0] == "rigid" and stages[-1] == "refine"
    assert stages == sorted(stages, key=["rigid", "pose", "coarse", "fine", "final", "refine"].index)
    assert all(np.isfinite(p.rmse) and p.rmse >= 0 for p in progress)
    assert progress[-1].rmse < progress[1].rmse
    assert result.seconds > 0


def test_cancel_stops_at_the_next_step(model, smile_scan):
    cancel = threading.Event()
    seen = []
    gen = fit_scan(model, smile_scan[1], QUICK, rigid=None, cancel=cancel)

    def on_item(progress):
        seen.append(progress.step)
        if progress.step == 2:
            cancel.set()

    with pytest.raises(FitCancelled):
        drive(gen, on_item)
    assert seen == [1, 2]


def test_a_cropped_side_stays_plausible_where_the_scan_has_no_data(model, person):
    truth = person[0][2]  # mouth_stretch
    raw = make_raw_scan(truth, model.template,
                        RawScanSpec(density=30_000, crop_side=True, scale_jitter=0.0, seed=3))
    rigid = RigidFit(raw.transform.inverse(), 0.0, 1.0, 1.0)  # the known pose: test the model fit
    result = drive(fit_scan(model, prepare_scan(raw.vertices, raw.faces), rigid=rigid))
    registered = raw.to_model_frame(result.in_scan_frame(result.registered))
    hidden = ~raw.visible
    assert 0.1 < hidden.mean() < 0.5
    assert np.isnan(result.residual[hidden]).mean() > 0.8
    error = np.linalg.norm(registered - truth, axis=1)
    distance = closest_points(truth, model.template.triangles(), registered).distance
    assert distance[~hidden].mean() < 1.0  # mm, where the scan has data
    assert error[hidden].mean() < 4.0 and np.quantile(error[hidden], 0.95) < 8.0  # mm, no data


def test_picked_landmarks_start_the_fit_and_must_be_template_landmarks(model, person, smile_scan):
    raw, scan = smile_scan
    truth = person[0][1]
    names = ["nose_tip", "eye_outer_corner_l", "eye_outer_corner_r", "chin_front", "mouth_corner_l"]
    rng = np.random.default_rng(0)
    picks = {n: raw.transform.apply(truth[model.template.landmarks[n]][None] + rng.normal(0, 1.5, (1, 3)))[0]
             for n in names}  # clicked on the scan, 1.5 mm off
    progress = []
    result = drive(fit_scan(model, scan, QUICK, landmarks=picks), progress.append)
    registered = raw.to_model_frame(result.in_scan_frame(result.registered))
    assert closest_points(truth, model.template.triangles(), registered).distance.mean() < 1.5
    # core refines the picks' alignment by ICP on the scan (the first step carries it for a view)
    assert progress[0].rigid is result.rigid
    points = np.stack([picks[n] for n in names])
    mean_face = model.decode(np.zeros((1, model.id_dim), np.float32), np.zeros((1, model.exp_dim), np.float32))[0]
    plain = align_from_landmarks(points, names, mean_face, model.template)
    refined = align_from_landmarks(points, names, mean_face, model.template, scan=scan)
    np.testing.assert_allclose(result.rigid.transform.rotation, refined.transform.rotation, atol=1e-9)
    truth_rotation = raw.transform.inverse().rotation
    assert angle(result.rigid.transform.rotation, truth_rotation) < angle(plain.transform.rotation, truth_rotation)
    with pytest.raises(ScanError, match="unknown landmark"):
        drive(fit_scan(model, scan, QUICK, rigid=result.rigid,
                       landmarks={"nose_tip": picks["nose_tip"], "left_ear_lobe": picks["chin_front"]}))


def test_a_point_cloud_is_fitted_as_points(model, person, tmp_path):
    """A raw scan saved without its faces: read, given normals and fitted end to end."""
    truth = person[0][1]
    raw = make_raw_scan(truth, model.template, RawScanSpec(density=20_000, units="cm", seed=6))
    path = tmp_path / "cloud.ply"
    write_ply(path, raw.vertices, None)
    scan = load_scan(path)
    assert scan.faces is None and len(scan.vertices) == len(raw.vertices)
    result = drive(fit_scan(model, scan, CLOUD))
    assert result.rigid.unit_scale == 10.0  # centimetres were recognized
    registered = raw.to_model_frame(result.in_scan_frame(result.registered))
    distance = closest_points(truth, model.template.triangles(), registered).distance
    assert distance.mean() < 1.0 and np.median(distance) < 0.5, distance.mean()  # mm
    errors = result.errors()
    assert errors["coverage"] > 0.8 and errors["mean"] < 0.6, errors  # mm, to the points' planes
    assert np.any(result.offsets != 0)  # refined on the points


def test_save_and_load_round_trip(model, smile_fit, tmp_path):
    result, _ = smile_fit
    folder = tmp_path / "fit"
    result.save(folder)
    back = FitResult.load(folder, model.template)
    for field in ("z_id", "z_exp", "model_fit", "offsets", "registered", "neutral", "residual"):
        np.testing.assert_array_equal(getattr(back, field), getattr(result, field))
    np.testing.assert_allclose(back.pose.apply(result.registered), result.in_scan_frame(result.registered),
                               atol=1e-6)
    assert back.rigid.unit_scale == result.rigid.unit_scale and back.notes == result.notes
    for name, row in result.region_errors().items():
        assert back.region_errors()[name] == pytest.approx(row, nan_ok=True)
    doc = json.loads((folder / "fit.json").read_text())
    assert set(doc["region_errors"]) == set(model.template.regions)
    assert doc["residual"] == pytest.approx(result.errors())
    mesh = read_mesh(folder / "neutral.obj")
    assert mesh.uvs is not None and mesh.faces.shape == model.template.faces.shape
    np.testing.assert_allclose(mesh.vertices, result.in_scan_frame(result.neutral), atol=1e-6)
    result.save(folder)  # an existing fit folder is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit"]


def test_load_refuses_damaged_or_foreign_folders(model, smile_fit, tmp_path):
    result, _ = smile_fit
    with pytest.raises(FitResultError, match="fit.json is missing"):
        FitResult.load(tmp_path, model.template)
    folder = tmp_path / "fit"
    result.save(folder)
    (folder / "model_frame.npz").write_bytes(b"not a zip")
    with pytest.raises(FitResultError, match="damaged"):
        FitResult.load(folder, model.template)
    other = model.template.replace(faces=model.template.faces[::-1].copy())
    with pytest.raises(FitResultError, match="another template"):
        FitResult.load(folder, other)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        result.save(tmp_path)


def test_region_errors_cover_every_region(model, smile_fit):
    result, _ = smile_fit
    errors = result.region_errors()
    assert set(errors) == set(model.template.regions)
    for name, row in errors.items():
        assert 0.0 <= row["coverage"] <= 1.0
        if row["coverage"] > 0:
            assert 0 <= row["median"] <= row["p95"] and row["mean"] < 3.0, (name, row)
    assert errors["nose"]["coverage"] > 0.9


def test_decode_is_differentiable_for_codes_that_require_grad(model):
    z = torch.zeros(1, model.id_dim, requires_grad=True)
    x = model.decode(z, torch.zeros(1, model.exp_dim))
    x.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert not model.decode(torch.zeros(1, model.id_dim), torch.zeros(1, model.exp_dim)).requires_grad
