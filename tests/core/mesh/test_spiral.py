"""Spiral++ orderings on a closed and an open mesh, checked against graph distances."""
import numpy as np
import pytest
import trimesh
from scipy import sparse
from scipy.sparse.csgraph import shortest_path

from faceforge.core.mesh.spiral import spiral_indices

SPHERE = trimesh.creation.icosphere(subdivisions=3)


def _hemisphere() -> tuple[np.ndarray, int]:
    faces = SPHERE.faces[SPHERE.triangles_center[:, 2] > -0.05]
    used = np.unique(faces)
    remap = np.full(len(SPHERE.vertices), -1)
    remap[used] = np.arange(len(used))
    return remap[faces], len(used)


MESHES = {"sphere": (np.asarray(SPHERE.faces), len(SPHERE.vertices)), "hemisphere": _hemisphere()}


@pytest.fixture(scope="module", params=list(MESHES))
def mesh(request):
    """(triangles, n, neighbour sets, graph distances, boundary directed edges)."""
    triangles, n = MESHES[request.param]
    directed = triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    neighbours = [set() for _ in range(n)]
    for a, b in directed:
        neighbours[a].add(b)
        neighbours[b].add(a)
    distance = _hops(triangles, n)
    pairs = set(map(tuple, directed.tolist()))
    boundary = {(a, b) for a, b in pairs if (b, a) not in pairs}
    return triangles, n, neighbours, distance, boundary


def _hops(triangles: np.ndarray, n: int) -> np.ndarray:
    """(n, n) graph distances along the mesh edges."""
    directed = triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    edges = sparse.coo_array((np.ones(len(directed)), directed.T), shape=(n, n))
    return shortest_path(edges, directed=False, unweighted=True)


def _has_triangle(triangles: np.ndarray, a: int, b: int, c: int) -> bool:
    """Whether (a, b, c) is a triangle with this winding (any rotation)."""
    rotations = np.array([[a, b, c], [b, c, a], [c, a, b]])
    return bool((triangles[:, None, :] == rotations[None]).all(-1).any())


def test_starts_at_the_vertex_then_its_one_ring(mesh):
    triangles, n, neighbours, _, _ = mesh
    spirals = spiral_indices(triangles, n, length=12)
    assert spirals.shape == (n, 12) and spirals.dtype == np.int64
    assert np.array_equal(spirals[:, 0], np.arange(n))
    for v in range(n):
        k = len(neighbours[v])
        assert set(spirals[v, 1:k + 1].tolist()) == neighbours[v]


def test_one_ring_is_counter_clockwise(mesh):
    triangles, n, neighbours, _, boundary = mesh
    spirals = spiral_indices(triangles, n, length=12)
    for v in range(n):
        ring = spirals[v, 1:len(neighbours[v]) + 1].tolist()
        if (v, ring[0]) in boundary:  # open fan: from one boundary edge to the other
            assert (ring[-1], v) in boundary
        else:
            ring.append(ring[0])
        assert all(_has_triangle(triangles, v, a, b) for a, b in zip(ring, ring[1:]))


def test_rings_grow_outward(mesh):
    triangles, n, _, distance, _ = mesh
    spirals = spiral_indices(triangles, n, length=30)
    hops = distance[np.arange(n)[:, None], spirals]
    assert np.all(np.diff(hops, axis=1) >= 0)
    assert all(len(set(s)) == 30 for s in spirals.tolist())


def test_closed_mesh_spiral_is_a_path():
    """On the sphere every step, including into the next ring, moves to a neighbour."""
    triangles, n = MESHES["sphere"]
    spirals = spiral_indices(triangles, n, length=30)
    distance = _hops(triangles, n)
    assert np.all(distance[spirals[:, :-1], spirals[:, 1:]] == 1)


def test_dilation_takes_every_dth_entry(mesh):
    triangles, n, _, _, _ = mesh
    np.testing.assert_array_equal(spiral_indices(triangles, n, length=9, dilation=2),
                                  spiral_indices(triangles, n, length=18)[:, ::2])


def test_short_spirals_pad_with_the_centre():
    triangles = np.array([[0, 1, 2]])
    spirals = spiral_indices(triangles, 4, length=5)
    np.testing.assert_array_equal(spirals, [[0, 1, 2, 0, 0], [1, 2, 0, 1, 1], [2, 0, 1, 2, 2],
                                            [3, 3, 3, 3, 3]])


def test_inconsistent_winding_is_rejected():
    triangles = np.array([[0, 1, 2], [0, 1, 3]])
    with pytest.raises(ValueError, match="oriented manifold"):
        spiral_indices(triangles, 4)
