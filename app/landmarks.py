"""Manual landmarks on a raw scan: the user clicks the template's named landmarks on the scan.

    LandmarkPicker(viewport, layer)       # layer: scanview.ScanLayer (the scan actor to pick on)
      start(names) / stop()               # while on, a click (no drag) on the scan picks a point
      pick_display(x, y) -> bool          # VTK display pixels, origin bottom-left
      add(point)                          # (3,) scan coordinates, for the `current` name
      undo() / clear()
      picks                               # name -> (3,) float64, scan coordinates, in pick order

Picked points are drawn as small spheres in the landmark's colour, placed with the scan's own
matrix so they follow it when it is aligned. Names are asked in `PICK_ORDER` (the easiest to find
first), then the template's other landmarks; `_l`/`_r` are the subject's left and right.
"""
from __future__ import annotations

import colorsys

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt, Signal
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkFiltersSources import vtkSphereSource
from vtkmodules.vtkRenderingCore import vtkActor, vtkCellPicker, vtkPointPicker, vtkPolyDataMapper

MIN_PICKS = 4  # align_from_landmarks needs at least this many
CLICK_PIXELS = 4  # a press and release closer than this is a click, not a drag
SPHERE_FRACTION = 0.008  # sphere radius as a fraction of the scan's bounding-box diagonal
PICK_ORDER = ("nose_tip", "eye_outer_corner_r", "eye_outer_corner_l", "mouth_corner_r", "mouth_corner_l",
              "chin_front", "eye_inner_corner_r", "eye_inner_corner_l", "subnasale", "nose_bridge",
              "glabella", "upper_lip_outer", "lower_lip_outer")


def pick_order(names) -> list[str]:
    """The template's landmark `names`, the easy ones of `PICK_ORDER` first."""
    names = list(names)
    return [n for n in PICK_ORDER if n in names] + [n for n in names if n not in PICK_ORDER]


def landmark_color(index: int) -> tuple[float, float, float]:
    """A bright, distinct RGB in [0, 1] for the landmark at `index` of the pick order."""
    return colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.85, 1.0)


class LandmarkPicker(QObject):
    """See the module docstring; `changed` fires after every pick, undo and clear."""

    changed = Signal()

    def __init__(self, viewport, layer):
        super().__init__()
        self.viewport, self.layer = viewport, layer
        self.names: list[str] = []
        self.picks: dict[str, np.ndarray] = {}
        self.current: str | None = None  # the name the next click is for
        self.spheres: dict[str, vtkActor] = {}
        self._active = False
        self._press: tuple[float, float] | None = None  # where the left button went down, Qt pixels

    @property
    def active(self) -> bool:
        """Clicks on the scan pick."""
        return self._active

    def start(self, names) -> None:
        """Pick for these landmark names (in this order); clicks on the scan now pick."""
        self.clear()
        self.names = list(names)
        self.current = self.names[0] if self.names else None
        if not self.active:
            self.viewport.interactor.installEventFilter(self)
            self._active = True
        self.changed.emit()

    def stop(self) -> None:
        """Clicks rotate the view again; the picks and spheres stay until `clear`."""
        self.viewport.interactor.removeEventFilter(self)
        self._active = False
        self._press = None
        self.changed.emit()

    def set_current(self, name: str) -> None:
        """Make `name` the one the next click picks (re-picking replaces its point)."""
        self.current = name
        self.changed.emit()

    def pick_display(self, x: float, y: float) -> bool:
        """Pick the scan under display pixel (x, y) for the current name; False on a miss."""
        scan = self.layer.scan
        if scan is None or self.current is None:
            return False
        polys = scan.GetMapper().GetInput().GetNumberOfPolys() > 0
        picker = vtkCellPicker() if polys else vtkPointPicker()
        picker.SetTolerance(0.0005 if polys else 0.01)
        picker.PickFromListOn()
        picker.AddPickList(scan)
        if not picker.Pick(x, y, 0.0, self.viewport.renderer):
            return False
        inverse = vtkMatrix4x4()
        vtkMatrix4x4.Invert(self.layer.matrix(), inverse)
        self.add(np.asarray(inverse.MultiplyPoint((*picker.GetPickPosition(), 1.0))[:3]))
        return True

    def add(self, point) -> None:
        """Set the current name's point, (3,) in scan coordinates, and move on to the next name."""
        name = self.current
        if name is None:
            return
        self.picks.pop(name, None)
        self.picks[name] = np.asarray(point, np.float64).reshape(3)
        self._draw(name)
        self.current = next((n for n in self.names if n not in self.picks), None)
        self.changed.emit()

    def undo(self) -> None:
        """Forget the last pick; its name is the next one to pick."""
        if self.picks:
            name = next(reversed(self.picks))
            del self.picks[name]
            self.viewport.renderer.RemoveActor(self.spheres.pop(name))
            self.current = name
            self.viewport.render()
            self.changed.emit()

    def clear(self) -> None:
        """Forget every pick."""
        for actor in self.spheres.values():
            self.viewport.renderer.RemoveActor(actor)
        self.picks, self.spheres = {}, {}
        self.current = self.names[0] if self.names else None
        self.viewport.render()
        self.changed.emit()

    def follow_scan(self) -> None:
        """Re-place the spheres after the scan's matrix changed (it was aligned)."""
        for actor in self.spheres.values():
            actor.SetUserMatrix(self.layer.matrix())
        self.viewport.render()

    def _draw(self, name: str) -> None:
        if name in self.spheres:
            self.viewport.renderer.RemoveActor(self.spheres.pop(name))
        source = vtkSphereSource()
        source.SetCenter(*self.picks[name])
        source.SetRadius(self._radius())
        source.SetThetaResolution(16)
        source.SetPhiResolution(12)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(source.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*landmark_color(self.names.index(name)))
        actor.SetUserMatrix(self.layer.matrix())
        actor.PickableOff()
        self.spheres[name] = actor
        self.viewport.renderer.AddActor(actor)
        self.viewport.render()

    def _radius(self) -> float:
        bounds = np.asarray(self.layer.scan.GetMapper().GetInput().GetBounds()).reshape(3, 2)
        return SPHERE_FRACTION * float(np.linalg.norm(bounds[:, 1] - bounds[:, 0]))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt override)
        """Watch the viewport's mouse before VTK does (its trackball style grabs the release):
        a left press and release within CLICK_PIXELS picks; the event still goes on to VTK."""
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease) \
                and event.button() == Qt.MouseButton.LeftButton:
            pos = event.position()
            if kind == QEvent.Type.MouseButtonPress:
                self._press = (pos.x(), pos.y())
            elif self._press is not None:
                if max(abs(pos.x() - self._press[0]), abs(pos.y() - self._press[1])) < CLICK_PIXELS:
                    ratio = watched.devicePixelRatioF()
                    self.pick_display(pos.x() * ratio, self.viewport.window.GetSize()[1] - pos.y() * ratio - 1)
                self._press = None
        return False
