"""Named regions of the hm08 head: features from modifier-target supports, the rest from landmarks."""
from __future__ import annotations

import numpy as np

from ...mesh.template import Template

REGIONS = ("forehead", "brows", "eyes", "nose", "cheeks", "mouth", "chin", "jaw", "ears",
           "neck", "scalp")


def group_support(groups: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Group -> (N,) mean offset length of its targets, scaled so 1 is typical inside it."""
    out = {}
    for name, targets in groups.items():
        mean = np.mean([np.linalg.norm(d, axis=1) for d in targets], axis=0)
        out[name] = mean / np.percentile(mean[mean > 0], 90)
    return out


def label_regions(template: Template, support: dict[str, np.ndarray],
                  landmarks: dict[str, int]) -> dict[str, np.ndarray]:
    """Region name -> vertex ids; every vertex belongs to exactly one region."""
    v = template.vertices
    x, y, z = np.abs(v[:, 0]), v[:, 1], v[:, 2]

    def at(name: str) -> np.ndarray:
        return v[landmarks[name]]

    label = np.full(len(v), "", dtype=object)

    def claim(name: str, mask: np.ndarray) -> None:
        label[(label == "") & mask] = name

    in_front = z > at("ear_front_l")[2] + 5.0
    claim("ears", support["ear_rigid"] > 0.9)
    claim("eyes", support["eyes"] > 0.6)
    claim("brows", (support["eyebrows"] > 0.5) & in_front)
    claim("nose", (support["nose"] > 0.5) & (y > at("subnasale")[1] - 2.0))
    below_lip = (at("lower_lip_outer")[1] + at("chin_front")[1]) / 2
    claim("mouth", (support["mouth"] > 0.5) & (y < at("subnasale")[1]) & (y > below_lip))
    top = at("glabella")[1] + 0.55 * (at("head_top")[1] - at("glabella")[1])
    claim("forehead", in_front & (y > at("brow_mid_l")[1]) & (y < top))
    under = y < at("chin_bottom")[1] + 2.0
    behind_jaw = (z < at("ear_front_l")[2]) & (y < at("ear_lobe_l")[1])
    claim("neck", under | behind_jaw)
    corner = at("mouth_corner_l")
    claim("chin", (y < at("lower_lip_outer")[1]) & (x < corner[0] + 8.0))
    claim("jaw", in_front & (y < corner[1]))
    claim("cheeks", in_front & (y < at("lower_lid_l")[1]))
    claim("scalp", np.ones(len(v), bool))
    return {name: np.flatnonzero(label == name).astype(np.int32) for name in REGIONS}
