"""Two CPU processes under torchrun (gloo): the same trainer, DDP, one checkpoint writer."""
import os
import subprocess
import sys

import numpy as np

from faceforge.core.data.packed import write_packed
from faceforge.core.models.wsdf import WSDFModel
from faceforge.core.train.checkpoint import read_trainer_info
from faceforge.core.train.events import read_events


def test_torchrun_two_processes(tiny_data, tiny_model, tmp_path):
    write_packed(tiny_data, tmp_path / "data")
    model = ", ".join(f"{k}: {v}" for k, v in tiny_model.to_dict().items())
    (tmp_path / "cfg.yaml").write_text(
        f"model: {{{model}}}\nloss: {{mi: 1}}\nsubjects_per_batch: 2\nsamples_per_subject: 3\n"
        "lr: 0.001\ntest_fraction: 0.25\neval_every: 0\ncheckpoint_every: 2\nlog_every: 1\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "faceforge.app", "train", "--config", str(tmp_path / "cfg.yaml"),
           "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--steps", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("finished at step 4") == 1  # only rank 0 reports
    info = read_trainer_info(tmp_path / "run")
    assert info["world_size"] == 2 and info["step"] == 4
    loaded = WSDFModel.load(tmp_path / "run" / "checkpoint")
    out = loaded.decode(np.zeros((1, 6), np.float32), np.zeros((1, 6), np.float32))
    assert out.shape == (1, tiny_data.n_vertices, 3) and np.isfinite(out).all()
    log = read_events(tmp_path / "run" / "events.jsonl")
    steps = [r for r in log if r["event"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]  # one writer: no duplicate lines
    assert steps[0]["meshes_per_s"] > 0 and log[-1]["event"] == "done"
