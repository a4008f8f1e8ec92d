import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from faceforge.core.data.packed import is_packed, read_packed, write_packed
from faceforge.core.errors import DatasetError


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same(a, b):
    np.testing.assert_array_equal(a.vertices, b.vertices)
    for name in ("subject", "expression", "age", "neutral", "path"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.extras.keys() == b.extras.keys() and a.subject_table.keys() == b.subject_table.keys()
    for k in a.extras:
        np.testing.assert_array_equal(a.extras[k], b.extras[k])
    for k in a.subject_table:
        np.testing.assert_array_equal(a.subject_table[k], b.subject_table[k])
    assert a.meta == b.meta


def test_round_trip_is_memory_mapped(dataset, tmp_path):
    write_packed(dataset, tmp_path / "ds")
    assert is_packed(tmp_path / "ds")
    back = read_packed(tmp_path / "ds")
    assert isinstance(back.vertices, np.memmap) and not back.vertices.flags.writeable
    assert_same(dataset, back)
    assert back.template.topology_hash() == dataset.template.topology_hash()
    assert back.template.landmarks == dataset.template.landmarks
    np.testing.assert_array_equal(back.template.vertices, dataset.template.vertices)
    assert not isinstance(read_packed(tmp_path / "ds", mmap=False).vertices, np.memmap)


def test_bytes_are_deterministic(dataset, tmp_path, monkeypatch):
    write_packed(dataset, tmp_path / "a")
    monkeypatch.setattr(time, "time", lambda: 2e9)  # zip entries would record a later time
    write_packed(dataset, tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert {"meshes.npy", "manifest.csv", "subjects.csv", "dataset.json", "template.npz",
            "extras/arkit.npy", "subjects/age.npy"} <= set(_files(tmp_path / "a"))


def test_dataset_without_template_or_extras(dataset, tmp_path):
    dataset.template, dataset.extras, dataset.subject_table = None, {}, {}
    write_packed(dataset, tmp_path / "ds")
    back = read_packed(tmp_path / "ds")
    assert back.template is None and not (tmp_path / "ds" / "template.npz").exists()
    assert_same(dataset, back)


def test_rewrite_replaces_atomically_even_from_its_own_memmap(dataset, tmp_path):
    write_packed(dataset, tmp_path / "ds")
    opened = read_packed(tmp_path / "ds")
    write_packed(opened.subset(np.arange(6)), tmp_path / "ds")
    assert len(read_packed(tmp_path / "ds")) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temp or backup folder left


def test_failed_write_leaves_the_target_untouched(dataset, tmp_path):
    write_packed(dataset, tmp_path / "ds")
    before = _files(tmp_path / "ds")
    dataset.meta["bad"] = object()
    with pytest.raises(DatasetError, match="JSON"):
        write_packed(dataset, tmp_path / "ds")
    assert _files(tmp_path / "ds") == before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_refuses_to_replace_an_unrelated_folder(dataset, tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_bytes(b"jpg")
    with pytest.raises(DatasetError, match="not a packed dataset"):
        write_packed(dataset, tmp_path / "photos")
    assert (tmp_path / "photos" / "me.jpg").exists()


@pytest.fixture
def packed(dataset, tmp_path) -> Path:
    write_packed(dataset, tmp_path / "ds")
    return tmp_path / "ds"


def test_missing_meshes(packed):
    (packed / "meshes.npy").unlink()
    with pytest.raises(DatasetError, match=r"meshes\.npy': the file is missing"):
        read_packed(packed)


def test_truncated_meshes(packed):
    data = (packed / "meshes.npy").read_bytes()
    (packed / "meshes.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"meshes\.npy': the file is unreadable or truncated"):
        read_packed(packed)


def test_meshes_with_fewer_rows_than_the_manifest(packed):
    meshes = np.load(packed / "meshes.npy")
    np.save(packed / "meshes.npy", meshes[:-1])
    message = r"meshes\.npy': the file holds \(17, 162, 3\) float32 .* expects \(18, 162, 3\)"
    with pytest.raises(DatasetError, match=message):
        read_packed(packed)


def test_short_manifest_and_extras(packed):
    lines = (packed / "manifest.csv").read_text().splitlines()
    (packed / "manifest.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DatasetError, match=r"manifest\.csv': the file must list indices 0..17"):
        read_packed(packed)


def test_bad_extra(packed):
    np.save(packed / "extras" / "arkit.npy", np.zeros((18, 51), np.float32))
    with pytest.raises(DatasetError, match=r"arkit\.npy': the file holds \(18, 51\)"):
        read_packed(packed)


def test_newer_version(packed):
    info = json.loads((packed / "dataset.json").read_text())
    (packed / "dataset.json").write_text(json.dumps({**info, "version": 99}))
    with pytest.raises(DatasetError, match=r"dataset\.json': the file has format version 99"):
        read_packed(packed)


def test_template_zip_has_fixed_times(packed):
    with zipfile.ZipFile(packed / "template.npz") as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
