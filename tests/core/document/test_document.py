"""Document state, undo history with merging, keyframe tracks and project files (no Qt)."""
import json

import numpy as np
import pytest

from faceforge.core.document.snapshots import Snapshot, capture, renamed, take, unique_name
from faceforge.core.document import (Document, Project, ProjectError, ProjectWriteError, State, Track,
                                     check_sizes, open_project, save_project)


def make_doc() -> tuple[Document, list]:
    doc = Document(State.zeros(4, 3, 2), "/models/a")
    seen = []
    doc.events.connect(seen.append)
    return doc, seen


def test_edit_emits_only_real_changes_and_marks_dirty():
    doc, seen = make_doc()
    doc.edit("same", z_id=np.zeros(4))
    assert seen == [] and not doc.dirty
    doc.edit("move", z_id=[1, 0, 0, 0])
    assert seen[-1] >= {"z_id", "dirty", "history"} and "z_exp" not in seen[-1] and doc.dirty


def test_setters_round_trip_every_field():
    s = State.zeros(2, 2, 1)
    track = Track().with_key(1.0, [1, 2])
    changes = dict(z_id=[1, 2], z_exp=[3, 4], arkit=[0.5], preset="smile", intensity=0.5, identity=track,
                   expression=track, fps=30.0, duration=2.0)
    t = s.replace(**changes)
    assert t.changed_fields(s) == set(changes)
    for name, value in changes.items():
        got = getattr(t, name)
        assert np.array_equal(got, value) if isinstance(got, np.ndarray) else got == value


def test_state_arrays_are_read_only():
    with pytest.raises(ValueError):
        State.zeros(2, 2).z_id[0] = 1.0


def test_slider_drag_merges_into_one_undo_step():
    doc, _ = make_doc()
    for v in (0.1, 0.2, 0.3):
        doc.edit("Identity direction 1", merge="axis0", z_id=[v, 0, 0, 0])
    doc.end_merge()
    doc.edit("Identity direction 1", merge="axis0", z_id=[0.5, 0, 0, 0])  # a second drag
    assert doc.undo() and doc.state.z_id[0] == pytest.approx(0.3)
    assert doc.undo() and doc.state.z_id[0] == 0.0
    assert not doc.undo()
    assert doc.redo() and doc.state.z_id[0] == pytest.approx(0.3)


def test_different_merge_keys_make_separate_steps_and_new_edit_clears_redo():
    doc, _ = make_doc()
    doc.edit("a", merge="a", z_id=[1, 0, 0, 0])
    doc.edit("b", merge="b", z_exp=[1, 0, 0])
    assert doc.history.undo_label == "b"
    doc.undo()
    assert doc.history.redo_label == "b"
    doc.edit("c", preset="smile")
    assert doc.history.redo_label is None and doc.history.undo_label == "c"


def test_weak_callbacks_die_with_their_object():
    doc, _ = make_doc()

    class View:
        calls = 0

        def on(self, fields):
            View.calls += 1

    view = View()
    doc.events.connect(view.on)
    del view
    doc.edit("x", preset="smile")
    assert View.calls == 0


@pytest.mark.parametrize("mode, expected", [("linear", 0.25), ("smooth", 0.15625), ("step", 0.0)])
def test_track_interpolation(mode, expected):
    track = Track(interpolation=mode).with_key(0.0, [0.0]).with_key(2.0, [1.0])
    assert track.sample(0.5)[0] == pytest.approx(expected)
    assert track.sample(-1)[0] == 0.0 and track.sample(9)[0] == 1.0
    assert Track().sample(1.0) is None


def test_track_key_add_move_delete():
    track = Track().with_key(1.0, [1.0]).with_key(0.0, [0.0]).with_key(1.0, [2.0])
    assert track.times == [0.0, 1.0] and track.sample(1.0)[0] == 2.0
    moved = track.moved(1.0, 3.0)
    assert moved.times == [0.0, 3.0] and moved.sample(3.0)[0] == 2.0
    assert moved.without_key(0.0).times == [3.0]
    with pytest.raises(KeyError, match="no keyframe at 5.000"):
        track.without_key(5.0)
    with pytest.raises(ValueError, match="unknown interpolation"):
        Track(interpolation="cubic")


def test_separate_tracks_interpolate_identity_and_expression_independently():
    s = State.zeros(1, 1).replace(identity=Track().with_key(0, [0]).with_key(1, [1]),
                                  z_exp=[5.0])
    z_id, z_exp = s.sample(0.5)
    assert z_id[0] == pytest.approx(0.5) and z_exp[0] == 5.0  # empty track: current code


