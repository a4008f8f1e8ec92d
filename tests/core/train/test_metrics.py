"""E_avd, E_id, E_exp, E_neu on arrays with known answers."""
import numpy as np
import pytest

from faceforge.core.eval import metrics as M
from faceforge.core.eval.evaluate import evaluate, true_neutrals


def test_avd_and_e_avd_by_hand():
    a = np.zeros((2, 2, 3))
    b = np.array([[[3.0, 4, 0], [0, 0, 1]], [[0, 0, 0], [0, 0, 0]]])
    np.testing.assert_allclose(M.e_avd(a, b), [3.0, 0.0])  # (5 + 1) / 2
    np.testing.assert_allclose(M.avd(b, np.zeros((2, 3))), [3.0, 0.0])  # (N, 3) broadcasts


def test_perfect_neutralization_has_zero_e_neu():
    rng = np.random.default_rng(0)
    neutral = rng.normal(size=(4, 10, 3))
    np.testing.assert_array_equal(M.e_neu(neutral, neutral.copy()), np.zeros(4))
    np.testing.assert_allclose(M.e_neu(neutral, neutral + [0, 2.0, 0]), np.full(4, 2.0))


def test_identical_neutralized_faces_have_zero_e_id():
    face = np.random.default_rng(1).normal(size=(10, 3))
    neutralized = np.stack([face, face, face, face + 1.0, face + 1.0])
    got = M.e_id(neutralized, ["a", "a", "a", "b", "b"])
    assert got == {"a": 0.0, "b": 0.0}


def test_e_id_is_the_std_of_distances_to_the_mean():
    # subject "a": two one-vertex faces at x = -1 and +1 and one two-vertex pair
    neutralized = np.zeros((2, 2, 3))
    neutralized[0, 0, 0], neutralized[1, 0, 0] = -1, 1  # vertex 0: distances 1, 1; vertex 1: 0, 0
    assert M.e_id(neutralized, ["a", "a"]) == {"a": pytest.approx(0.5)}  # std of [1, 0, 1, 0]
    assert M.e_id(neutralized, ["a", "b"]) == {}  # one sample per subject: skipped


def test_e_exp_compares_expressions_after_identity_removal():
    rng = np.random.default_rng(2)
    identities = rng.normal(scale=10, size=(3, 6, 3))  # 3 very different subjects
    smile = rng.normal(size=(6, 3))
    neutralized = np.concatenate([identities, identities])
    recon = np.concatenate([identities + smile, identities - smile])
    labels = ["smile"] * 3 + ["open"] * 3
    got = M.e_exp(recon, neutralized, labels)
    assert got == {"smile": pytest.approx(0.0, abs=1e-12), "open": pytest.approx(0.0, abs=1e-12)}
    recon[0] += 1.0  # subject 0 smiles differently
    assert M.e_exp(recon, neutralized, labels)["smile"] > 0
    assert M.e_exp(recon, neutralized, ["", "mixture", "x", "y", "z", "w"]) == {}


def test_summarize():
    assert M.summarize([1.0, 2.0, 6.0]) == {"mean": 3.0, "median": 2.0}
    assert M.summarize({"a": 1.0, "b": 3.0}) == {"mean": 2.0, "median": 2.0}
    assert np.isnan(M.summarize([])["mean"])


class Oracle:
    """A 'model' whose codes are the mesh index: it reconstructs and neutralizes perfectly."""

    def __init__(self, dataset):
        self.vertices = dataset.vertices
        self.neutral, _ = true_neutrals(dataset)

    def encode(self, x):
        rows = [int(np.flatnonzero((self.vertices == m).all(axis=(1, 2)))[0]) for m in x]
        return np.array(rows, np.float32)[:, None], np.ones((len(x), 1), np.float32)

    def decode(self, z_id, z_exp):
        rows = z_id[:, 0].astype(int)
        return np.where(z_exp[:, :1, None] > 0, self.vertices[rows], self.neutral[rows])


def test_evaluate_an_oracle_gives_zero_errors(tiny_data):
    report = evaluate(Oracle(tiny_data), tiny_data, batch=7)
    m = report.metrics
    assert m["e_avd_mean"] == 0 and m["e_neu_mean"] == 0 and m["e_id_mean"] == 0
    assert m["e_exp_mean"] > 0  # subjects have their own expression styles
    assert report.counts == {"e_avd": 48, "e_id": 8, "e_exp": 6, "e_neu": 48}


def test_true_neutrals_fall_back_to_neutral_scans(tiny_data):
    from dataclasses import replace

    no_table = replace(tiny_data, subject_table={})
    gt, known = true_neutrals(no_table)
    assert known.all()
    i = np.flatnonzero(tiny_data.neutral)[0]
    np.testing.assert_array_equal(gt[i], tiny_data.vertices[i])
    none = replace(no_table, neutral=np.zeros(len(tiny_data), bool))
    assert true_neutrals(none)[0] is None
