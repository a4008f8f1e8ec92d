"""Timeline by mouse and transport: drag a key, click to scrub, interpolation, play and loop."""
import numpy as np
from qtpy.QtCore import QPoint, Qt

ROW_Y = {"identity": 4 + 13, "expression": 4 + 26 + 13}  # track row centres (TrackView: ROW_H 26)


def keyed(window, qtbot, wait_frame):
    """Identity keys at 0 s (the start face) and 1 s (direction 1 at 2 std devs); 2 s at 10 fps."""
    tl = window.timeline
    tl.duration.setValue(2.0)
    tl.fps.setValue(10)
    tl.add_key("identity")
    tl.set_time(1.0)
    window.identity.axes.sliders["axis0"].setValue(2.0)
    tl.add_key("identity")
    wait_frame(window)
    return tl


def test_drag_a_key_and_click_to_scrub(make_window, trained, qtbot, wait_frame):
    window = make_window(trained[0])
    tl = keyed(window, qtbot, wait_frame)
    view = tl.view
    y = ROW_Y["identity"]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(1.0)), y))
    for t in (1.2, 1.4, 1.5):
        qtbot.mouseMove(view, QPoint(round(view.x_of(t)), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(1.5)), y))
    assert window.doc.state.identity.times == [0.0, 1.5]
    window.undo_action.trigger()  # the whole drag is one step
    assert window.doc.state.identity.times == [0.0, 1.0]
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(0.5)), ROW_Y["expression"]))
    assert tl.time == 0.5 and "frame 5" in tl.clock.text()
    wait_frame(window)
    s = window.doc.state
    np.testing.assert_allclose(window.vertices, window.session.decode(*s.sample(0.5))[0], atol=1e-4)


def test_interpolation_choice_changes_the_in_between_frames(make_window, trained, qtbot, wait_frame):
    window = make_window(trained[0])
    tl = keyed(window, qtbot, wait_frame)
    first, last = (k.code for k in window.doc.state.identity.keys)
    np.testing.assert_allclose(window.doc.state.sample(0.25)[0], 0.75 * first + 0.25 * last, atol=1e-5)
    tl.interp["identity"].setCurrentText("step")
    assert window.doc.state.identity.interpolation == "step"
    np.testing.assert_allclose(window.doc.state.sample(0.9)[0], first, atol=1e-6)
    tl.interp["identity"].setCurrentText("smooth")
    smooth = window.doc.state.sample(0.25)[0]
    assert np.abs(smooth - first).max() < np.abs(0.25 * (last - first)).max()  # eases in
    window.undo_action.trigger()
    assert tl.interp["identity"].currentText() == "step"  # the combo follows the document


def test_play_loops_or_stops_at_the_end(make_window, trained, qtbot, wait_frame):
    window = make_window(trained[0])
    tl = keyed(window, qtbot, wait_frame)
    tl.duration.setValue(0.3)
    times = []
    tl.time_changed.connect(times.append)
    tl.set_time(0.0)
    tl.toggle_play()
    qtbot.waitUntil(lambda: any(b < a for a, b in zip(times, times[1:])), timeout=5_000)  # wrapped to 0
    tl.toggle_play()
    assert not tl.timer.isActive()
    tl.loop.setChecked(False)
    tl.set_time(0.0)
    tl.toggle_play()
    qtbot.waitUntil(lambda: not tl.play_button.isChecked(), timeout=5_000)
    assert tl.time == 0.3 and not tl.timer.isActive()


def test_frame_rate_clicks_merge_into_one_undo_step(make_window, trained, qtbot):
    window = make_window(trained[0])
    fps = window.timeline.fps
    before = window.doc.state.fps
    fps.setFocus()
    for _ in range(3):
        fps.stepUp()
    fps.editingFinished.emit()
    assert window.doc.state.fps == before + 3
    window.undo_action.trigger()
    assert window.doc.state.fps == before
