"""Autosave slots: atomic writes, OS locks between windows and processes, recovery, damage."""
import subprocess
import sys
import textwrap

import pytest

from faceforge.core.document import AutosaveSlot, Project, State, Track, recoverable


def project(value: float = 1.0) -> Project:
    state = State.zeros(3, 2, 1).replace(z_id=[value, 2, 3], identity=Track().with_key(0.5, [1, 2, 3]))
    return Project("/models/a", state, {"preset": "front"})


def test_a_live_slot_is_never_offered_and_a_released_one_is(tmp_path):
    slot = AutosaveSlot(tmp_path)
    slot.write(project(), tmp_path / "face.ffproj")
    assert slot.held and slot.path.is_file() and not list(tmp_path.glob("*.tmp"))
    assert recoverable(tmp_path) == []  # its owner is alive (another open file: the lock conflicts)
    slot.release()  # the owner is gone, its files stay (what a crash leaves)
    (found,) = recoverable(tmp_path)
    assert found.slot.name == slot.name and found.error is None and found.source == tmp_path / "face.ffproj"
    assert found.project.state.changed_fields(project().state) == set() and found.project.view == {"preset": "front"}
    assert recoverable(tmp_path) == []  # claimed by the first finder: offered once
    found.slot.remove()
    assert list(tmp_path.iterdir()) == []


def test_windows_have_their_own_files_and_clear_keeps_the_lock(tmp_path):
    a, b = AutosaveSlot(tmp_path), AutosaveSlot(tmp_path)
    a.write(project(1.0), None)
    b.write(project(7.0), None)
    assert a.path != b.path and recoverable(tmp_path) == []
    a.clear()  # saved: nothing to recover, the slot stays ours
    assert not a.path.exists() and a.held and b.path.exists()
    a.release()
    assert recoverable(tmp_path) == [] and not (tmp_path / f"{a.name}.lock").exists()  # stale lock tidied
    b.remove()
    assert list(tmp_path.iterdir()) == []


def test_damaged_autosave_is_reported_not_raised(tmp_path):
    (tmp_path / "123-deadbeef.ffproj").write_bytes(b"\x00\xffnot json")
    (found,) = recoverable(tmp_path)
    assert found.project is None and "not a FaceForge project" in str(found.error)
    assert found.source is None
    found.slot.remove()


def test_newest_first(tmp_path):
    import os

    slots = [AutosaveSlot(tmp_path) for _ in range(3)]
    for i, slot in enumerate(slots):
        slot.write(project(float(i)), None)
        os.utime(slot.path, (1000 + i, 1000 + i))
        slot.release()
    found = recoverable(tmp_path)
    assert [r.slot.name for r in found] == [s.name for s in slots[::-1]]
    for r in found:
        r.slot.release()


def test_a_killed_process_leaves_a_recoverable_autosave(tmp_path):
    """A real crash: the OS drops the lock of a killed process; alive, its autosave is untouchable."""
    script = textwrap.dedent(f"""
        import sys, time
        from faceforge.core.document import AutosaveSlot, Project, State
        slot = AutosaveSlot({str(tmp_path)!r})
        slot.write(Project(None, State.zeros(2, 2).replace(z_id=[4, 5]), {{}}), None)
        print(slot.name, flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        name = proc.stdout.readline().strip()
        assert name and recoverable(tmp_path) == []
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()
    (found,) = recoverable(tmp_path)
    assert found.slot.name == name and found.project.state.z_id.tolist() == [4, 5]
    found.slot.remove()


def test_write_refuses_a_slot_held_elsewhere(tmp_path):
    from faceforge.core.document import ProjectError

    a = AutosaveSlot(tmp_path)
    a.write(project(), None)
    with pytest.raises(ProjectError, match="another FaceForge window"):
        AutosaveSlot(tmp_path, a.name).write(project(), None)
    a.remove()
