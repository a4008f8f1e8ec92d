"""View ▸ Heat Map: the face coloured by each vertex's distance from the same identity's neutral face."""
import numpy as np
from qtpy.QtGui import QAction
from vtkmodules.util.numpy_support import vtk_to_numpy

from faceforge.app.window import HEAT_MIN_TOP
from faceforge.core.models.measures import distance_from_neutral


def scalars(viewport) -> np.ndarray:
    """(N,) the heat-map values on the editor's face."""
    return vtk_to_numpy(viewport.mesh.polydata.GetPointData().GetScalars())


def test_distance_from_neutral_follows_the_face_and_is_remembered(make_window, trained, wait_frame, artifact,
                                                                   settings):
    window = make_window(trained[0])
    vp, mapper = window.viewport, window.viewport.mesh.actor.GetMapper()
    assert window.heatmap == "none" and not vp.colorbar.GetVisibility()
    window.findChild(QAction, "heatmap_neutral").trigger()
    wait_frame(window)
    assert settings.value("view/heatmap") == "neutral" and window.findChild(QAction, "heatmap_neutral").isChecked()
    assert mapper.GetScalarVisibility() and vp.colorbar.GetVisibility()
    lut = mapper.GetLookupTable()
    units = window.session.arkit_units
    window.expression.forms["Jaw"].sliders[str(units.index("jawOpen"))].setValue(1.0)
    wait_frame(window)
    s = window.doc.state
    expected = distance_from_neutral(window.session.model, s.z_id, s.z_exp)
    np.testing.assert_allclose(scalars(vp), expected.distance, atol=1e-4)
    np.testing.assert_allclose(window.vertices, expected.face, atol=1e-4)
    assert scalars(vp).max() > 0.5  # mm: the jaw moved
    assert mapper.GetLookupTable() is lut  # recoloured in place
    assert mapper.GetScalarRange()[1] == max(float(scalars(vp).max()), HEAT_MIN_TOP)  # mm
    assert "neutral" in vp.colorbar.GetTitle()
    artifact(window, "heatmap_neutral")
    window.expression.neutral()
    wait_frame(window)
    assert np.abs(scalars(vp)).max() < 1e-4
    window.findChild(QAction, "heatmap_none").trigger()
    assert not mapper.GetScalarVisibility() and not vp.colorbar.GetVisibility()
    assert settings.value("view/heatmap") == "none"


def test_the_heat_map_choice_comes_back_with_the_next_window(make_window, trained, wait_frame, settings):
    settings.setValue("view/heatmap", "neutral")
    window = make_window(trained[0])
    assert window.findChild(QAction, "heatmap_neutral").isChecked()
    assert window.viewport.mesh.actor.GetMapper().GetScalarVisibility() and window.viewport.colorbar.GetVisibility()
    np.testing.assert_allclose(scalars(window.viewport), 0.0, atol=1e-4)  # the mean face, neutral
