"""File ▸ Export…: FBX and GLB rigs of the current face with its timeline, read back."""
import numpy as np
import pytest
from pygltflib import GLTF2
from scipy.spatial import cKDTree

from faceforge.app import files
from faceforge.core.document import Keyframe, Track
from faceforge.core.export import rig_from_state


def _animated_window(make_window, trained):
    """A window on the tiny model whose timeline opens the jaw to 0.7 at 1 s."""
    window = make_window(trained[0])
    session = window.session
    jaw = np.zeros(len(session.arkit_units), np.float32)
    jaw[session.arkit_units.index("jawOpen")] = 0.7
    zero = np.zeros(session.model.exp_dim, np.float32)
    keys = (Keyframe(0.0, zero), Keyframe(1.0, session.semantics.expression(jaw)), Keyframe(2.0, zero))
    window.doc.edit("Keys", expression=Track(keys), duration=2.0, fps=12.0)
    return window


def _run(dialog, qtbot):
    worker = dialog.export()
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass


def test_export_dialog_writes_fbx_and_glb_with_animation(make_window, trained, tmp_path, qtbot, ufbx_read):
    window = _animated_window(make_window, trained)
    session = window.session
    expected = rig_from_state(session.model, session.semantics, window.doc.state)
    dialog = files.ask_export(window)
    dialog.path.setText(str(tmp_path / "face.fbx"))
    dialog.units.setCurrentIndex(dialog.units.findData("cm"))
    _run(dialog, qtbot)
    assert window.error_box is None and (tmp_path / "face.fbx").is_file()
    out = ufbx_read(tmp_path / "face.fbx", (0.0, 1.0, 2.0))
    assert out["warnings"] == [] and out["fps"] == 12 and out["unit_meters"] == pytest.approx(0.01)
    np.testing.assert_allclose(np.array(out["mesh"]["vertices"]) * 10, expected.neutral, atol=1e-3)
    assert [c["name"] for c in out["channels"]] == list(expected.shapes)
    jaw = next(c for c in out["channels"] if c["name"] == "jawOpen")
    dense = np.zeros_like(expected.neutral)
    dense[jaw["indexes"]] = np.array(jaw["offsets"]) * 10
    np.testing.assert_allclose(dense, expected.shapes["jawOpen"] - expected.neutral, atol=1e-3)
    assert jaw["evaluated"] == pytest.approx([0.0, 0.7, 0.0], abs=1e-3)

    dialog = files.ask_export(window)
    dialog.path.setText(str(tmp_path / "face.fbx"))
    dialog.format.setCurrentIndex(dialog.format.findData(".glb"))
    assert dialog.path.text().endswith("face.glb") and not dialog.fbx_version.isEnabled()
    dialog.naming.setCurrentIndex(dialog.naming.findData("ict"))
    _run(dialog, qtbot)
    g = GLTF2().load(str(tmp_path / "face.glb"))
    names = g.meshes[0].extras["targetNames"]
    assert len(names) == 52 and "eyeBlink_L" in names and len(g.animations) == 1
    blob = g.binary_blob()
    acc = g.accessors[g.meshes[0].primitives[0].attributes.POSITION]
    view = g.bufferViews[acc.bufferView]
    start = view.byteOffset + (acc.byteOffset or 0)
    positions = np.frombuffer(blob[start:start + acc.count * 12], np.float32).reshape(-1, 3)
    # glTF splits vertices on UV seams: every position is a neutral vertex and every vertex is there
    dist, index = cKDTree(expected.neutral).query(positions * 1000)
    assert dist.max() < 1e-3 and len(np.unique(index)) == len(expected.neutral)


def test_export_dialog_error_goes_to_the_error_dialog(make_window, trained, tmp_path, qtbot):
    window = _animated_window(make_window, trained)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    dialog = files.ask_export(window)
    dialog.path.setText(str(blocker / "face.glb"))
    _run(dialog, qtbot)
    qtbot.waitUntil(lambda: window.error_box is not None)
    assert "cannot write there" in window.error_box.text() and dialog.buttons.isEnabled()
