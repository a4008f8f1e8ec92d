"""Ground truth, non-additivity and determinism of the synthetic population."""
import numpy as np
import pytest

from faceforge.core.data.packed import read_packed, write_packed
from faceforge.core.data.synth.expressions import CATEGORIES, recipe
from faceforge.core.data.synth.generate import Population, SynthConfig, generate
from faceforge.core.data.synth.transfer import TransferSolver, frames


def _sample(ds, subject, expression):
    return ds.vertices[np.flatnonzero((ds.subject == subject) & (ds.expression == expression))[0]]


def test_population_layout_and_labels(population):
    ds = population
    assert ds.vertices.shape == (60, 3260, 3) and ds.vertices.dtype == np.float32
    assert list(ds.subjects()) == ["s0000", "s0001", "s0002"]
    assert list(ds.expression[:20]) == list(CATEGORIES)
    assert ds.neutral.sum() == 3 and (ds.expression[ds.neutral] == "neutral").all()
    assert ds.extras["arkit"].shape == (60, 52)
    assert not ds.extras["arkit"][ds.neutral].any()
    smile = ds.extras["arkit"][1]
    np.testing.assert_allclose(smile / smile.max(), recipe("smile") / recipe("smile").max(), atol=1e-6)
    table = ds.subject_table
    assert table["neutral_vertices"].shape == (3, 3260, 3)
    assert np.isfinite(ds.vertices).all() and (table["age"] > 5).all()
    assert table["ethnicity"].sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)


def test_neutral_sample_is_the_true_neutral_plus_scan_effects(population, clean_population):
    # without jitter and noise the neutral scan is exactly the stored neutral
    for i, s in enumerate(clean_population.subjects()):
        truth = clean_population.subject_table["neutral_vertices"][i]
        np.testing.assert_array_equal(_sample(clean_population, s, "neutral"), truth)
    # with them, the difference is a small rigid motion and ~0.1 mm noise
    truth = population.subject_table["neutral_vertices"][0]
    diff = np.linalg.norm(_sample(population, "s0000", "neutral") - truth, axis=1)
    assert 0.05 < np.median(diff) < 6.0


def test_zero_expression_transfers_to_the_neutral(head):
    pop = Population(SynthConfig(subjects=1))
    neutral = pop.subject(0).neutral.astype(np.float64)
    solver = TransferSolver(neutral, pop.triangles, pop.anchors)
    same = solver.solve(np.broadcast_to(np.eye(3), (len(pop.triangles), 3, 3)))
    assert np.abs(same - neutral).max() < 1e-6


def test_transfer_to_the_source_reproduces_the_source(head):
    pop = Population(SynthConfig(subjects=1))
    solver = TransferSolver(pop.rest, pop.triangles, pop.anchors)
    deformed = pop.rest + np.tensordot(recipe("grin"), head.arkit, axes=1)
    out = solver.solve(frames(deformed, pop.triangles) @ pop.rest_inverse)
    assert np.abs(out - deformed).max() < 1e-5


def test_expressions_are_not_additive_offsets(clean_population):
    ds = clean_population
    a, b = ds.subjects()
    for expression in ("smile", "mouth_stretch", "lip_puckerer"):
        da = _sample(ds, a, expression) - _sample(ds, a, "neutral")
        db = _sample(ds, b, expression) - _sample(ds, b, "neutral")
        moved = np.linalg.norm(da, axis=1) > 0.5
        gap = np.linalg.norm(da - db, axis=1)[moved].mean()
        size = np.linalg.norm(da, axis=1)[moved].mean()
        assert gap > 0.15 * size, (expression, gap, size)  # an additive model would give 0


def test_each_subject_has_its_own_style(population):
    gains = population.subject_table["style_gain"]
    assert gains.shape == (3, 52) and np.ptp(gains, axis=0).mean() > 0.1


def test_identities_share_the_template_frame(population, head):
    centres = population.subject_table["neutral_vertices"].mean(axis=1)
    assert np.abs(centres - head.template.vertices.mean(axis=0)).max() < 1e-3
    spread = np.linalg.norm(population.vertices.mean(axis=1) - centres[0], axis=1)
    assert spread.max() < 10.0  # mm: only the small scan jitter moves a head


def test_identities_are_diverse(population):
    neutrals = population.subject_table["neutral_vertices"]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.linalg.norm(neutrals[i] - neutrals[j], axis=1).mean() > 2.0


def test_same_seed_same_bytes_and_subjects_independent_of_count(tmp_path, population):
    again = generate(SynthConfig(subjects=3, per_subject=20, seed=0))
    assert again.vertices.tobytes() == population.vertices.tobytes()
    write_packed(population, tmp_path / "a")
    write_packed(again, tmp_path / "b")
    for f in sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    fewer = generate(SynthConfig(subjects=2, per_subject=20, seed=0))
    assert fewer.vertices.tobytes() == population.vertices[:40].tobytes()
    other = generate(SynthConfig(subjects=1, per_subject=2, seed=1))
    assert not np.array_equal(other.vertices[0], population.vertices[0])


def test_more_samples_than_categories_are_mixtures():
    ds = generate(SynthConfig(subjects=1, per_subject=23, seed=0))
    assert list(ds.expression[20:]) == ["mixture"] * 3
    assert (ds.extras["arkit"][20:] > 0).sum(axis=1).min() >= 2


def test_packed_round_trip_keeps_ground_truth(tmp_path, population):
    write_packed(population, tmp_path / "ds")
    back = read_packed(tmp_path / "ds")
    np.testing.assert_array_equal(back.vertices, population.vertices)
    np.testing.assert_array_equal(back.subject_table["neutral_vertices"],
                                  population.subject_table["neutral_vertices"])
    assert back.template.landmarks == population.template.landmarks
    assert back.meta["config"]["seed"] == 0
