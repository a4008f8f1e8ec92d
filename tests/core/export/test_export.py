"""The exporter registry, dispatch by extension, atomic writes and unwritable destinations."""
import pytest

from faceforge.core.errors import ExportError
from faceforge.core.export import EXPORTERS, ExportOptions, Rig, export


def test_registry_lists_every_format():
    assert sorted(EXPORTERS) == [".fbx", ".glb", ".obj"]


@pytest.mark.parametrize("name", ["face.fbx", "face.GLB", "face.obj"])
def test_export_dispatches_on_the_extension(rig, tmp_path, name):
    files = export(rig, tmp_path / name)
    assert files[-1] == tmp_path / name and all(f.stat().st_size > 0 for f in files)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # temp files renamed away


def test_unknown_extension_lists_the_choices(rig, tmp_path):
    with pytest.raises(ExportError, match=r"unknown file type '\.dae'; use one of \.fbx, \.glb, \.obj"):
        export(rig, tmp_path / "face.dae")


@pytest.mark.parametrize("name", ["face.fbx", "face.glb", "face.obj"])
def test_unwritable_destination_is_an_export_error(rig, tmp_path, name):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ExportError, match="cannot write there") as caught:
        export(rig, blocker / name)
    assert isinstance(caught.value.original_error, OSError)
    assert caught.value.path == blocker / (name if not name.endswith(".obj") else "face.mtl")


def test_failed_export_keeps_the_previous_file(rig, tmp_path):
    target = tmp_path / "face.fbx"
    target.write_bytes(b"previous")
    with pytest.raises(ExportError):
        export(Rig(rig.template, rig.neutral, {}), target, ExportOptions(shapes=("nope",)))
    assert target.read_bytes() == b"previous"


def test_options_default_to_millimetres_arkit_and_fbx_7400():
    o = ExportOptions()
    assert (o.units, o.naming, o.fbx_version, o.intensity, o.shapes) == ("mm", "arkit", 7400, 1.0, None)
