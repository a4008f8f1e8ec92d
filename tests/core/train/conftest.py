"""Tiny real synthetic data and tiny WSDF settings, so the whole folder runs in ~a minute."""
import pytest

from faceforge.core.data.synth.generate import SynthConfig, generate


@pytest.fixture(scope="session")
def tiny_data():
    """8 subjects x 6 expressions (neutral + 5 categories) of the 3260-vertex head, seed 0."""
    return generate(SynthConfig(subjects=8, per_subject=6, seed=0))


@pytest.fixture(scope="session")
def tiny_model():
    """A WSDFConfig small enough to train a step in a few ms."""
    from faceforge.core.models.wsdf import WSDFConfig

    return WSDFConfig(id_dim=6, exp_dim=6, channels=(8, 16, 16), factors=(4.0, 4.0), res_blocks=1,
                      coupled_dim=24, generator_hidden=(24,))


@pytest.fixture
def tiny_config(tiny_model):
    """2 subjects x 3 scans per batch; 2 of the 8 subjects are held out."""
    from faceforge.core.train.config import LossConfig, TrainConfig

    return TrainConfig(model=tiny_model, loss=LossConfig(mi=1.0), subjects_per_batch=2,
                       samples_per_subject=3, lr=1e-3, steps=12, eval_every=0,
                       checkpoint_every=0, log_every=1, test_fraction=0.25, seed=0)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine OpenMP
    barriers waiting for a descheduled thread cost milliseconds per op."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
