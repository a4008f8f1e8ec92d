"""`faceforge train` and `faceforge eval` as a user runs them (in-process)."""
import json

import pytest

from faceforge.app.cli import main
from faceforge.core.data.packed import write_packed
from faceforge.core.train.checkpoint import read_trainer_info


@pytest.fixture(scope="module")
def packed(tiny_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "data"
    write_packed(tiny_data, folder)
    return folder


def write_config(path, tiny_model, extra=""):
    model = ", ".join(f"{k}: {v}" for k, v in tiny_model.to_dict().items())
    path.write_text(f"model: {{{model}}}\nsubjects_per_batch: 2\nsamples_per_subject: 3\n"
                    f"test_fraction: 0.25\nseed: 3\neval_every: 0\ncheckpoint_every: 0\n{extra}")
    return path


def test_train_then_eval(packed, tiny_model, tmp_path, capsys):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_model)
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--data", str(packed), "--out", str(run),
                 "--steps", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "finished at step 3" in out and "semantic controls fitted on 6 training subjects" in out
    assert (run / "checkpoint" / "semantics.safetensors").is_file()
    assert read_trainer_info(run)["step"] == 3
    assert main(["train", "--config", str(cfg), "--data", str(packed), "--out", str(run),
                 "--steps", "5"]) == 0  # resumes
    assert read_trainer_info(run)["step"] == 5

    assert main(["eval", "--model", str(run), "--data", str(packed)]) == 0
    out = capsys.readouterr().out
    for name in ("E_avd", "E_id", "E_exp", "E_neu", "mean", "median", "2 subjects, 12 meshes"):
        assert name in out
    doc = json.loads((run / "eval.json").read_text())
    assert doc["split"]["seed"] == 3 and doc["step"] == 5 and doc["counts"]["e_avd"] == 12
    assert doc["test_subjects"] == read_trainer_info(run)["split"]["test_subjects"]
    assert set(doc["metrics"]) == {f"{m}_{s}" for m in ("e_avd", "e_id", "e_exp", "e_neu")
                                   for s in ("mean", "median")}
    # the checkpoint folder itself works too, and the report still lands in the run folder
    assert main(["eval", "--model", str(run / "checkpoint"), "--data", str(packed)]) == 0
    assert not (run / "checkpoint" / "eval.json").exists()

    # bench model: the same held-out numbers, the recorded training time, into a report section
    report = tmp_path / "BENCHMARKS.md"
    assert main(["bench", "model", "--model", str(run), "--runs", str(run), "--data", str(packed),
                 "--report", str(report)]) == 0
    rows = [r for r in report.read_text().splitlines() if r.startswith("| `")]
    m = doc["metrics"]
    assert len(rows) == 2 and rows[0] == rows[1]
    assert " / ".join(f"{m[k + '_mean']:.3f}" for k in ("e_avd", "e_id", "e_exp", "e_neu")) in rows[0]
    minutes = read_trainer_info(run)["seconds"] / 60
    assert f"| 5 | {minutes:.1f} min |" in rows[0] and "2 subjects, 12 meshes" in rows[0]


def test_bad_config_key_is_reported_not_raised(packed, tiny_model, tmp_path, capsys):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_model, extra="learning_rate: 0.1\n")
    assert main(["train", "--config", str(cfg), "--data", str(packed), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'learning_rate'" in err and "lr" in err


def test_eval_of_a_folder_without_a_model(packed, tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path), "--data", str(packed)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_semantics_command_refits_a_model(packed, tiny_model, tmp_path, capsys):
    cfg = write_config(tmp_path / "cfg.yaml", tiny_model)
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--data", str(packed), "--out", str(run),
                 "--steps", "2"]) == 0
    (run / "checkpoint" / "semantics.safetensors").unlink()
    assert main(["semantics", "--model", str(run), "--data", str(packed)]) == 0
    assert "semantic controls fitted" in capsys.readouterr().out
    assert (run / "checkpoint" / "semantics.safetensors").is_file()


def test_a_killed_training_resumes_to_the_same_weights(packed, tiny_model, tmp_path):
    """SIGKILL at an arbitrary moment after the first checkpoint (maybe mid-write): the same
    command continues from the last complete checkpoint and ends on the uninterrupted run's weights."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.numpy import load_file

    cfg = write_config(tmp_path / "cfg.yaml", tiny_model, "checkpoint_every: 2\nthreads: 1\n")

    def command(out):
        return ["train", "--config", str(cfg), "--data", str(packed), "--out", str(out), "--steps", "40"]

    assert main(command(tmp_path / "full")) == 0
    killed = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "faceforge.app", *command(killed)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint" / "trainer.json").is_file():
        assert child.poll() is None and time.monotonic() < deadline, "no checkpoint before the end"
        time.sleep(0.01)
    time.sleep(0.05)  # a few more steps, perhaps into the next checkpoint's write
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    stopped = read_trainer_info(killed)["step"]
    assert 2 <= stopped < 40
    assert main(command(killed)) == 0
    assert read_trainer_info(killed)["step"] == 40
    a, b = (load_file(run / "checkpoint" / "weights.safetensors") for run in (tmp_path / "full", killed))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
