"""GUI tests: a private Xvfb display, isolated settings, and a really trained tiny model.

The display starts before pytest-qt creates the QApplication (`qapp_args` depends on it).
"""
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"
_SERVERS = []  # Xvfb processes, referenced until exit (see `xvfb`)


@pytest.fixture(scope="session")
def xvfb():
    """Start `Xvfb` on a free display number and point Qt (xcb) and VTK at it."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    for display in range(140, 180):
        if not Path(f"/tmp/.X11-unix/X{display}").exists() and not Path(f"/tmp/.X{display}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp", "-terminate"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{display}").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"Xvfb :{display} did not start")
        time.sleep(0.05)
    old = {k: os.environ.get(k) for k in ("DISPLAY", "QT_QPA_PLATFORM")}
    os.environ.update(DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb")
    # Qt and VTK abort the process when their X server goes away, so the server is never
    # killed: `-terminate` makes it exit by itself once the last client (this process) is gone.
    _SERVERS.append(proc)
    yield f":{display}"
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def qapp_args(xvfb):
    """pytest-qt builds its QApplication from these; depending on `xvfb` orders the start-up."""
    return ["faceforge-tests"]


@pytest.fixture(scope="session")
def default_model():
    """The shipped default model's folder (the test skips when this install has none)."""
    from faceforge.core.models.registry import default_model_folder

    folder = default_model_folder()
    if folder is None:
        pytest.skip("this install ships no default model")
    return folder


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_trainer):
    """(checkpoint folder, dataset): 8 subjects x 20 expressions, a tiny WSDF trained 300 steps,
    with semantics fitted and saved next to it."""
    result, _, data = tiny_trainer(tmp_path_factory.mktemp("run"), steps=300)
    return result.checkpoint, data


@pytest.fixture
def settings(tmp_path):
    """A throw-away settings file."""
    from qtpy.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """Factory: a shown MainWindow, optionally with a model loaded; closed (changes discarded) after."""
    from faceforge.app.window import MainWindow

    windows = []

    def make(model=None):
        window = MainWindow(settings)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        if model is not None:
            with qtbot.waitSignal(window.session_changed, timeout=30_000):
                window.open_model(model)
            _wait_frame(qtbot, window)
        return window

    yield make
    for window in windows:
        window.doc.dirty = False
        window.close()


def _wait_frame(qtbot, window) -> None:
    window.decoder.wait()
    window.states.comparer.wait()
    qtbot.waitUntil(lambda: not (window.decoder.busy or window.states.comparer.busy) and window.vertices is not None,
                    timeout=10_000)


@pytest.fixture
def wait_frame(qtbot):
    """wait_frame(window): wait until every requested decode (face and comparison) has been shown."""
    return lambda window: _wait_frame(qtbot, window)


@pytest.fixture
def artifact():
    """artifact(window_or_widget, name) saves tests/_artifacts/NAME.png and checks it is not blank."""
    from PIL import Image

    def save(window, name: str) -> np.ndarray:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        window.screenshot(path) if hasattr(window, "screenshot") else window.grab().save(str(path))
        pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
        assert _not_blank(pixels), f"{path} looks blank"
        return pixels

    return save


def _not_blank(pixels: np.ndarray) -> bool:
    """More than a flat fill: real content has spread and many distinct colours."""
    return pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 200
