from pathlib import Path

import numpy as np
import pytest
import trimesh

from faceforge.core.data.packed import write_packed
from faceforge.core.data.readers import (
    read_coma, read_dataset, read_facescape, read_manifest, scan_dataset, summarize,
)
from faceforge.core.errors import DatasetError, MeshReadError, NonFiniteError, TopologyMismatchError
from faceforge.core.mesh.io import write_obj, write_ply


def write_coma(dataset, root: Path) -> Path:
    for i, (s, e) in enumerate(zip(dataset.subject, dataset.expression)):
        write_ply(root / s / e / f"{e}.{i:06d}.ply", dataset.vertices[i], dataset.template.faces)
    return root


def write_facescape(dataset, root: Path) -> Path:
    for i, (s, e) in enumerate(zip(dataset.subject, dataset.expression)):
        write_obj(root / s / "models_reg" / f"{i % 3 + 1}_{e}.obj", dataset.vertices[i], dataset.template.faces)
    return root


def by_label(dataset) -> dict[tuple[str, str], np.ndarray]:
    return {(s, e): v for s, e, v in zip(dataset.subject, dataset.expression, dataset.vertices)}


def assert_same_meshes(expected, got):
    assert len(got) == len(expected) and got.vertices.dtype == np.float32
    want, have = by_label(expected), by_label(got)
    assert want.keys() == have.keys()
    for key in want:
        np.testing.assert_array_equal(have[key], want[key], err_msg=str(key))


def test_coma(dataset, tmp_path):
    got = read_coma(write_coma(dataset, tmp_path / "coma"), dataset.template)
    assert_same_meshes(dataset, got)
    assert not got.neutral.any() and np.isnan(got.age).all()
    assert got.meta["layout"] == "coma" and got.template is dataset.template
    assert all(Path(p).is_file() for p in got.path)


def test_facescape(dataset, tmp_path):
    calls = []
    got = read_facescape(write_facescape(dataset, tmp_path / "fs"), progress=lambda i, n: calls.append((i, n)))
    assert_same_meshes(dataset, got)
    np.testing.assert_array_equal(got.neutral, got.expression == "neutral")
    assert calls == [(i, 18) for i in range(1, 19)]


def test_manifest_relative_paths_and_optional_columns(dataset, tmp_path):
    (tmp_path / "scans").mkdir()
    rows = ["Path,Subject,age,neutral,notes"]
    for i in range(4):
        write_obj(tmp_path / "scans" / f"{i}.obj", dataset.vertices[i], dataset.template.faces)
        rows.append(f"scans/{i}.obj,{dataset.subject[i]},{'' if i == 1 else 30 + i},{['yes', 'No', '0', 'TRUE'][i]},x")
    absolute = tmp_path / "elsewhere.obj"
    write_obj(absolute, dataset.vertices[4], dataset.template.faces)
    rows.append(f"{absolute},{dataset.subject[4]},,,")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    got = read_manifest(tmp_path / "list.csv")
    np.testing.assert_array_equal(got.vertices, dataset.vertices[:5])
    np.testing.assert_array_equal(got.subject, dataset.subject[:5])
    np.testing.assert_array_equal(got.expression, [""] * 5)
    np.testing.assert_array_equal(got.age, np.float32([30, np.nan, 32, 33, np.nan]))
    np.testing.assert_array_equal(got.neutral, [True, False, False, True, False])


def test_dispatch(dataset, tmp_path):
    write_packed(dataset, tmp_path / "packed")
    write_coma(dataset, tmp_path / "coma")
    write_facescape(dataset, tmp_path / "fs")
    (tmp_path / "m").mkdir()
    write_ply(tmp_path / "m" / "a.ply", dataset.vertices[0], dataset.template.faces)
    (tmp_path / "m" / "manifest.csv").write_text("path,subject,expression\na.ply,bob,smile\n")
    assert isinstance(read_dataset(tmp_path / "packed").vertices, np.memmap)
    assert read_dataset(tmp_path / "coma").meta["layout"] == "coma"
    assert read_dataset(tmp_path / "fs").meta["layout"] == "facescape"
    for source in (tmp_path / "m", tmp_path / "m" / "manifest.csv"):
        got = read_dataset(source)
        assert got.meta["layout"] == "manifest" and list(got.expression) == ["smile"]


def test_summarize(dataset):
    s = summarize(dataset)
    assert s == {"meshes": 18, "subjects": 6, "vertices": 162,
                 "expressions": {"neutral": 6, "open": 6, "smile": 6}, "neutral": 6,
                 "ages": {"min": float(dataset.age.min()), "max": float(dataset.age.max()), "known": 18}}


def test_scan_lists_every_bad_file(dataset, tmp_path):
    root = write_coma(dataset, tmp_path / "coma")
    bad = [root / "s01" / "smile" / "x.ply", root / "s02" / "open" / "x.ply", root / "s03" / "open" / "x.ply"]
    (tmp_path / "coma" / "s01" / "smile" / "x.ply").write_text("not a ply")
    small = trimesh.creation.icosphere(subdivisions=1)
    write_ply(bad[1], small.vertices * 80, small.faces)
    nan = dataset.vertices[0].copy()
    nan[5] = np.nan
    write_ply(bad[2], nan, dataset.template.faces)
    summary, problems = scan_dataset(root)
    assert summary["meshes"] == 18 and summary["vertices"] == 162
    assert len(problems) == 3 and all(str(p) in msg for p, msg in zip(bad, problems))
    assert "42 vertices" in problems[1] and "non-finite" in problems[2]


