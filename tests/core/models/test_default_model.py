"""The shipped default model: loads in one call, is small, and works on unseen people."""
import numpy as np

from faceforge.core.data.synth.generate import SynthConfig, generate
from faceforge.core.models.registry import default_model_folder, load_default_model
from faceforge.core.models.semantics import Semantics


def test_default_model_ships_small_with_metrics_and_controls():
    folder = default_model_folder()
    assert folder is not None, "resources/models/default is missing"
    assert sum(f.stat().st_size for f in folder.iterdir()) < 30 * 2**20
    model = load_default_model()
    assert model.template.n_vertices == 3260 and (model.id_dim, model.exp_dim) == (64, 64)
    held_out = model.metadata["metrics"]["held_out"]
    assert held_out["e_neu_mean"] < 3.0 and held_out["e_avd_mean"] < 3.0  # mm, as measured
    semantics = Semantics.load(folder)
    assert len(semantics.categories) == 20 and {"neutral", "smile"} <= set(semantics.categories)
    assert semantics.attributes[:2] == ["age", "gender"]


def test_default_model_reconstructs_and_neutralizes_an_unseen_person():
    model = load_default_model()
    person = generate(SynthConfig(subjects=1, per_subject=20, seed=12345))  # not in training
    recon = model.decode(*model.encode(person.vertices))
    error = np.linalg.norm(recon - person.vertices, axis=2).mean()
    neutral = model.neutralize(person.vertices)
    truth = person.subject_table["neutral_vertices"][0]
    neutral_error = np.linalg.norm(neutral - truth, axis=2).mean()
    assert error < 5.0 and neutral_error < 5.0, (error, neutral_error)
