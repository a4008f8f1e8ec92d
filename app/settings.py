"""What the app remembers between runs (QSettings): recent models and projects, window layout."""
from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import QSettings

MAX_RECENT = 8


def app_settings() -> QSettings:
    """The user's FaceForge settings (an INI file in the user config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "FaceForge", "FaceForge")


def recent(settings: QSettings, key: str) -> list[str]:
    """Most recent first; entries whose path vanished are left out."""
    value = settings.value(key, [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [p for p in items if Path(p).exists()]


def add_recent(settings: QSettings, key: str, path: str | Path) -> None:
    """Put `path` first in the `key` list."""
    path = str(Path(path).resolve())
    settings.setValue(key, [path, *[p for p in recent(settings, key) if p != path]][:MAX_RECENT])


def default_model() -> Path | None:
    """The shipped default model (resources/models/default), when this install has one."""
    from faceforge.core.models.registry import default_model_folder

    return default_model_folder()


def startup_model(settings: QSettings) -> Path | None:
    """The model to open at launch: the default one, else the most recent, else None."""
    found = default_model()
    if found is not None:
        return found
    models = recent(settings, "recent/models")
    return Path(models[0]) if models else None
