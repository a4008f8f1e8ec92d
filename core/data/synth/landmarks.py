"""Named landmarks of the hm08 head, found from its geometry (mm, +X is the subject's left).

The eye and mouth openings are boundary loops of the head surface; the profile comes from
the midline vertices (their own mirror); brows, nose wings, cheekbones and ears use the
supports of MakeHuman's modifier targets. Left landmarks are found, right ones mirrored, so
every `_l` landmark's mirror vertex is its `_r` twin.
"""
from __future__ import annotations

import numpy as np
import trimesh

from ...mesh.template import Template


def find_landmarks(template: Template, support: dict[str, np.ndarray]) -> dict[str, int]:
    """About 56 named vertex ids.

    Parameters
    ----------
    template : the head surface template (no eye sockets or mouth bag)
    support : group name -> (N,) float, how strongly that group's targets move each vertex
        (about 1 inside the feature), for "eyebrows", "nose", "cheek"; "ear_rigid" is 1
        where the ear-translation targets move the vertex by their full amount
    """
    v = template.vertices.astype(np.float64)
    mesh = trimesh.Trimesh(v, template.triangles(), process=False)
    eye, mouth = _openings(mesh)
    lm: dict[str, int] = {}
    lm.update(_eye(v, eye))
    lm.update(_mouth(v, mouth))
    lm.update(_profile(v, mesh.vertex_normals, template.mirror, lm))
    lm.update(_features(v, support, lm))
    lm.update(_jaw(v, support, lm))
    return _with_mirrors(lm, template.mirror)


