"""OBJ sequence of the timeline with the shipped default model: frames, progress, cancel, errors."""
import numpy as np
import pytest

from faceforge.core.document import ObjSequence, State, Track, frame_times
from faceforge.core.errors import ExportError


@pytest.fixture(scope="module")
def model():
    import torch

    from faceforge.core.models.registry import load_default_model

    torch.set_num_threads(1)
    return load_default_model()


def decoder(model):
    return lambda z_id, z_exp: np.asarray(model.decode(np.array([z_id]), np.array([z_exp]))[0], np.float32)


def timeline(model) -> State:
    a, b = np.zeros(model.id_dim), np.full(model.id_dim, 0.8)
    return State.zeros(model.id_dim, model.exp_dim).replace(
        fps=4.0, duration=0.5, identity=Track().with_key(0.0, a).with_key(0.5, b))


def test_frame_times_cover_both_ends():
    np.testing.assert_allclose(frame_times(State.zeros(1, 1).replace(fps=4.0, duration=1.0)),
                               [0, 0.25, 0.5, 0.75, 1.0])


def test_sequence_writes_every_frame_with_progress(model, tmp_path):
    from faceforge.core.mesh.io import read_mesh
    from faceforge.core.progress import drive

    state = timeline(model)
    seq = ObjSequence(decoder(model), model.template, state, tmp_path / "new" / "seq")
    steps = []
    written = drive(seq.run(), steps.append)
    assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
    objs = sorted(p for p in written if p.suffix == ".obj")
    assert [p.name for p in objs] == ["frame_0000.obj", "frame_0001.obj", "frame_0002.obj"]
    middle = read_mesh(objs[1])
    expected = decoder(model)(*state.sample(0.25))
    np.testing.assert_allclose(middle.vertices, expected, atol=1e-3)
    assert middle.uvs is not None and len(middle.uvs) > 0


def test_discard_removes_a_partial_run_and_the_folders_it_made(model, tmp_path):
    seq = ObjSequence(decoder(model), model.template, timeline(model), tmp_path / "a" / "b")
    run = seq.run()
    next(run), next(run)  # folder made, first frame written
    assert len(seq.written) == 2  # frame_0000.obj + .mtl
    seq.discard()
    assert list(tmp_path.iterdir()) == []


def test_discard_keeps_what_was_already_in_the_folder(model, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    seq = ObjSequence(decoder(model), model.template, timeline(model), tmp_path)
    run = seq.run()
    next(run), next(run), next(run)
    seq.discard()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_folder_that_cannot_be_made_is_a_typed_error(model, tmp_path):
    (tmp_path / "file").write_text("x")
    seq = ObjSequence(decoder(model), model.template, timeline(model), tmp_path / "file" / "seq")
    with pytest.raises(ExportError, match="folder cannot be created"):
        next(seq.run())
    assert seq.written == []
