"""Off-screen rendering: PNG output, tiles, camera presets and in-place mesh updates."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image
from vtkmodules.util.numpy_support import vtk_to_numpy

from faceforge.app.offscreen import capture, new_window, render_grid, render_mesh
from faceforge.app.scene import MeshActor, make_renderer, set_camera_preset
from faceforge.core.errors import NonFiniteError, TopologyMismatchError

RADIUS = 80.0  # mm


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    """Icosphere of radius 80 mm: (N, 3) float32 vertices, (T, 3) int32 triangles."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=RADIUS)
    return mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32)


def with_nose(vertices: np.ndarray, length: float = 60.0, width: float = 0.3) -> np.ndarray:
    """Push a bump of `length` mm out of the sphere along +Z, where a face's nose is."""
    d = np.linalg.norm(vertices / RADIUS - (0.0, 0.0, 1.0), axis=1)
    out = vertices.copy()
    out[:, 2] += length * np.exp(-((d / width) ** 2))
    return out


def foreground(rgb: np.ndarray, threshold: int = 12) -> np.ndarray:
    """(H, W) bool: pixels that differ from the background of their row.

    The background is a vertical gradient, so column 0 (never covered) is the reference.
    """
    diff = np.abs(rgb.astype(int) - rgb[:, :1].astype(int)).max(-1)
    return diff > threshold


def load(path) -> np.ndarray:
    """The PNG at `path` as (H, W, 3) uint8."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def mirror_iou(mask: np.ndarray) -> float:
    """Intersection over union of a mask and its left-right mirror image."""
    flipped = mask[:, ::-1]
    return (mask & flipped).sum() / (mask | flipped).sum()


def test_render_mesh_writes_a_png_silently(sphere, tmp_path, capfd):
    path = tmp_path / "out" / "sphere.png"
    assert render_mesh(*sphere, path, size=(240, 180), preset="front") == path
    rgb = load(path)
    assert rgb.shape == (180, 240, 3)
    coverage = foreground(rgb).mean()
    assert 0.2 < coverage < 0.8
    assert [p.name for p in path.parent.iterdir()] == ["sphere.png"]  # no temp file left
    assert capfd.readouterr().err == ""  # no "bad X server connection" or other VTK noise


def test_front_view_is_mirror_symmetric_and_side_view_shows_the_nose_on_the_left(
        sphere, tmp_path):
    vertices = with_nose(sphere[0])
    front = foreground(load(render_mesh(vertices, sphere[1], tmp_path / "f.png", (200, 200),
                                        "front")))
    side = foreground(load(render_mesh(vertices, sphere[1], tmp_path / "s.png", (200, 200),
                                       "side")))
    assert mirror_iou(front) > 0.97
    assert mirror_iou(side) < 0.9
    # The thin nose stretches the silhouette's box to the left (the side camera is on +X,
    # so +Z points left) but adds little area: the mass sits right of the box centre.
    cols = np.nonzero(side.any(0))[0]
    assert np.nonzero(side)[1].mean() > (cols[0] + cols[-1]) / 2 + 5
    cols = np.nonzero(front.any(0))[0]
    assert abs(np.nonzero(front)[1].mean() - (cols[0] + cols[-1]) / 2) < 2


def test_render_grid_fills_every_tile(sphere, tmp_path):
    vertices, triangles = sphere
    meshes = [with_nose(vertices * (1.0, 1.0 + 0.1 * k, 1.0), 20.0 + 10 * k) for k in range(6)]
    path = render_grid(meshes, triangles, tmp_path / "grid.png", rows=2, cols=3, tile=(120, 100))
    rgb = load(path)
    assert rgb.shape == (200, 360, 3)
    for r in range(2):
        for c in range(3):
            tile = rgb[r * 100 + 1:(r + 1) * 100 - 1, c * 120 + 1:(c + 1) * 120 - 1]
            assert foreground(tile).mean() > 0.15, (r, c)


def test_render_grid_uses_one_zoom_for_all_tiles(sphere, tmp_path):
    vertices, triangles = sphere
    rgb = load(render_grid([vertices, vertices * 0.5], triangles, tmp_path / "g.png",
                           rows=1, cols=2, tile=(160, 160), preset="front"))
    big, small = (foreground(rgb[1:-1, c * 160 + 1:(c + 1) * 160 - 1]).sum() for c in (0, 1))
    assert small / big == pytest.approx(0.25, rel=0.1)


def test_render_grid_draws_labels_in_margins(sphere, tmp_path):
    vertices, triangles = sphere
    kwargs = dict(rows=1, cols=2, tile=(128, 128))
    plain = load(render_grid([vertices] * 2, triangles, tmp_path / "a.png", **kwargs))
    labelled = load(render_grid([vertices] * 2, triangles, tmp_path / "b.png",
                                row_labels=["subject 1"], col_labels=["neutral", "smile"],
                                **kwargs))
    grow_y, grow_x = np.subtract(labelled.shape[:2], plain.shape[:2])
    assert grow_x > 20 and grow_y > 10
    top, left = labelled[:grow_y, grow_x:], labelled[grow_y:, :grow_x]
    for margin in (top, left):  # text pixels are brighter than the flat margin colour
        assert (margin.max(-1) > 128).sum() > 20


def test_mesh_actor_update_writes_points_in_place(sphere):
    vertices, triangles = sphere
    mesh = MeshActor(vertices, triangles)
    window = new_window(160, 160)
    renderer = make_renderer(mesh)
    window.AddRenderer(renderer)
    set_camera_preset(renderer, "front", (-150, 150, -150, 150, -150, 150))
    polydata, points = mesh.polydata, mesh.polydata.GetPoints().GetData()
    before = capture(window)

    moved = with_nose(vertices * 1.3)
    mesh.update(moved)
    after = capture(window)
    window.Finalize()

    assert mesh.polydata is polydata
    assert mesh.polydata.GetPoints().GetData() is points
    np.testing.assert_array_equal(vtk_to_numpy(points), moved)
    assert mesh.bounds()[5] == pytest.approx(moved[:, 2].max())
    assert foreground(after).sum() > 1.3 * foreground(before).sum()


def test_mesh_actor_rejects_bad_vertices(sphere):
    mesh = MeshActor(*sphere)
    with pytest.raises(TopologyMismatchError):
        mesh.update(sphere[0][:-1])
    bad = sphere[0].copy()
    bad[3, 1] = np.nan
    with pytest.raises(NonFiniteError):
        mesh.update(bad)
    with pytest.raises(ValueError, match="shape"):
        MeshActor(sphere[0][:, :2], sphere[1])


def test_scalars_draw_a_heat_map(sphere, tmp_path):
    vertices, triangles = sphere
    rgb = load(render_mesh(vertices, triangles, tmp_path / "h.png", (160, 160), "front",
                           scalars=vertices[:, 1], cmap="viridis")).astype(int)
    rows = np.nonzero(foreground(rgb).any(1))[0]
    top, bottom = rgb[rows[0] + 12, 80], rgb[rows[-1] - 12, 80]
    assert top[1] > top[2]  # viridis high end: yellow-green
    assert bottom[2] > bottom[1]  # viridis low end: purple


@pytest.mark.parametrize("call, match", [
    (lambda m, t, p: render_mesh(m, t, p, preset="top"), "three_quarter"),
    (lambda m, t, p: render_grid([m] * 3, t, p, rows=1, cols=2), "1 x 2"),
    (lambda m, t, p: render_grid([m], t, p, rows=1, cols=2, col_labels=["a"]), "col_labels"),
])
def test_bad_arguments_say_what_is_valid(sphere, tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(*sphere, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
