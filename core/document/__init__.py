"""The editable document: state, keyframe tracks, undo history, project files, autosave.

Plain data and no Qt: the app's widgets observe `Document.events` and edit through
`Document.edit`.
"""
from .document import Document
from .errors import ProjectError, ProjectWriteError
from .project import SUFFIX, Project, check_sizes, open_project, save_project
from .state import State
from .tracks import INTERPOLATIONS, Keyframe, Track

__all__ = ["INTERPOLATIONS", "SUFFIX", "Document", "Keyframe", "Project", "ProjectError", "ProjectWriteError",
           "State", "Track", "check_sizes", "open_project", "save_project"]