def _openings(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids of the left eye opening and of the mouth opening."""
    loops = [np.asarray(e.points) for e in mesh.outline().entities]
    centres = np.array([mesh.vertices[lp].mean(axis=0) for lp in loops])
    neck = int(np.argmax([len(lp) for lp in loops]))
    others = [i for i in range(len(loops)) if i != neck]
    eye = max(others, key=lambda i: centres[i, 0])
    mouth = min(others, key=lambda i: abs(centres[i, 0]) + centres[i, 1] * 1e-3)
    return np.unique(loops[eye]), np.unique(loops[mouth])


def _eye(v: np.ndarray, loop: np.ndarray) -> dict[str, int]:
    x, y = v[loop, 0], v[loop, 1]
    mid_x = (x.min() + x.max()) / 2
    upper, lower = loop[y > y.mean()], loop[y <= y.mean()]
    return {
        "eye_outer_corner_l": int(loop[np.argmax(x)]),
        "eye_inner_corner_l": int(loop[np.argmin(x)]),
        "upper_lid_l": int(upper[np.argmin(np.abs(v[upper, 0] - mid_x))]),
        "lower_lid_l": int(lower[np.argmin(np.abs(v[lower, 0] - mid_x))]),
    }


def _mouth(v: np.ndarray, loop: np.ndarray) -> dict[str, int]:
    y = v[loop, 1]
    upper, lower = loop[y > y.mean()], loop[y <= y.mean()]
    return {
        "mouth_corner_l": int(loop[np.argmax(v[loop, 0])]),
        "upper_lip_inner": int(upper[np.argmin(np.abs(v[upper, 0]))]),
        "lower_lip_inner": int(lower[np.argmin(np.abs(v[lower, 0]))]),
    }


def _profile(v, normals, mirror, lm) -> dict[str, int]:
    """Midline landmarks from the facial profile."""
    mid = np.flatnonzero(mirror == np.arange(len(v)))
    front = mid[v[mid, 2] > v[mid, 2].max() - 70.0]
    y_eye = v[lm["eye_inner_corner_l"], 1]
    y_up, y_lo = v[lm["upper_lip_inner"], 1], v[lm["lower_lip_inner"], 1]

    def pick(lo, hi, score, pool=front):
        band = pool[(v[pool, 1] > lo) & (v[pool, 1] < hi)]
        return int(band[np.argmax(score(band))])

    tip = pick(y_up, y_eye, lambda i: v[i, 2])
    nasion = pick(v[tip, 1], y_eye + 25, lambda i: -v[i, 2])
    subnasale = pick(y_up, v[tip, 1], lambda i: -v[i, 2])
    upper_lip = pick(y_up, v[subnasale, 1], lambda i: v[i, 2])
    lower_lip = pick(y_lo - 15, y_lo, lambda i: v[i, 2])
    pogonion = pick(y_lo - 60, v[lower_lip, 1] - 8, lambda i: v[i, 2])
    below = front[v[front, 1] < v[pogonion, 1]]
    menton = int(below[np.argmax(normals[below] @ np.array([0, -1.0, 1.0]))])
    glabella = pick(v[nasion, 1], v[nasion, 1] + 25, lambda i: v[i, 2])
    forehead = pick(v[glabella, 1] + 35, v[glabella, 1] + 55, lambda i: v[i, 2])
    dorsum = pick((v[nasion, 1] + v[tip, 1]) / 2 - 3, (v[nasion, 1] + v[tip, 1]) / 2 + 3,
                  lambda i: v[i, 2])
    return {
        "nose_tip": tip, "nose_bridge": nasion, "nose_dorsum": dorsum, "subnasale": subnasale,
        "upper_lip_outer": upper_lip, "lower_lip_outer": lower_lip, "chin_front": pogonion,
        "chin_bottom": menton, "glabella": glabella, "forehead_center": forehead,
        "head_top": int(mid[np.argmax(v[mid, 1])]), "head_back": int(mid[np.argmin(v[mid, 2])]),
    }


def _features(v, support, lm) -> dict[str, int]:
    """Brows, nose wings, cheekbones and ears on the left side."""
    left = v[:, 0] > 1.0

    def region(group, level=0.5):
        return np.flatnonzero(left & (support[group] > level))

    brow = region("eyebrows")
    inner, outer = brow[np.argmin(v[brow, 0])], brow[np.argmax(v[brow, 0])]
    centre = np.array([(v[inner, 0] + v[outer, 0]) / 2, v[brow, 1].mean()])
    nose = region("nose")
    nose = nose[(v[nose, 1] > v[lm["subnasale"], 1]) & (v[nose, 1] < v[lm["nose_tip"], 1])]
    cheek = region("cheek", 0.8)
    ear = region("ear_rigid", 0.95)
    ear_mid = ear[np.abs(v[ear, 1] - v[ear, 1].mean()) < np.ptp(v[ear, 1]) / 6]
    return {
        "brow_inner_l": int(inner), "brow_outer_l": int(outer),
        "brow_mid_l": int(brow[np.argmin(np.linalg.norm(v[brow, :2] - centre, axis=1))]),
        "nose_alar_l": int(nose[np.argmax(v[nose, 0])]),
        "cheekbone_l": int(cheek[np.argmax(v[cheek, 2] + v[cheek, 0])]),
        "ear_top_l": int(ear[np.argmax(v[ear, 1])]), "ear_lobe_l": int(ear[np.argmin(v[ear, 1])]),
        "ear_back_l": int(ear[np.argmin(v[ear, 2])]),
        "ear_front_l": int(ear_mid[np.argmax(v[ear_mid, 2])]),
    }


def _jaw(v, support, lm) -> dict[str, int]:
    """Four points along the left jaw line, from the chin towards the jaw angle."""
    y0, y1 = v[lm["chin_bottom"], 1], v[lm["ear_lobe_l"], 1]
    z_min = v[lm["ear_front_l"], 2] + 8.0
    pool = np.flatnonzero((v[:, 0] > 1.0) & (v[:, 2] > z_min) & (support["ear_rigid"] < 0.5))
    out = {}
    for k in range(1, 5):
        y = y0 + k / 4 * (y1 - y0)
        band = pool[np.abs(v[pool, 1] - y) < 3.0]
        out[f"jaw_{k}_l"] = int(band[np.argmax(v[band, 0])])
    return out


def _with_mirrors(lm: dict[str, int], mirror: np.ndarray) -> dict[str, int]:
    out = {}
    for name, vid in lm.items():
        out[name] = vid
        if name.endswith("_l"):
            out[name[:-2] + "_r"] = int(mirror[vid])
    return out
