"""What the app remembers between runs (QSettings): recent files, window layout, autosave interval,
heat map."""
from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import QSettings

MAX_RECENT = 10  # entries per list
RECENT = {"recent/projects": "Projects", "recent/models": "Models", "recent/meshes": "Meshes"}
"""Settings key -> menu section of each recent-files list."""
AUTOSAVE_INTERVAL_S = 60.0
LAYOUT_VERSION = 1  # bump when the docks change, so an old saved layout is ignored


def app_settings() -> QSettings:
    """The user's FaceForge settings (an INI file in the user config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "FaceForge", "FaceForge")


def recent(settings: QSettings, key: str) -> list[str]:
    """Most recent first, including paths that vanished (opening one removes it with a message)."""
    value = settings.value(key, [])
    return [value] if isinstance(value, str) else list(value or [])


def add_recent(settings: QSettings, key: str, path: str | Path) -> None:
    """Put `path` first in the `key` list (at most `MAX_RECENT` entries)."""
    path = str(Path(path).resolve())
    settings.setValue(key, [path, *[p for p in recent(settings, key) if p != path]][:MAX_RECENT])


def remove_recent(settings: QSettings, key: str, path: str | Path) -> None:
    """Drop `path` from the `key` list."""
    settings.setValue(key, [p for p in recent(settings, key) if p != str(path)])


def clear_recent(settings: QSettings) -> None:
    """Empty every recent-files list."""
    for key in RECENT:
        settings.remove(key)


def autosave_interval(settings: QSettings) -> float:
    """Seconds between autosaves of unsaved changes ("autosave/interval_s", default 60, at least 1)."""
    try:
        return max(1.0, float(settings.value("autosave/interval_s", AUTOSAVE_INTERVAL_S)))
    except (TypeError, ValueError):
        return AUTOSAVE_INTERVAL_S


def heatmap(settings: QSettings) -> str:
    """What the editor's face is coloured by ("view/heatmap": one of `session.HEATMAPS`, default "none")."""
    from .session import HEATMAPS

    value = settings.value("view/heatmap", "none")
    return value if value in HEATMAPS else "none"


def restore_layout(settings: QSettings, window) -> None:
    """Give a QMainWindow its saved geometry and dock layout (nothing happens without one)."""
    geometry = settings.value("window/geometry")
    if geometry:
        window.restoreGeometry(geometry)
    state = settings.value("window/state")
    if state:
        window.restoreState(state, LAYOUT_VERSION)


def save_layout(settings: QSettings, window) -> None:
    """Remember a QMainWindow's geometry and dock layout (sizes, floating, tabs, hidden docks)."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState(LAYOUT_VERSION))


def default_model() -> Path | None:
    """The shipped default model (resources/models/default), when this install has one."""
    from faceforge.core.models.registry import default_model_folder

    return default_model_folder()


def startup_model(settings: QSettings) -> Path | None:
    """The model to open at launch: the default one, else the most recent that still exists, else None."""
    found = default_model()
    if found is not None:
        return found
    models = [p for p in recent(settings, "recent/models") if Path(p).exists()]
    return Path(models[0]) if models else None
