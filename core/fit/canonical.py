"""The model's own frame and codes for a registered mesh.

A model trained on scans with small rigid jitter (the default model's data: about 1.5 degrees and
1.5 mm per scan) reads head pose partly as expression, and a scan fit's model frame is off by
about a degree and a millimetre (pose and codes trade off). Encoding the registered mesh as it
lies then puts that pose into z_exp: transferred expressions tilt the other head and the
neutral keeps part of the expression. `canonical_codes` removes it: it rigidly moves the mesh so
its expression-stable vertices (scalp, ears, forehead, nose, brows) sit on the model's own neutral of it,
decode(encode_id(mesh), 0), re-encodes the moved mesh, and repeats, so the frame and the identity
settle together.

`anchored_codes` then lets the codes explain the mesh better: the encoder's identity is off for
faces unlike its training data, so z_id moves freely (under the N(0, I) prior) while z_exp stays
near the encoder's split, which a plain data fit loses to the identity.
"""
from __future__ import annotations

import numpy as np
import torch

from ..mesh.align import SimilarityTransform, procrustes
from ..mesh.template import Template
from ..models.base import FaceModel
from ..typed import BoolArray, Float32Array, FloatArray
from .result import compose

STABLE_REGIONS = ("scalp", "ears", "forehead", "nose", "brows")  # expressions barely move these
ITERATIONS = 4  # 4 and 8 rounds give the same frame within 0.01 mm on held-out meshes
EXP_ANCHOR = 1.0  # weight of |z_exp - z_exp_encoder|^2 against the mean squared distance in mm^2
ID_PRIOR = 1e-3  # weight of |z_id|^2, as FitOptions.prior_id
REFIT_ITERATIONS = 60


def stable_vertices(template: Template, regions: tuple[str, ...] = STABLE_REGIONS) -> BoolArray:
    """(N,) bool: the vertices of `regions`; every vertex when the template names none of them."""
    mask = np.zeros(template.n_vertices, bool)
    for name in regions:
        mask[np.asarray(template.regions.get(name, ()), np.int64)] = True
    return mask if mask.any() else np.ones(template.n_vertices, bool)


def canonical_codes(model: FaceModel, vertices: FloatArray, stable: BoolArray,
                    iterations: int = ITERATIONS
                    ) -> tuple[SimilarityTransform, Float32Array, Float32Array]:
    """The rigid move of `vertices` into the model's frame and the codes there.

    vertices : (N, 3) mm, the template topology in roughly the model frame
    stable : (N,) bool, the vertices the alignment uses (see `stable_vertices`)
    Returns (transform: rigid, scale 1, input frame -> canonical frame; z_id (I,) float32;
    z_exp (E,) float32), the codes being the encoder's of the moved vertices.
    """
    x = np.asarray(vertices, np.float64)
    total = SimilarityTransform(np.eye(3), np.zeros(3))
    zero_exp = np.zeros((1, model.exp_dim), np.float32)
    for _ in range(iterations):
        moved = total.apply(x)
        z_id, _ = model.encode(moved[None].astype(np.float32))
        neutral = model.decode(z_id, zero_exp)[0].astype(np.float64)
        total = compose(procrustes(moved[stable], neutral[stable], scale=False), total)
    z_id, z_exp = model.encode(total.apply(x)[None].astype(np.float32))
    return total, np.asarray(z_id[0], np.float32), np.asarray(z_exp[0], np.float32)


def anchored_codes(model: FaceModel, vertices: FloatArray, z_id: FloatArray, z_exp: FloatArray,
                   exp_anchor: float = EXP_ANCHOR, id_prior: float = ID_PRIOR
                   ) -> tuple[Float32Array, Float32Array]:
    """Codes minimizing mean |decode(z_id, z_exp) - vertices|^2 (mm^2) + exp_anchor |z_exp -
    z_exp0|^2 + id_prior |z_id|^2 from the encoder's (z_id0, z_exp0) (both (I,), (E,)), by LBFGS.

    vertices : (N, 3) mm in the model's frame (see canonical_codes). Returns float32 (I,), (E,).
    """
    device = getattr(model, "device", torch.device("cpu"))
    target = torch.as_tensor(np.asarray(vertices, np.float32), device=device)
    anchor = torch.as_tensor(np.asarray(z_exp, np.float32)[None], device=device)
    codes = [torch.tensor(np.asarray(z, np.float32)[None], device=device, requires_grad=True)
             for z in (z_id, z_exp)]
    optimizer = torch.optim.LBFGS(codes, lr=1.0, max_iter=REFIT_ITERATIONS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        distance = ((model.decode(*codes)[0] - target) ** 2).sum(dim=1).mean()
        loss = distance + exp_anchor * ((codes[1] - anchor) ** 2).sum() + id_prior * (codes[0] ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return tuple(c.detach().cpu().numpy()[0].astype(np.float32) for c in codes)
