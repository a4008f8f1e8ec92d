"""The packed dataset format: one folder that training memory-maps instead of parsing meshes.

Layout (every file deterministic: the same dataset always gives the same bytes)::

    dataset.json          format, version, counts, vertex count, template hash, array names, meta
    meshes.npy            (M, N, 3) float32 mm, opened with np.load(mmap_mode="r")
    manifest.csv          index, subject, expression, age, neutral, path (one row per mesh)
    subjects.csv          subject ids, the row order of subjects/*.npy
    extras/<name>.npy     (M, ...) per-mesh arrays
    subjects/<name>.npy   (S, ...) per-subject arrays
    template.npz          Template.save, when the dataset has a template
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import uuid
import zipfile
from pathlib import Path

import numpy as np

from ..cache import replace_folder
from ..errors import DatasetError
from ..mesh.template import Template
from .dataset import MeshDataset

FORMAT = "faceforge-packed"
VERSION = 1
COLUMNS = ["index", "subject", "expression", "age", "neutral", "path"]
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def is_packed(folder: str | Path) -> bool:
    """True when `folder` holds a packed dataset (its `dataset.json` exists)."""
    return (Path(folder) / "dataset.json").is_file()


def write_packed(dataset: MeshDataset, folder: str | Path) -> None:
    """Write `dataset` as a packed folder, atomically.

    Everything goes to a hidden temp folder next to `folder`, which is renamed into place once
    complete; an existing packed `folder` is replaced only then. A non-empty folder that is not
    a packed dataset is refused rather than deleted.
    """
    target = Path(folder)
    replaceable = is_packed(target) or (target.is_dir() and next(target.iterdir(), None) is None)
    if target.exists() and not replaceable:
        raise DatasetError(target, "the folder exists and is not a packed dataset; choose a new or empty folder")
    dataset.validate()
    description = _describe(dataset, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        (tmp / "dataset.json").write_text(description, encoding="utf-8")
        _write_arrays(dataset, tmp)
        replace_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_packed(folder: str | Path, mmap: bool = True) -> MeshDataset:
    """Open a packed dataset; `meshes.npy` (and the extras) are read-only memmaps when `mmap`.

    Raises
    ------
    DatasetError
        naming the missing, truncated or inconsistent file.
    """
    folder = Path(folder)
    info = _read_info(folder)
    m, n, s, mode = info["meshes"], info["vertices"], info["subjects"], "r" if mmap else None
    vertices = _load_npy(folder / "meshes.npy", (m, n, 3), mode, np.float32)
    rows = _read_manifest(folder / "manifest.csv", m)
    _check_subjects(folder / "subjects.csv", s, [r["subject"] for r in rows])
    return MeshDataset.from_arrays(
        vertices, [r["subject"] for r in rows], expression=[r["expression"] for r in rows],
        age=[float(r["age"]) if r["age"] else np.nan for r in rows],
        neutral=[r["neutral"] == "1" for r in rows], path=[r["path"] for r in rows],
        extras={k: _load_npy(folder / "extras" / f"{k}.npy", (m, *sh), mode) for k, sh in info["extras"].items()},
        subject_table={k: _load_npy(folder / "subjects" / f"{k}.npy", (s, *sh), mode)
                       for k, sh in info["subject_table"].items()},
        template=_read_template(folder / "template.npz", info["template_hash"], n), meta=info["meta"],
    )


def _describe(d: MeshDataset, target: Path) -> str:
    """The text of dataset.json; raises DatasetError for unsafe array names or non-JSON meta."""
    for name in [*d.extras, *d.subject_table]:
        if not _NAME.match(name):
            raise DatasetError(target, f"array name '{name}' is not a safe file name (use A-Z a-z 0-9 _ . -)")
    info = {
        "format": FORMAT, "version": VERSION, "meshes": len(d), "vertices": d.n_vertices,
        "subjects": len(d.subjects()),
        "template_hash": d.template.topology_hash() if d.template is not None else None,
        "extras": {k: list(v.shape[1:]) for k, v in d.extras.items()},
        "subject_table": {k: list(v.shape[1:]) for k, v in d.subject_table.items()},
        "meta": d.meta,
    }
    try:
        return json.dumps(info, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise DatasetError(target, f"dataset.meta is not JSON-serializable ({e})") from e


def _write_arrays(d: MeshDataset, tmp: Path) -> None:
    """Everything but dataset.json."""
    np.save(tmp / "meshes.npy", np.ascontiguousarray(d.vertices, dtype="<f4"), allow_pickle=False)
    _write_csv(tmp / "manifest.csv", COLUMNS, zip(
        range(len(d)), d.subject, d.expression,
        ["" if np.isnan(a) else str(a) for a in d.age], np.where(d.neutral, "1", "0"), d.path))
    _write_csv(tmp / "subjects.csv", ["subject"], ([s] for s in d.subjects()))
    for sub, arrays in (("extras", d.extras), ("subjects", d.subject_table)):
        if arrays:
            (tmp / sub).mkdir()
        for k, a in arrays.items():
            np.save(tmp / sub / f"{k}.npy", np.ascontiguousarray(a), allow_pickle=False)
    if d.template is not None:
        d.template.save(tmp / "template.npz")


def _write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _read_info(folder: Path) -> dict:
    path = folder / "dataset.json"
    if not path.is_file():
        raise DatasetError(path, "the file is missing: the folder is not a packed dataset "
                                 "(write one with write_packed)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(path, f"the file is not valid JSON ({e}); re-write the dataset") from e
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise DatasetError(path, f"the file is not a '{FORMAT}' description")
    if info.get("version") != VERSION:
        raise DatasetError(path, f"the file has format version {info.get('version')!r}; this FaceForge reads "
                                 f"version {VERSION} (update FaceForge or re-pack the dataset)")
    keys = ["meshes", "vertices", "subjects", "template_hash", "extras", "subject_table", "meta"]
    missing = [k for k in keys if k not in info]
    if missing:
        raise DatasetError(path, f"the file lacks the field(s) {', '.join(missing)}; re-write the dataset")
    return info


def _load_npy(path: Path, shape: tuple[int, ...], mode: str | None, dtype: type | None = None) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(path, "the file is missing; re-write the dataset with write_packed")
    try:
        a = np.load(path, mmap_mode=mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DatasetError(path, f"the file is unreadable or truncated ({e}); re-write the dataset") from e
    if a.shape != tuple(shape) or (dtype is not None and a.dtype != dtype):
        want = f"{tuple(shape)}" + (f" {np.dtype(dtype)}" if dtype is not None else "")
        raise DatasetError(path, f"the file holds {a.shape} {a.dtype} but dataset.json expects {want}")
    return a


def _read_csv(path: Path, header: list[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(path, "the file is missing; re-write the dataset with write_packed")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != header:
            raise DatasetError(path, f"the file has columns {reader.fieldnames}, expected {header}")
        return list(reader)


def _read_manifest(path: Path, m: int) -> list[dict[str, str]]:
    rows = _read_csv(path, COLUMNS)
    if [r["index"] for r in rows] != [str(i) for i in range(m)]:
        raise DatasetError(path, f"the file must list indices 0..{m - 1} in order, one row per mesh "
                                 f"(found {len(rows)} rows)")
    return rows


def _check_subjects(path: Path, s: int, manifest_subjects: list[str]) -> None:
    listed = [r["subject"] for r in _read_csv(path, ["subject"])]
    if len(listed) != s:
        raise DatasetError(path, f"the file lists {len(listed)} subjects but dataset.json expects {s}")
    if listed != sorted(set(manifest_subjects)):
        raise DatasetError(path, "the file does not list the sorted unique subjects of manifest.csv")


def _read_template(path: Path, topology_hash: str | None, n: int) -> Template | None:
    if topology_hash is None:
        return None
    if not path.is_file():
        raise DatasetError(path, "the file is missing but dataset.json names a template; re-write the dataset")
    try:
        template = Template.load(path)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DatasetError(path, f"the file is unreadable ({e}); re-write the dataset") from e
    if template.topology_hash() != topology_hash or template.n_vertices != n:
        raise DatasetError(path, f"the template does not match dataset.json (topology {template.topology_hash()}, "
                                 f"{template.n_vertices} vertices; expected {topology_hash}, {n})")
    return template
