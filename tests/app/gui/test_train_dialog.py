"""The training dialog: validate a dataset, train a tiny model to the end, cancel/resume, load it."""
import numpy as np
import pytest

from faceforge.app.dialogs.train_form import CUSTOM, TINY_NAME, default_yaml
from faceforge.core.train.config import TrainConfig


@pytest.fixture(scope="module")
def dataset_folder(tmp_path_factory):
    """A tiny synthetic population (6 subjects x 20 meshes), packed in a folder."""
    from faceforge.core.data.packed import write_packed
    from faceforge.core.data.synth.generate import SynthConfig, generate

    folder = tmp_path_factory.mktemp("data") / "tiny"
    write_packed(generate(SynthConfig(subjects=6, per_subject=20, seed=1)), folder)
    return folder


def tiny(dialog, steps: int) -> None:
    f = dialog.form
    f.size.setCurrentText(TINY_NAME)
    f.steps.setValue(steps)
    f.k.setValue(2)
    f.m.setValue(4)
    f.lr.setValue(2e-3)
    f.id_dim.setValue(6)
    f.exp_dim.setValue(6)
    f.eval_every.setValue(10)


def scanned(qtbot, dialog, folder):
    """Check `folder` and wait for the summary. The worker starts at once, so a quick failure can
    finish before a signal wait would connect: wait for the summary text instead."""
    if dialog.data.text() != str(folder):
        dialog.data.setText(str(folder))
    dialog.scan()
    qtbot.waitUntil(lambda: not dialog.summary.text().startswith("Checking"), timeout=60_000)


def test_dataset_validation_summary(make_window, dataset_folder, tmp_path, qtbot):
    dialog = make_window().show_train_dialog()
    scanned(qtbot, dialog, dataset_folder)
    assert dialog.summary.text().startswith("6 subjects, 120 meshes, 3260 vertices")
    assert "0 problem(s)" in dialog.summary.text() and dialog.problems.toPlainText() == "no problems"
    assert not dialog.start_button.isEnabled()  # no output folder yet
    dialog.out.setText(str(tmp_path / "run"))
    assert dialog.start_button.isEnabled() and not dialog.resume_button.isEnabled()
    scanned(qtbot, dialog, tmp_path / "nothing")
    assert "Cannot use this dataset" in dialog.summary.text() and not dialog.start_button.isEnabled()
    dialog.close()


def test_presets_fill_the_form_and_an_edit_makes_it_custom(make_window):
    form = make_window().show_train_dialog().form
    shipped = TrainConfig.from_yaml(default_yaml())
    config = form.config()
    assert form.preset.currentIndex() == 0 and form.size.currentIndex() == 0
    assert (config.lr, config.steps, config.model, config.loss) == (shipped.lr, shipped.steps, shipped.model,
                                                                    shipped.loss)
    form.preset.setCurrentIndex(1)
    assert form.size.currentText() == TINY_NAME and form.config().steps == 2000
    assert form.config().model.channels == (8, 16, 16)
    form.lr.setValue(1e-3)
    assert form.preset.currentText() == CUSTOM and form.config().lr == 1e-3
    assert form.config().steps == 2000  # the preset's other fields stay
    devices = [form.device.itemText(i) for i in range(form.device.count())]
    assert devices[:2] == ["auto", "cpu"] and form.config().device == "auto"
    form.device.setCurrentText("cpu")
    assert form.config().device == "cpu"


