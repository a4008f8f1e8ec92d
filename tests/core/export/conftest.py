"""Real test data for the exporters and the third-party readers that check their files.

The rig is the hm08 head with its 52 MakeHuman ARKit shapes, a 300-frame (10 s at 30 fps)
timeline, and one identity keyframe (a broader nose and chin) as an extra shape. Every reader runs
in a subprocess; a reader that is missing fails the test with the command that installs it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CLIENTS = Path(__file__).parent / "clients"
INSTALL = "run `bash packaging/install.sh` from the repository root"
FPS, FRAMES = 30.0, 300
# Seconds at which readers evaluate the animation: on keys, between keys, and the last key.
SAMPLE_TIMES = (0.0, 0.05, 1.0, 4.31, 8.0, 9.9, (FRAMES - 1) / FPS)
IDENTITY_TARGETS = {"nose-flaring-incr": 1.0, "nose-greek-incr": 0.6, "chin-bones-incr": 0.8}


def expected_weights(rig, t: float) -> np.ndarray:
    """(S + I,) weights of every exported channel at time `t`, linear between keys."""
    anim = rig.animation
    cols = np.concatenate([anim.weights, anim.identity_weights], axis=1)
    return np.array([np.interp(t, anim.times, c) for c in cols.T])


def expected_offsets(rig) -> tuple[list[str], np.ndarray]:
    """Shape names (rig then identity) and their (S + I, N, 3) float64 mm offsets."""
    neutral = rig.neutral.astype(np.float64)
    shapes = {**rig.shapes, **rig.animation.identity_shapes}
    return list(shapes), np.stack([v.astype(np.float64) - neutral for v in shapes.values()])


@pytest.fixture(scope="session")
def rig(head):
    """The head with 52 ARKit shapes, a 300-frame animation and one identity keyframe."""
    from faceforge.core.data.synth.assets import ARKIT_UNITS
    from faceforge.core.export import Animation, Rig

    t = head.template
    neutral = t.vertices
    times = np.arange(FRAMES) / FPS
    rng = np.random.default_rng(7)
    freq, phase = rng.uniform(0.1, 0.8, len(ARKIT_UNITS)), rng.uniform(0, 2 * np.pi, len(ARKIT_UNITS))
    weights = np.clip(1.2 * (0.5 - 0.5 * np.cos(2 * np.pi * freq * times[:, None] + phase)) - 0.1, 0, 1)
    other = neutral + sum(w * head.targets[k] for k, w in IDENTITY_TARGETS.items())
    animation = Animation(FPS, times, weights.astype(np.float32), identity_shapes={"identity_1": other},
                          identity_weights=np.linspace(0, 1, FRAMES, dtype=np.float32)[:, None])
    return Rig.from_offsets(t, neutral, head.arkit, ARKIT_UNITS, animation=animation, name="face")


@pytest.fixture(scope="session")
def exports(rig, tmp_path_factory):
    """The rig exported once: FBX 7400 in mm, FBX 7500 in cm with ICT names, and a GLB."""
    from faceforge.core.export import ExportOptions, export

    folder = tmp_path_factory.mktemp("exports")
    files = {
        "fbx": (folder / "head.fbx", ExportOptions()),
        "fbx75": (folder / "head75.fbx", ExportOptions(fbx_version=7500, units="cm", naming="ict")),
        "glb": (folder / "head.glb", ExportOptions()),
    }
    for path, options in files.values():
        export(rig, path, options)
    return files


def run_client(args: list[str], what: str, hint: str) -> str:
    """Run a reader; fail (never skip) with `hint` when it is missing, and with its stderr when it fails."""
    if shutil.which(args[0]) is None:
        pytest.fail(f"{what} is not installed ({args[0]} not found): {hint}")
    done = subprocess.run(args, capture_output=True, text=True, cwd=CLIENTS, timeout=600)
    if "ModuleNotFoundError" in done.stderr or "Cannot find package" in done.stderr:
        pytest.fail(f"{what} is not installed: {hint}\n{done.stderr[-2000:]}")
    if done.returncode != 0:
        pytest.fail(f"{what} failed on the file (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout


def run_python_client(script: str, *args: str, what: str, package: str) -> dict:
    """Run clients/`script` with this Python; it prints one JSON object."""
    out = run_client([sys.executable, str(CLIENTS / script), *args], what,
                     f"{INSTALL} (or `pip install {package}`)")
    return json.loads(out)


def run_node_client(script: str, *args: str, what: str) -> dict:
    """Run clients/`script` under Node; the npm packages come from clients/package-lock.json."""
    if not (CLIENTS / "node_modules" / "three").is_dir() or not (CLIENTS / "node_modules" / "gltf-validator").is_dir():
        pytest.fail(f"{what} is not installed: {INSTALL} (or `npm ci` in {CLIENTS})")
    out = run_client(["node", str(CLIENTS / script), *args], what,
                     f"{INSTALL} (it installs Debian's nodejs and npm when missing)")
    return json.loads(out)


class Tools:
    """What the tests use from this file (test modules can't import conftest under importlib mode)."""

    clients = CLIENTS
    install = INSTALL
    fps, frames, sample_times = FPS, FRAMES, SAMPLE_TIMES
    run = staticmethod(run_client)
    python = staticmethod(run_python_client)
    node = staticmethod(run_node_client)
    weights = staticmethod(expected_weights)
    offsets = staticmethod(expected_offsets)


@pytest.fixture(scope="session")
def tools() -> type[Tools]:
    return Tools
