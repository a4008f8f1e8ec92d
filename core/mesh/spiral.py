"""Spiral vertex orderings for SpiralNet++ convolutions.

Gong et al., "SpiralNet++: A fast and highly efficient mesh convolution operator", ICCVW 2019.
A spiral starts at the vertex, walks its one-ring counter-clockwise seen from outside (the
triangle winding), then each further ring in the same rotational sense, every ring starting
next to the last vertex visited. Spirals depend on the connectivity only, never on positions.

CONVENTIONS: triangles are wound counter-clockwise seen from outside. A spiral that runs out
of vertices (tiny meshes, isolated vertices) is padded with the centre vertex itself, so every
index is a valid row for `torch.gather`/`index_select` (no dummy vertex to append).
"""
from __future__ import annotations

import numpy as np

from ..typed import IntArray


def spiral_indices(triangles: IntArray, n_vertices: int, length: int = 9,
                   dilation: int = 1) -> IntArray:
    """(N, length) int64 spiral of every vertex; column 0 is the vertex itself.

    Parameters
    ----------
    triangles : (T, 3) int, an oriented manifold, possibly with boundary
    n_vertices : N, so unreferenced vertices get a spiral too (all themselves)
    length : entries per spiral
    dilation : take every `dilation`-th entry of a spiral of `length * dilation`
    """
    if length < 1 or dilation < 1:
        raise ValueError(f"length and dilation must be >= 1, got {length} and {dilation}")
    fans = _fans(triangles, n_vertices)
    total = length * dilation
    out = np.empty((n_vertices, total), dtype=np.int64)
    for v in range(n_vertices):
        spiral = _spiral(fans, v, total)
        out[v] = spiral + [v] * (total - len(spiral))
    return out[:, ::dilation]


def _spiral(fans: list[list[int]], v: int, total: int) -> list[int]:
    """Up to `total` vertices, ring by ring; a prefix of any longer spiral of v."""
    spiral, seen, ring = [v], {v}, [v]
    while len(spiral) < total:
        start = len(spiral)
        for r in ring:
            spiral += _unseen_ccw(fans[r], seen)
            if len(spiral) >= total:
                break
        if len(spiral) == start:
            break
        ring = spiral[start:]
    return spiral[:total]


def _unseen_ccw(fan: list[int], seen: set[int]) -> list[int]:
    """Unseen vertices of `fan` in cyclic order from just after a seen one; marks them seen.

    A boundary fan is an open chain; closing it across the gap makes the outward walk of a
    boundary vertex continue in the same rotational sense.
    """
    k = len(fan)
    first = next((i for i in range(k) if fan[i] not in seen and fan[i - 1] in seen), 0)
    out = [w for w in fan[first:] + fan[:first] if w not in seen]
    seen.update(out)
    return out


def _fans(triangles: IntArray, n_vertices: int) -> list[list[int]]:
    """Each vertex's neighbours counter-clockwise seen from outside.

    Interior fans start at their smallest neighbour id; a boundary fan runs from one boundary
    edge to the other. A non-manifold vertex's fans are concatenated, open ones first.
    """
    succ: list[dict[int, int]] = [{} for _ in range(n_vertices)]
    for a, b, c in np.asarray(triangles, dtype=np.int64).tolist():
        for v, p, q in ((a, b, c), (b, c, a), (c, a, b)):
            if p in succ[v]:
                raise ValueError(
                    f"triangles must form an oriented manifold: edge {v}->{p} is used twice; "
                    "fix the winding or split non-manifold edges."
                )
            succ[v][p] = q
    return [_walk(s) for s in succ]


def _walk(succ: dict[int, int]) -> list[int]:
    """Chain the successor map of one vertex into its fan (open chains first)."""
    heads = sorted(set(succ) - set(succ.values())) + sorted(succ)
    fan: list[int] = []
    done: set[int] = set()
    for head in heads:
        w = head
        while w not in done:
            done.add(w)
            fan.append(w)
            if w not in succ:
                break
            w = succ[w]
    return fan
