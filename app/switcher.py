"""Model switcher: show another checkpoint and carry the document over to it.

An untouched document (no unsaved changes, no file) simply starts over on the new model.
Otherwise `core.document.carry_over` decides what survives: another template topology resets
the codes and keyframes, the same topology keeps every part whose latent size matches. The
switch is one undoable step (undo goes back to the previous model and face); when unsaved
work would be reset the user is asked first. The outcome goes to the status bar, and a reset
to the non-blocking notice bar as well.
"""
from __future__ import annotations

from qtpy.QtWidgets import QMessageBox

from faceforge.core.document import Carry, carry_over

from . import files
from .session import Session

TOPIC = "model"  # the notice bar's topic of switch notices (dismissed by the next model change)


def switch_to(window, session: Session) -> bool:
    """Show `session` in `window`, carrying the document over; False when the user cancelled."""
    old, doc = window.session, window.doc
    if old is None or (not doc.dirty and doc.path is None):
        window.set_session(session)
        return True
    carry = carry_over(doc.state, session.new_state(), old.topology == session.topology, old.arkit_units,
                       session.arkit_units)
    if not carry.lossless and doc.dirty and not _confirm(window, old, session, carry):
        window.statusBar().showMessage(f"Kept model {old.name}; {session.name} was not opened", 8000)
        return False
    window.switch_session(session, carry.state, f"Switch to model {session.name}")
    text = describe(old, session, carry)
    window.statusBar().showMessage(text, 15000)
    if carry.lossless:
        window.notice.dismiss(TOPIC)
    else:
        window.notice.show_notice(text, "info", topic=TOPIC)
    return True


def describe(old: Session, new: Session, carry: Carry) -> str:
    """One sentence saying what the switch from `old` to `new` did to the document."""
    if not carry.same_topology:
        return (f"Model {new.name} has another face topology ({new.n_vertices} vertices) than {old.name} "
                f"({old.n_vertices}): the document was reset (codes and keyframes). Undo (Ctrl+Z) goes back.")
    if carry.lossless:
        return f"Model {new.name}: same topology and latent sizes as {old.name}; codes and keyframes kept."
    sizes = (f"identity {old.model.id_dim} → {new.model.id_dim}, expression {old.model.exp_dim} → "
             f"{new.model.exp_dim}, {len(old.arkit_units)} → {len(new.arkit_units)} ARKit units")
    kept = ", ".join(carry.kept) or "nothing"
    return (f"Model {new.name} ({sizes}): kept {kept}; reset {', '.join(carry.reset)} to the model's "
            "defaults. Undo (Ctrl+Z) goes back.")


def _confirm(window, old: Session, new: Session, carry: Carry) -> bool:
    what = "another face topology" if not carry.same_topology else "other latent sizes"
    box = QMessageBox(QMessageBox.Icon.Question, "Switch model",
                      f"{new.name} has {what} than {old.name}: opening it resets the {', '.join(carry.reset)} "
                      "of this document (Undo brings them back).\n\nSave the project first?",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, window)
    box.setObjectName("switchModelBox")
    box.button(QMessageBox.StandardButton.Discard).setText("Switch Without Saving")
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return files.save(window)
    return answer == QMessageBox.StandardButton.Discard
