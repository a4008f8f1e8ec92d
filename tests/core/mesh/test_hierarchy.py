"""Mesh hierarchy: quadric decimation, sampling matrices and the on-disk cache."""
import numpy as np
import pytest
import torch
import trimesh
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from faceforge.core.cache import save_npz_atomic
from faceforge.core.mesh import hierarchy as hierarchy_module
from faceforge.core.mesh.decimate import boundary_edges, decimate
from faceforge.core.mesh.hierarchy import MeshHierarchy, build_hierarchy, load_or_build_hierarchy
from faceforge.core.mesh.template import Template

SPHERE = trimesh.creation.icosphere(subdivisions=4)  # radius 1, centred at the origin


def _keep_faces(mesh: trimesh.Trimesh, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-mesh of the faces where `keep`, without unreferenced vertices."""
    faces = mesh.faces[keep]
    used = np.unique(faces)
    remap = np.full(len(mesh.vertices), -1)
    remap[used] = np.arange(len(used))
    return np.asarray(mesh.vertices[used]), remap[faces]


def _grid(n: int = 50, size: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """A flat n x n vertex square in the XY plane (mm), facing +Z: all quadric errors vanish."""
    x, y = np.meshgrid(np.linspace(0, size, n), np.linspace(0, size, n))
    ids = np.arange(n * n).reshape(n, n)
    a, b, c, d = (ids[i, j].ravel() for i, j in [(np.s_[:-1], np.s_[:-1]), (np.s_[:-1], np.s_[1:]),
                                                  (np.s_[1:], np.s_[1:]), (np.s_[1:], np.s_[:-1])])
    faces = np.vstack([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return np.column_stack([x.ravel(), y.ravel(), np.zeros(n * n)]), faces


MESHES = {
    "sphere": (np.asarray(SPHERE.vertices), np.asarray(SPHERE.faces)),
    "grid": _grid(),
    "hemisphere": _keep_faces(SPHERE, SPHERE.triangles_center[:, 2] > -0.05),  # 1 loop
    "band": _keep_faces(SPHERE, np.abs(SPHERE.triangles_center[:, 1]) < 0.6),  # 2 loops
}


@pytest.fixture(scope="module", params=list(MESHES))
def built(request) -> tuple[np.ndarray, MeshHierarchy]:
    vertices, triangles = MESHES[request.param]
    return vertices, build_hierarchy(vertices, triangles)


def _level_vertices(vertices: np.ndarray, h: MeshHierarchy) -> list[np.ndarray]:
    """Positions of every level: the kept vertices' original positions."""
    out = [vertices]
    for down in h.down:
        out.append(down @ out[-1])
    return out


def _boundary_loops(triangles: np.ndarray, n: int) -> int:
    edges = boundary_edges(triangles)
    graph = sparse.coo_array((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    return len(np.unique(labels[np.unique(edges)]))


def _euler(triangles: np.ndarray, n: int) -> int:
    edges = np.unique(np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
    return n - len(edges) + len(triangles)


def test_shapes(built):
    _, h = built
    assert h.n_levels == 4 and len(h.n_vertices) == len(h.triangles) == len(h.spirals) == 5
    for i, n in enumerate(h.n_vertices):
        assert h.triangles[i].dtype == np.int32 and h.triangles[i].max() == n - 1
        assert h.spirals[i].shape == (n, 9) and h.spirals[i].dtype == np.int64
    for i in range(h.n_levels):
        assert h.down[i].shape == (h.n_vertices[i + 1], h.n_vertices[i])
        assert h.up[i].shape == (h.n_vertices[i], h.n_vertices[i + 1])


def test_reduction_ratio(built):
    _, h = built
    ratios = np.divide(h.n_vertices[:-1], h.n_vertices[1:])
    assert np.all((ratios >= 3.5) & (ratios <= 4.5)), ratios


def test_down_selects_one_vertex_per_row(built):
    _, h = built
    for down in h.down:
        assert np.array_equal(np.diff(down.indptr), np.ones(down.shape[0]))
        assert np.all(down.data == 1)
        assert len(np.unique(down.indices)) == down.shape[0]


def test_up_rows_are_convex_and_exact_on_kept(built):
    vertices, h = built
    for down, up, fine in zip(h.down, h.up, _level_vertices(vertices, h)):
        assert np.all(up.data >= 0) and np.diff(up.indptr).max() <= 3
        np.testing.assert_allclose(up.sum(axis=1), 1.0, atol=1e-6)
        assert (down @ up != sparse.eye_array(down.shape[0])).nnz == 0
        kept = down.indices
        np.testing.assert_array_equal((up @ (down @ fine))[kept], fine[kept])


def test_up_samples_the_closest_coarse_point(built):
    vertices, h = built
    coarse = trimesh.Trimesh(_level_vertices(vertices, h)[1], h.triangles[1], process=False)
    closest = trimesh.proximity.closest_point(coarse, vertices)[0]
    np.testing.assert_allclose(h.up[0] @ coarse.vertices, closest, atol=1e-5)


def test_coarse_meshes_are_manifold_with_boundaries_kept(built):
    vertices, h = built
    n = len(vertices)
    loops, euler = _boundary_loops(h.triangles[0], n), _euler(h.triangles[0], n)
    for i in range(h.n_levels):
        tri, n = h.triangles[i + 1], h.n_vertices[i + 1]
        coarse_boundary = np.unique(boundary_edges(tri))  # raises on a non-manifold edge
        assert len(np.unique(tri)) == n  # no vertex left without a face
        assert _boundary_loops(tri, n) == loops and _euler(tri, n) == euler
        fine_boundary = boundary_edges(h.triangles[i])
        assert np.isin(h.down[i].indices[coarse_boundary], fine_boundary).all()


def test_coarse_faces_are_not_flipped(built):
    """Every face of every level faces the way the input surface does at its corners."""
    vertices, h = built
    rest = trimesh.Trimesh(vertices, h.triangles[0], process=False).vertex_normals
    ids = np.arange(len(vertices))
    for level in range(1, h.n_levels + 1):
        ids = ids[h.down[level - 1].indices]
        p = vertices[ids][h.triangles[level]]  # (T, 3, 3)
        normals = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        surface = rest[ids][h.triangles[level]].sum(axis=1)
        assert np.all(np.einsum("ij,ij->i", normals, surface) > 0)


def test_flat_regions_decimate_evenly():
    """Where every collapse costs nothing, the regulariser still spreads the kept vertices."""
    vertices, triangles = MESHES["grid"]
    h = build_hierarchy(vertices, triangles, factors=(4, 4))
    for points in _level_vertices(vertices, h)[1:]:
        blocks = np.minimum(points[:, :2] // 25.0, 3).astype(int)  # 4 x 4 blocks of 25 mm
        counts = np.bincount(blocks[:, 0] * 4 + blocks[:, 1], minlength=16)
        assert counts.max() < 2 * counts.min(), counts


@pytest.mark.parametrize("level, tolerance", [(1, 0.01), (2, 0.05)])
def test_coarse_geometry_stays_close(built, level, tolerance):
    """Symmetric Hausdorff distance to the input, relative to the bounding-box diagonal."""
    vertices, h = built
    fine = trimesh.Trimesh(vertices, h.triangles[0], process=False)
    coarse = trimesh.Trimesh(_level_vertices(vertices, h)[level], h.triangles[level], process=False)
    samples = np.vstack([coarse.triangles_center, coarse.vertices[coarse.edges_unique].mean(1)])
    to_fine = trimesh.proximity.closest_point(fine, samples)[1].max()
    to_coarse = trimesh.proximity.closest_point(coarse, vertices)[1].max()
    assert max(to_fine, to_coarse) < tolerance * np.linalg.norm(np.ptp(vertices, axis=0))


def test_to_torch_matches_scipy(built):
    _, h = built
    t = h.to_torch()
    for i in range(h.n_levels):
        assert t.down[i].is_sparse and t.up[i].dtype == torch.float32
        np.testing.assert_array_equal(t.down[i].to_dense().numpy(), h.down[i].toarray())
        np.testing.assert_array_equal(t.up[i].to_dense().numpy(), h.up[i].toarray())
    assert all(s.dtype == torch.int64 for s in t.spirals)


def test_decimate_keeps_sorted_original_ids():
    result = decimate(SPHERE.vertices, SPHERE.faces, factor=4)
    assert np.all(np.diff(result.kept) > 0) and result.kept.dtype == np.int64
    assert len(result.kept) == int(np.ceil(len(SPHERE.vertices) / 4))


def test_inconsistent_winding_is_rejected():
    faces = np.array(SPHERE.faces)
    faces[0] = faces[0, ::-1]
    with pytest.raises(ValueError, match="oriented manifold"):
        build_hierarchy(SPHERE.vertices, faces)


def test_too_many_levels_is_rejected():
    with pytest.raises(ValueError, match="level 0 .* fewer factors"):
        build_hierarchy(np.eye(3), np.array([[0, 1, 2]]), factors=(4,))


def _template(subdivisions: int = 3) -> Template:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=80.0)
    faces = np.hstack([mesh.faces, -np.ones((len(mesh.faces), 1), int)]).astype(np.int32)
    return Template(vertices=mesh.vertices.astype(np.float32), faces=faces,
                    uvs=np.zeros((0, 2), np.float32), face_uvs=np.full_like(faces, -1))


def _assert_same(a: MeshHierarchy, b: MeshHierarchy) -> None:
    assert a.n_vertices == b.n_vertices
    for x, y in zip(a.triangles + a.spirals, b.triangles + b.spirals):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a.down + a.up, b.down + b.up):
        assert x.dtype == y.dtype and (x != y).nnz == 0


def test_cache_hit_and_new_entry_per_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFORGE_CACHE", str(tmp_path))
    template = _template()
    first = load_or_build_hierarchy(template, factors=(4, 4))
    files = list((tmp_path / "hierarchy").glob("*.npz"))
    assert len(files) == 1 and template.topology_hash() in files[0].name

    def no_build(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(hierarchy_module, "build_hierarchy", no_build)
    _assert_same(first, load_or_build_hierarchy(template, factors=(4, 4)))
    monkeypatch.undo()
    monkeypatch.setenv("FACEFORGE_CACHE", str(tmp_path))
    other = load_or_build_hierarchy(template, factors=(4, 4), spiral_length=12)
    assert other.spirals[0].shape[1] == 12
    assert len(list((tmp_path / "hierarchy").glob("*.npz"))) == 2


def test_unreadable_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFORGE_CACHE", str(tmp_path))
    template = _template(2)
    built = load_or_build_hierarchy(template, factors=(4,))
    (entry,) = (tmp_path / "hierarchy").glob("*.npz")
    save_npz_atomic(entry, n_vertices=np.array([1, 2]))  # readable, but not a hierarchy
    _assert_same(built, load_or_build_hierarchy(template, factors=(4,)))
    _assert_same(built, MeshHierarchy.load(entry))
