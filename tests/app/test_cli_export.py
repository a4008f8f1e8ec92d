"""`faceforge export` on a tiny model really trained on the synthetic population."""
import json

import numpy as np
import pytest
from pygltflib import GLTF2

from faceforge.app.cli import main
from faceforge.core.document import Keyframe, Project, State, Track, save_project


@pytest.fixture(scope="module")
def project(tiny_model, tmp_path_factory):
    """A project on the tiny model: a far identity and a 2 s timeline with a jawOpen key at 1 s."""
    model, semantics, folder = tiny_model
    jaw = np.zeros(52, np.float32)
    jaw[semantics.arkit_units.index("jawOpen")] = 0.6
    z_id = (semantics.identity_prior.mean + 0.5).astype(np.float32)
    expression = Track((Keyframe(0.0, np.zeros(model.exp_dim)), Keyframe(1.0, semantics.expression(jaw))))
    state = State(z_id, np.zeros(model.exp_dim), np.zeros(52), fps=24.0, duration=2.0, expression=expression)
    path = tmp_path_factory.mktemp("proj") / "face.ffproj"
    save_project(path, Project(str(folder), state, {}))
    return path, state


def glb(path):
    g = GLTF2().load(str(path))
    return g, g.meshes[0]


def test_project_with_timeline_to_fbx_and_glb(project, tmp_path, ufbx_read, capsys):
    path, state = project
    assert main(["export", "--project", str(path), "-o", str(tmp_path / "face.fbx"), "--units", "cm"]) == 0
    assert "52 shapes, 49 frames" in capsys.readouterr().out
    out = ufbx_read(tmp_path / "face.fbx", (0, 1))
    assert out["warnings"] == [] and out["unit_meters"] == pytest.approx(0.01) and out["fps"] == 24
    jaw = next(c for c in out["channels"] if c["name"] == "jawOpen")
    assert jaw["evaluated"][0] == pytest.approx(0) and jaw["evaluated"][1] == pytest.approx(0.6, abs=1e-3)
    assert main(["export", "--project", str(path), "-o", str(tmp_path / "face.glb"), "--naming", "livelink"]) == 0
    g, mesh = glb(tmp_path / "face.glb")
    assert len(mesh.extras["targetNames"]) == 52 and "JawOpen" in mesh.extras["targetNames"]
    assert len(g.animations) == 1


def test_seed_codes_shapes_and_obj(tiny_model, tmp_path):
    model, semantics, folder = tiny_model
    run = folder.parent  # a run folder works as well as its checkpoint
    assert main(["export", "--model", str(run), "--seed", "4", "--shapes", "categories", "--intensity", "0.5",
                 "-o", str(tmp_path / "cat.glb")]) == 0
    names = glb(tmp_path / "cat.glb")[1].extras["targetNames"]
    assert "smile" in names and "neutral" not in names and "jawOpen" not in names
    np.savez(tmp_path / "codes.npz", z_id=semantics.identity_prior.mean)
    assert main(["export", "--model", str(folder), "--codes", str(tmp_path / "codes.npz"), "--shapes",
                 "jawOpen,smile", "--naming", "ict", "--fbx-version", "7500", "-o", str(tmp_path / "sub.fbx")]) == 0
    assert (tmp_path / "sub.fbx").read_bytes()[23:27] == (7500).to_bytes(4, "little")
    assert main(["export", "--model", str(folder), "-o", str(tmp_path / "face.obj"), "--obj-shapes"]) == 0
    assert len(list((tmp_path / "face_shapes").glob("*.obj"))) == 52


@pytest.mark.parametrize("args, message", [
    (["--model", "/nonexistent/model"], "no such folder"),
    (["--seed", "1", "--shapes", "grimace"], "unknown shapes"),
    (["--codes", "missing.npz"], "z_id"),
    (["-o", "face.abc"], "unknown file type"),
])
def test_bad_inputs_exit_2_with_a_message(tiny_model, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    base = ["export", "--model", str(tiny_model[2])] if "--model" not in args else ["export"]
    out = [] if "-o" in args else ["-o", "face.fbx"]
    assert main(base + args + out) == 2
    assert message in capsys.readouterr().err


def test_project_for_another_model_is_refused(tiny_model, tmp_path, capsys):
    path = tmp_path / "other.ffproj"
    save_project(path, Project(str(tiny_model[2]), State(np.zeros(3), np.zeros(2)), {}))
    assert main(["export", "--project", str(path), "-o", str(tmp_path / "x.fbx")]) == 2
    assert "open it with the model it was made with" in capsys.readouterr().err
    doc = json.loads(path.read_text())
    doc["model"] = None
    path.write_text(json.dumps(doc))
    assert main(["export", "--project", str(path), "-o", str(tmp_path / "x.fbx")]) == 2
    assert "--model" in capsys.readouterr().err