def test_tiny_training_runs_to_the_end_and_loads(make_window, trained, dataset_folder, tmp_path, qtbot,
                                                 wait_frame, artifact):
    window = make_window(trained[0])
    dialog = window.show_train_dialog()
    scanned(qtbot, dialog, dataset_folder)
    dialog.out.setText(str(tmp_path / "run"))
    tiny(dialog, 40)
    beats = []
    heartbeat = _heartbeat(beats)
    with qtbot.waitSignal(dialog.finished_run, timeout=180_000) as done:
        dialog.start_button.click()
        assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    heartbeat.stop()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    result = done.args[0]
    assert not result.cancelled and result.step == 40
    assert dialog.progress.value() == 40 and "finished" in dialog.eta.text()
    assert len(dialog.steps) == 40 and np.isfinite(dialog.curves["rec"][1]).all()
    steps, e_avd = dialog.evals["e_avd_mean"]
    assert steps == [10, 20, 30, 40] and np.isfinite(e_avd).all()
    assert max(np.diff(beats)) < 1.0  # the GUI kept handling events (seconds between beats)
    assert (result.checkpoint / "semantics.safetensors").is_file()
    artifact(dialog, "train_dialog_finished")
    assert dialog.load_button.isEnabled()
    with qtbot.waitSignal(window.session_changed, timeout=30_000):
        dialog.load_button.click()
    wait_frame(window)
    assert window.session.folder == result.checkpoint and window.session.model.id_dim == 6
    assert window.session.semantics is not None and window.identity.attributes.sliders
    assert window.session.model.metadata["train"]["step"] == 40


def test_cancel_writes_checkpoint_and_resume_finishes(make_window, dataset_folder, tmp_path, qtbot):
    dialog = make_window().show_train_dialog()
    scanned(qtbot, dialog, dataset_folder)
    dialog.out.setText(str(tmp_path / "run"))
    tiny(dialog, 400)
    dialog.form.eval_every.setValue(0)
    with qtbot.waitSignal(dialog.finished_run, timeout=180_000) as done:
        dialog.start_button.click()
        qtbot.waitUntil(lambda: len(dialog.steps) >= 3, timeout=60_000)
        dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    stopped = done.args[0]
    assert stopped.cancelled and 3 <= stopped.step < 400 and (stopped.checkpoint / "config.json").exists()
    assert dialog.resume_button.isEnabled()
    dialog.form.steps.setValue(stopped.step + 5)
    dialog.form.lr.setValue(1e-3)  # resuming trains on with the run's own settings
    with qtbot.waitSignal(dialog.finished_run, timeout=180_000) as done:
        dialog.resume_button.click()
    assert dialog.form.lr.value() == 2e-3 and dialog.form.preset.currentText() == CUSTOM
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert not done.args[0].cancelled and done.args[0].step == stopped.step + 5
    assert dialog.steps[-5:] == list(range(stopped.step + 1, stopped.step + 6))


def _heartbeat(beats):
    import time

    from qtpy.QtCore import QTimer

    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    return timer


def test_a_training_error_comes_back_typed(make_window, dataset_folder, tmp_path, qtbot):
    from faceforge.core.errors import TrainingError

    dialog = make_window().show_train_dialog()
    scanned(qtbot, dialog, dataset_folder)
    taken = tmp_path / "run"
    taken.write_text("a file where the run folder should go")
    dialog.out.setText(str(taken))
    tiny(dialog, 5)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=180_000)
    assert dialog.result is None and dialog.eta.text() == "failed"
    assert dialog.error_box.windowTitle() == "Training failed" and str(taken) in dialog.error_box.text()
    assert dialog.start_button.isEnabled() and not dialog.load_button.isEnabled()
    error = TrainingError("FileExistsError", "detail", "log")
    assert isinstance(error, RuntimeError) and str(error) == "detail"


def test_a_killed_training_process_is_reported(make_window, dataset_folder, tmp_path, qtbot):
    import os
    import signal

    dialog = make_window().show_train_dialog()
    scanned(qtbot, dialog, dataset_folder)
    dialog.out.setText(str(tmp_path / "run"))
    tiny(dialog, 400)
    dialog.form.eval_every.setValue(0)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: len(dialog.steps) >= 2, timeout=180_000)
    os.kill(dialog.job.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert dialog.result is None and dialog.eta.text() == "failed"
    assert "ended unexpectedly (killed by signal SIGKILL)" in dialog.error_box.text()
    assert dialog.start_button.isEnabled()