def test_scan_packed(dataset, tmp_path):
    write_packed(dataset, tmp_path / "ds")
    summary, problems = scan_dataset(tmp_path / "ds")
    assert summary == summarize(dataset) and problems == []


def coma_with(dataset, tmp_path, name: str, writer) -> Path:
    root = write_coma(dataset.subset(np.arange(3)), tmp_path / "coma")
    target = root / "s00" / "zzz" / name
    target.parent.mkdir()
    writer(target)
    return target


@pytest.mark.parametrize("template", [True, False])
def test_wrong_vertex_count(dataset, tmp_path, template):
    small = trimesh.creation.icosphere(subdivisions=1)
    path = coma_with(dataset, tmp_path, "small.ply", lambda p: write_ply(p, small.vertices * 80, small.faces))
    with pytest.raises(TopologyMismatchError, match="small.ply' has 42 vertices") as e:
        read_dataset(tmp_path / "coma", dataset.template if template else None)
    assert (e.value.path, e.value.expected, e.value.received) == (path, 162, 42)


def test_template_mismatch_with_packed(dataset, tmp_path):
    write_packed(dataset.subset(np.arange(2)), tmp_path / "ds")
    small = trimesh.creation.icosphere(subdivisions=1)
    template = type(dataset.template)(small.vertices.astype(np.float32), small.faces, np.zeros((0, 2)), small.faces)
    with pytest.raises(TopologyMismatchError, match="meshes.npy' has 162 vertices but the template has 42"):
        read_dataset(tmp_path / "ds", template)


def test_nan_vertex(dataset, tmp_path):
    v = dataset.vertices[0].copy()
    v[7, 2] = np.nan
    coma_with(dataset, tmp_path, "nan.ply", lambda p: write_ply(p, v, dataset.template.faces))
    with pytest.raises(NonFiniteError, match="nan.ply' has 1 non-finite"):
        read_coma(tmp_path / "coma")


def test_truncated_ply(dataset, tmp_path):
    def truncated(p: Path):
        write_ply(p, dataset.vertices[0], dataset.template.faces)
        p.write_bytes(p.read_bytes()[:1000])

    coma_with(dataset, tmp_path, "cut.ply", truncated)
    with pytest.raises(MeshReadError, match="cut.ply'"):
        read_dataset(tmp_path / "coma")


def test_text_file_named_obj(dataset, tmp_path):
    write_facescape(dataset.subset(np.arange(3)), tmp_path / "fs")
    (tmp_path / "fs" / "s00" / "models_reg" / "9_notes.obj").write_text("just some notes\n")
    with pytest.raises(MeshReadError, match="9_notes.obj'.*no vertices"):
        read_facescape(tmp_path / "fs")


def test_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="the folder is empty; supported layouts: a packed dataset"):
        read_dataset(tmp_path)


def test_unknown_layout_says_what_was_found(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DatasetError, match=r"found 1 folder\(s\) \(photos\) and 1 file\(s\) \(readme.txt\)"):
        read_dataset(tmp_path)
    with pytest.raises(DatasetError, match="this is a file"):
        read_dataset(tmp_path / "readme.txt")
    with pytest.raises(DatasetError, match="no CoMA meshes"):
        read_coma(tmp_path)


def test_manifest_missing_column(tmp_path):
    (tmp_path / "m.csv").write_text("file,subject\na.obj,bob\n")
    message = r"m.csv': the manifest lacks the required column\(s\) path; found \[file, subject\]"
    with pytest.raises(DatasetError, match=message):
        read_manifest(tmp_path / "m.csv")


def test_manifest_missing_file(dataset, tmp_path):
    write_obj(tmp_path / "a.obj", dataset.vertices[0], dataset.template.faces)
    (tmp_path / "m.csv").write_text("path,subject\na.obj,bob\ngone.obj,bob\n")
    with pytest.raises(MeshReadError, match=r"gone.obj'.*does not exist \(listed in '.*m.csv'\)"):
        read_manifest(tmp_path / "m.csv")
    summary, problems = scan_dataset(tmp_path / "m.csv")
    assert summary["meshes"] == 1 and len(problems) == 1 and "gone.obj" in problems[0]


@pytest.mark.parametrize("line, message", [
    ("a.obj,bob,old,", "line 2: age 'old' is not a number"),
    ("a.obj,bob,3,maybe", "line 2: neutral 'maybe' must be one of 1/0, true/false, yes/no"),
    (",bob,,", "line 2: 'path' and 'subject' must not be empty"),
])
def test_manifest_bad_cells(tmp_path, line, message):
    (tmp_path / "m.csv").write_text(f"path,subject,age,neutral\n{line}\n")
    with pytest.raises(DatasetError, match=message):
        read_manifest(tmp_path / "m.csv")