def test_project_round_trip(tmp_path):
    state = State.zeros(3, 2, 2).replace(z_id=[1, 2, 3], preset="smile", intensity=0.7, fps=30.0,
                                         expression=Track(interpolation="smooth").with_key(0.5, [1, 1]))
    state = state.replace(snapshots=(capture(state, "smiling"), Snapshot("calm", [0, 0, 1], [0, 0], [0, 0])))
    model = tmp_path / "run" / "checkpoint"
    model.mkdir(parents=True)
    path = tmp_path / "p" / "face.ffproj"
    path.parent.mkdir()
    save_project(path, Project(str(model), state, {"preset": "front"}))
    back = open_project(path)
    assert back.state.changed_fields(state) == set() and back.view == {"preset": "front"}
    assert back.model_path == str(model.resolve())
    assert json.loads(path.read_text())["model"]["relative"] == "../run/checkpoint"
    assert not list(path.parent.glob("*.tmp*"))  # written through a temp file and renamed


@pytest.mark.parametrize("content, match", [
    (b"\xff\x00", "not a FaceForge project"),
    (b"[1, 2]", "not a FaceForge project"),
    (b'{"format": "faceforge-project", "version": 7}', "update FaceForge"),
    (b'{"format": "faceforge-project", "version": 1, "state": {"z_id": [1]}}', "damaged"),
    (b'{"format": "faceforge-project", "version": 1, "state": {"z_id": [NaN], "z_exp": []}}', "non-finite"),
    (b'{"format": "faceforge-project", "version": 1, "state": {"z_id": [], "z_exp": [], "snapshots": '
     b'[{"name": " ", "z_id": [], "z_exp": []}]}}', "needs a name"),
])
def test_bad_project_files_raise_typed_errors(tmp_path, content, match):
    path = tmp_path / "bad.ffproj"
    path.write_bytes(content)
    with pytest.raises(ProjectError, match=match) as info:
        open_project(path)
    assert info.value.path == path


def test_missing_project_and_unwritable_destination(tmp_path):
    with pytest.raises(ProjectError, match="No such file"):
        open_project(tmp_path / "none.ffproj")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectWriteError, match="Cannot save project"):
        save_project(tmp_path / "file" / "a.ffproj", Project(None, State.zeros(1, 1), {}))


def test_check_sizes_names_both_sizes(tmp_path):
    project = Project(None, State.zeros(3, 2, 0).replace(identity=Track().with_key(0, [1, 2])), {})
    with pytest.raises(ProjectError, match="model has"):
        check_sizes(project, tmp_path / "a.ffproj", 3, 2, 0)  # a key of the wrong size
    check_sizes(Project(None, State.zeros(3, 2, 0), {}), tmp_path / "a.ffproj", 3, 2, 0)
    small = Project(None, State.zeros(3, 2, 0).replace(snapshots=(Snapshot("a", [1], [1], []),)), {})
    with pytest.raises(ProjectError, match="model has"):
        check_sizes(small, tmp_path / "a.ffproj", 3, 2, 0)  # a stored state of the wrong size


def test_stored_states_are_undoable_edits_and_take_their_parts():
    doc = Document(State.zeros(2, 2, 1).replace(z_id=[1, 1], z_exp=[2, 2], arkit=[0.5], preset="smile"))
    doc.edit("Store state", snapshots=(capture(doc.state, unique_name(doc.state.snapshots)),))
    assert [s.name for s in doc.state.snapshots] == ["State 1"] and unique_name(doc.state.snapshots) == "State 2"
    doc.edit("Other face", z_id=[5, 5], z_exp=[0, 0], arkit=[0], preset="")
    doc.edit("Take expression", **take(doc.state.snapshots[0], "expression"))
    s = doc.state
    assert s.z_id.tolist() == [5, 5] and s.z_exp.tolist() == [2, 2] and s.preset == "smile" and s.arkit[0] == 0.5
    doc.edit("Take identity", **take(doc.state.snapshots[0], "identity"))
    assert doc.state.z_id.tolist() == [1, 1]
    doc.edit("Rename", snapshots=renamed(doc.state.snapshots, 0, " grin "))
    assert doc.state.snapshots[0].name == "grin"
    doc.undo()
    assert doc.state.snapshots[0].name == "State 1"
    with pytest.raises(ValueError, match="already called"):
        renamed(doc.state.snapshots + (Snapshot("b", [0, 0], [0, 0], [0]),), 1, "State 1")
    with pytest.raises(ValueError, match="unknown part"):
        take(doc.state.snapshots[0], "hair")
