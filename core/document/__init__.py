"""The editable document: state, keyframe tracks, undo history, project files, autosave.

Plain data and no Qt: the app's widgets observe `Document.events` and edit through
`Document.edit`.
"""
from .autosave import AutosaveSlot, Recovery, recoverable
from .document import Document
from .errors import ProjectError, ProjectWriteError
from .frames import ObjSequence, frame_times
from .project import SUFFIX, Project, check_sizes, open_project, save_project
from .snapshots import Snapshot
from .state import State
from .switch import Carry, carry_over
from .tracks import INTERPOLATIONS, Keyframe, Track

__all__ = ["INTERPOLATIONS", "SUFFIX", "AutosaveSlot", "Carry", "Document", "Keyframe", "ObjSequence", "Project",
           "ProjectError", "ProjectWriteError", "Recovery", "Snapshot", "State", "Track", "carry_over", "check_sizes",
           "frame_times", "open_project", "recoverable", "save_project"]
