"""Carrying a document over to another model, and undoing the switch."""
import numpy as np

from faceforge.core.document import Document, State, Track, carry_over
from faceforge.core.document.snapshots import capture
from faceforge.core.document.switch import PARTS

UNITS = ("jawOpen", "eyeBlinkLeft")


def edited(id_dim: int = 3, exp_dim: int = 2) -> State:
    return State.zeros(id_dim, exp_dim, 2).replace(
        z_id=np.arange(id_dim) + 1.0, z_exp=np.full(exp_dim, 0.5), arkit=[0.2, 0.8], preset="smile",
        intensity=0.7, fps=30.0, duration=2.0, identity=Track().with_key(1.0, np.ones(id_dim)),
        expression=Track().with_key(0.5, np.ones(exp_dim)))


def test_another_topology_resets_everything():
    fresh = State.zeros(3, 2, 2)
    carry = carry_over(edited(), fresh, False, UNITS, UNITS)
    assert carry.state is fresh and carry.reset == PARTS[:-1] and not carry.lossless and not carry.same_topology


def test_same_topology_and_sizes_keep_everything():
    state = edited()
    carry = carry_over(state, State.zeros(3, 2, 2), True, UNITS, UNITS)
    assert carry.lossless and carry.kept == PARTS[:-1] and carry.state.changed_fields(state) == set()


def test_same_topology_keeps_only_what_fits():
    state = edited(3, 2)
    carry = carry_over(state, State.zeros(3, 5, 4), True, UNITS, (*UNITS, "a", "b"))
    s = carry.state
    assert carry.kept == ("identity",) and carry.reset == ("expression", "expression sliders")
    assert np.array_equal(s.z_id, state.z_id) and s.identity == state.identity
    assert np.array_equal(s.z_exp, np.zeros(5)) and s.expression.keys == () and s.preset == ""
    assert (s.fps, s.duration) == (30.0, 2.0)  # the timeline settings stay


def test_other_arkit_units_reset_the_sliders_but_not_the_code():
    state = edited()
    carry = carry_over(state, State.zeros(3, 2, 2), True, UNITS, UNITS[::-1])
    assert carry.reset == ("expression sliders",)
    assert np.array_equal(carry.state.z_exp, state.z_exp) and carry.state.arkit.tolist() == [0, 0]


def test_switch_model_is_one_undoable_step():
    doc = Document(edited(), "/models/a")
    seen = []
    doc.events.connect(seen.append)
    new = State.zeros(8, 8)
    doc.switch_model("Switch to model b", "/models/b", new)
    assert doc.model_path == "/models/b" and doc.state is new and doc.dirty
    assert seen[-1] >= {"model", "z_id", "identity", "history"}
    assert doc.history.undo_label == "Switch to model b"
    doc.edit("x", z_id=np.ones(8))
    assert doc.undo() and doc.model_path == "/models/b" and "model" not in seen[-1]
    assert doc.undo() and doc.model_path == "/models/a" and len(doc.state.z_id) == 3
    assert seen[-1] >= {"model", "z_id", "z_exp"}
    assert doc.redo() and doc.model_path == "/models/b" and doc.state is new


def test_first_callback_runs_before_earlier_ones():
    doc = Document(State.zeros(1, 1))
    order = []
    doc.events.connect(lambda f: order.append("panel"))
    doc.events.connect(lambda f: order.append("window"), first=True)
    doc.edit("x", preset="smile")
    assert order == ["window", "panel"]


def test_recovered_until_saved(tmp_path):
    doc = Document(State.zeros(1, 1))
    doc.mark_recovered()
    assert doc.recovered and doc.dirty
    doc.mark_saved(tmp_path / "a.ffproj")
    assert not doc.recovered and not doc.dirty


def test_stored_states_carry_over_when_their_codes_fit():
    state = edited().replace(snapshots=(capture(edited(), "State 1"),))
    same = carry_over(state, State.zeros(3, 2, 2), True, UNITS, UNITS)
    assert same.lossless and same.state.snapshots == state.snapshots
    other_units = carry_over(state, State.zeros(3, 2, 2), True, UNITS, UNITS[::-1])
    kept = other_units.state.snapshots[0]
    assert "stored states" in other_units.kept and kept.preset == "" and kept.arkit.tolist() == [0, 0]
    assert np.array_equal(kept.z_exp, state.snapshots[0].z_exp)
    bigger = carry_over(state, State.zeros(3, 5, 2), True, UNITS, UNITS)
    assert "stored states" in bigger.reset and bigger.state.snapshots == ()
    assert carry_over(state, State.zeros(3, 2, 2), False).reset == PARTS
