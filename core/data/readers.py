"""Read registered-mesh datasets from disk; summarize and scan them for the GUI.

Layouts, in the order `read_dataset` tries them:

- packed: a folder written by `write_packed` (it holds `dataset.json`).
- manifest: a `.csv` file, or a folder holding `manifest.csv`. Columns `path, subject`
  (required) and `expression, age, neutral` (optional; other columns are ignored); a relative
  path is resolved from the CSV's folder.
- FaceScape: `<id>/models_reg/<n>_<expression>.obj`, e.g. `1/models_reg/1_neutral.obj`.
- CoMA: `<subject>/<sequence>/*.ply`.

Every mesh must be finite and have the template's vertex count (the first mesh's when there
is no template). `read_*` raise on the first bad file; `scan_dataset` lists them all.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import DatasetError, MeshReadError, NonFiniteError, TopologyMismatchError
from ..mesh.template import Template
from ..typed import Float32Array
from .dataset import MeshDataset
from .packed import is_packed, read_packed

Progress = Callable[[int, int], None]  # (done, total) meshes
LAYOUTS = ("a packed dataset (dataset.json), a manifest CSV (columns path, subject), "
           "FaceScape (<id>/models_reg/<n>_<expression>.obj) or CoMA (<subject>/<sequence>/*.ply)")
_BOOLS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


class _Row(NamedTuple):
    path: Path
    subject: str
    expression: str = ""
    age: float = math.nan
    neutral: bool = False


def read_coma(folder: str | Path, template: Template | None = None,
              progress: Progress | None = None) -> MeshDataset:
    """Read CoMA `<subject>/<sequence>/*.ply`: expression = the sequence folder's name.

    CoMA has no neutral label, so every mesh has neutral=False (each sequence starts near
    neutral, but those frames are not marked).
    """
    return _read(Path(folder), "coma", _coma_rows(Path(folder)), template, progress)


def read_facescape(folder: str | Path, template: Template | None = None,
                   progress: Progress | None = None) -> MeshDataset:
    """Read FaceScape `<id>/models_reg/<n>_<expression>.obj`; "neutral" sets the neutral flag."""
    return _read(Path(folder), "facescape", _facescape_rows(Path(folder)), template, progress)


def read_manifest(csv_path: str | Path, template: Template | None = None,
                  progress: Progress | None = None) -> MeshDataset:
    """Read the meshes a CSV manifest lists (see the module docstring for its columns).

    `neutral` accepts 1/0, true/false, yes/no (any case); an empty age is unknown (nan).
    """
    return _read(Path(csv_path), "manifest", _manifest_rows(Path(csv_path)), template, progress)


def read_dataset(source: str | Path, template: Template | None = None,
                 progress: Progress | None = None) -> MeshDataset:
    """Detect the layout of `source` (a folder or a manifest CSV) and read it.

    Raises
    ------
    DatasetError
        `source` is missing, empty or in no supported layout (the message lists them).
    TopologyMismatchError, NonFiniteError, MeshReadError
        naming the first bad mesh file.
    """
    layout, path = _detect(Path(source))
    if layout != "packed":
        return _read(path, layout, _ROWS[layout](path), template, progress)
    dataset = read_packed(path)
    if template is not None and template.n_vertices != dataset.n_vertices:
        raise TopologyMismatchError(path / "meshes.npy", template.n_vertices, dataset.n_vertices)
    return dataset if dataset.template is not None or template is None else replace(dataset, template=template)


def summarize(dataset: MeshDataset) -> dict[str, Any]:
    """JSON-able summary of `dataset` for the GUI's validation panel.

    Keys: meshes, subjects, vertices, expressions (label -> count, "" = unknown), neutral
    (count), ages ({"min", "max", "known"} in years; None when no age is known).
    """
    return _summary(dataset.subject, dataset.expression, dataset.age, dataset.neutral, dataset.n_vertices)


def scan_dataset(source: str | Path, template: Template | None = None,
                 progress: Progress | None = None) -> tuple[dict[str, Any], list[str]]:
    """Check every mesh of `source` without stopping at bad ones.

    Without a template the expected vertex count is the most common one. Returns the
    `summarize` dict of the good meshes and one message per bad file, in file order.
    A `DatasetError` (no usable layout, malformed manifest or packed folder) is still raised.
    """
    layout, path = _detect(Path(source))
    if layout == "packed":
        return _scan_packed(path, template)
    rows = _ROWS[layout](path)
    sizes, errors = np.full(len(rows), -1), {}
    for i, row in enumerate(rows):
        try:
            sizes[i] = len(_read_vertices(row.path, None))
        except (MeshReadError, NonFiniteError) as e:
            errors[i] = str(e)
        if progress is not None:
            progress(i + 1, len(rows))
    read = sizes >= 0
    expected = template.n_vertices if template is not None else (
        int(np.bincount(sizes[read]).argmax()) if read.any() else 0)
    for i in np.flatnonzero(read & (sizes != expected)):
        errors[int(i)] = str(TopologyMismatchError(rows[i].path, expected, int(sizes[i])))
    good = [r for i, r in enumerate(rows) if i not in errors]
    return _summary(*_labels(good), expected), [errors[i] for i in sorted(errors)]


def _scan_packed(folder: Path, template: Template | None) -> tuple[dict[str, Any], list[str]]:
    """`scan_dataset` of a packed folder: its structure is all or nothing, its meshes may be non-finite."""
    dataset = read_dataset(folder, template)
    counts = dataset.nonfinite_counts()
    problems = [str(NonFiniteError(dataset.path[i] or f"{folder} (mesh {i})", int(c)))
                for i, c in enumerate(counts) if c]
    return summarize(dataset.subset(counts == 0)), problems


def _read(source: Path, layout: str, rows: list[_Row], template: Template | None,
          progress: Progress | None) -> MeshDataset:
    """Read `rows` (non-empty) into one (M, N, 3) array; raise on the first bad file."""
    for row in rows:
        if not row.path.is_file():
            raise MeshReadError(row.path, f"the file does not exist (listed in '{source}'); "
                                          "fix the path or remove the entry")
    expected = template.n_vertices if template is not None else None
    vertices = None
    for i, row in enumerate(rows):
        v = _read_vertices(row.path, expected)
        if vertices is None:
            expected = len(v)
            vertices = np.empty((len(rows), expected, 3), np.float32)  # (M, N, 3) mm
        vertices[i] = v
        if progress is not None:
            progress(i + 1, len(rows))
    subject, expression, age, neutral = _labels(rows)
    return MeshDataset.from_arrays(
        vertices, subject, expression=expression, age=age, neutral=neutral,
        path=[str(r.path) for r in rows], template=template,
        meta={"source": str(source), "layout": layout})


def _read_vertices(path: Path, expected: int | None) -> Float32Array:
    """(N, 3) float32 mm vertices of one mesh file, checked against `expected` vertices."""
    from ..mesh.io import read_mesh

    v = read_mesh(path).vertices
    if expected is not None and len(v) != expected:
        raise TopologyMismatchError(path, expected, len(v))
    return v


def _detect(source: Path) -> tuple[str, Path]:
    """(layout, path to read) of a dataset folder or manifest CSV."""
    if source.is_file():
        if source.suffix.lower() == ".csv":
            return "manifest", source
        raise DatasetError(source, f"this is a file, not a dataset folder or manifest CSV; expected {LAYOUTS}")
    if not source.is_dir():
        raise DatasetError(source, "the path does not exist")
    if is_packed(source):
        return "packed", source
    if (source / "manifest.csv").is_file():
        return "manifest", source / "manifest.csv"
    if _glob(source, "*/models_reg/*", ".obj"):
        return "facescape", source
    if _glob(source, "*/*/*", ".ply"):
        return "coma", source
    raise DatasetError(source, f"{_describe(source)}; supported layouts: {LAYOUTS}")


def _glob(folder: Path, pattern: str, suffix: str) -> list[Path]:
    """Sorted matches of `pattern` whose suffix is `suffix` in any case."""
    return sorted(p for p in folder.glob(pattern) if p.suffix.lower() == suffix and p.is_file())


def _describe(folder: Path) -> str:
    """What a folder holds, e.g. "found 2 folders (a, b) and 1 file (notes.txt)"."""
    items = sorted(folder.iterdir())
    if not items:
        return "the folder is empty"
    dirs = [p.name for p in items if p.is_dir()]
    files = [p.name for p in items if not p.is_dir()]
    return (f"found {len(dirs)} folder(s) ({_first(dirs)}) and {len(files)} file(s) ({_first(files)}) "
            "but no meshes in a known layout")


def _first(names: list[str], k: int = 5) -> str:
    return ", ".join(names[:k]) + (", ..." if len(names) > k else "")


def _coma_rows(folder: Path) -> list[_Row]:
    paths = _glob(folder, "*/*/*", ".ply")
    if not paths:
        raise DatasetError(folder, f"there are no CoMA meshes (<subject>/<sequence>/*.ply); {_describe(folder)}")
    return [_Row(p, p.parent.parent.name, p.parent.name) for p in paths]


def _facescape_rows(folder: Path) -> list[_Row]:
    paths = _glob(folder, "*/models_reg/*", ".obj")
    if not paths:
        raise DatasetError(folder, "there are no FaceScape meshes (<id>/models_reg/<n>_<expression>.obj); "
                                   f"{_describe(folder)}")
    rows = []
    for p in paths:
        expression = p.stem.partition("_")[2]
        rows.append(_Row(p, p.parent.parent.name, expression, neutral=expression == "neutral"))
    return rows


def _manifest_rows(csv_path: Path) -> list[_Row]:
    if not csv_path.is_file():
        raise DatasetError(csv_path, "the manifest does not exist")
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        reader.fieldnames = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in ("path", "subject") if c not in reader.fieldnames]
        if missing:
            raise DatasetError(csv_path, f"the manifest lacks the required column(s) {', '.join(missing)}; found "
                                         f"[{', '.join(reader.fieldnames)}] (required: path, subject; "
                                         "optional: expression, age, neutral)")
        rows = [_manifest_row(csv_path, reader.line_num, r) for r in reader]
    if not rows:
        raise DatasetError(csv_path, "the manifest lists no meshes")
    return rows


def _manifest_row(csv_path: Path, line: int, record: dict[str, str | None]) -> _Row:
    def cell(name: str) -> str:
        return (record.get(name) or "").strip()

    if not cell("path") or not cell("subject"):
        raise DatasetError(csv_path, f"line {line}: 'path' and 'subject' must not be empty")
    try:
        age = float(cell("age")) if cell("age") else math.nan
    except ValueError:
        raise DatasetError(csv_path, f"line {line}: age '{cell('age')}' is not a number of years") from None
    if cell("neutral").lower() not in _BOOLS:
        raise DatasetError(csv_path, f"line {line}: neutral '{cell('neutral')}' must be one of "
                                     "1/0, true/false, yes/no")
    path = Path(cell("path"))
    return _Row(path if path.is_absolute() else csv_path.parent / path, cell("subject"),
                cell("expression"), age, _BOOLS[cell("neutral").lower()])


def _labels(rows: list[_Row]) -> tuple[np.ndarray, np.ndarray, Float32Array, np.ndarray]:
    """(M,) subject, expression, age and neutral arrays of `rows`."""
    return (np.array([r.subject for r in rows], dtype=str), np.array([r.expression for r in rows], dtype=str),
            np.array([r.age for r in rows], dtype=np.float32), np.array([r.neutral for r in rows], dtype=bool))


def _summary(subject: np.ndarray, expression: np.ndarray, age: np.ndarray, neutral: np.ndarray,
             n_vertices: int) -> dict[str, Any]:
    labels, counts = np.unique(expression, return_counts=True)
    known = age[np.isfinite(age)]
    ages = {"min": float(known.min()), "max": float(known.max()), "known": int(known.size)} if known.size else None
    return {"meshes": int(len(subject)), "subjects": int(len(np.unique(subject))), "vertices": int(n_vertices),
            "expressions": {str(k): int(c) for k, c in zip(labels, counts)},
            "neutral": int(np.count_nonzero(neutral)), "ages": ages}


_ROWS: dict[str, Callable[[Path], list[_Row]]] = {
    "manifest": _manifest_rows, "facescape": _facescape_rows, "coma": _coma_rows,
}
