"""`faceforge` as a user starts it (gui.run, a fresh process and settings): the shipped default
model, a face, no dialog in the way."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CLIENT = Path(__file__).parent / "clients" / "first_launch.py"
ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"


def test_first_launch_opens_the_default_model_with_a_face_and_no_dialog(qapp, default_model, tmp_path):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "first_launch.png"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))  # no settings yet: a first launch
    done = subprocess.run([sys.executable, str(CLIENT), str(shot)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(seen["folder"]) == default_model and seen["dialogs"] == []
    assert seen["vertices"] == 3260 and "3260 vertices" in seen["status"] and "decode" in seen["status"]
    assert min(seen["extent"]) > 50  # mm: a head
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 200  # not blank
