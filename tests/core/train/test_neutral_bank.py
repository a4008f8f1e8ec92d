"""Neutral Bank: EMA (Eq. 3) and confidence alpha_K (Eq. 6) against hand-computed values."""
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load, save

from faceforge.core.train.neutral_bank import NeutralBank


def one_vertex_bank(beta=0.9):
    # 3 subjects, one vertex each; |K| = 1, 2, 4 training scans
    init = torch.tensor([[[0.0, 0, 0]], [[10.0, 0, 0]], [[0.0, 5, 0]]])
    return NeutralBank(init, [1, 2, 4], beta=beta)


def test_alpha_is_one_minus_exp_of_one_minus_count():
    bank = one_vertex_bank()
    expected = [0.0, 1 - math.exp(-1), 1 - math.exp(-3)]
    np.testing.assert_allclose(bank.alpha().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(bank.alpha(torch.tensor([2, 0])).numpy(), [expected[2], 0.0], rtol=1e-6)
    shifted = NeutralBank(torch.zeros(2, 1, 3), [3, 7], min_count=5.0)  # the official code's c = 5
    np.testing.assert_allclose(shifted.alpha().numpy(), [0.0, 1 - math.exp(-2)], rtol=1e-6)


def test_ema_update_by_hand():
    bank = one_vertex_bank(beta=0.9)
    # subject 1 twice (mean x = 20), subject 2 once; subject 0 untouched
    subjects = torch.tensor([1, 2, 1])
    recon = torch.tensor([[[18.0, 0, 0]], [[0.0, 15, 0]], [[22.0, 0, 0]]])
    bank.update(subjects, recon)
    np.testing.assert_allclose(bank.bank[:, 0].numpy(), [[0, 0, 0], [0.9 * 10 + 0.1 * 20, 0, 0],
                                                           [0, 0.9 * 5 + 0.1 * 15, 0]], rtol=1e-6)
    assert bank.seen.tolist() == [0, 2, 1] and bank.updates.tolist() == [0, 1, 1]
    bank.update(torch.tensor([1]), torch.tensor([[[0.0, 0, 0]]]))
    assert bank.bank[1, 0, 0].item() == pytest.approx(0.9 * 11.0)
    assert bank.seen.tolist() == [0, 3, 1] and bank.updates.tolist() == [0, 2, 1]


def test_sums_from_several_ranks_merge_into_one_step_per_subject():
    single, split = one_vertex_bank(), one_vertex_bank()
    subjects = torch.tensor([1, 1, 2, 1])
    recon = torch.arange(12, dtype=torch.float32).reshape(4, 1, 3)
    single.update(subjects, recon)
    a = NeutralBank.batch_sums(subjects[:2], recon[:2])  # "rank 0"
    b = NeutralBank.batch_sums(subjects[2:], recon[2:])  # "rank 1"
    pad = (torch.tensor([-1]), torch.zeros(1, 1, 3), torch.tensor([0]))  # ignored padding slot
    split.update_from_sums(*(torch.cat(parts) for parts in zip(a, pad, b)))
    torch.testing.assert_close(split.bank, single.bank)
    assert split.seen.tolist() == single.seen.tolist() == [0, 3, 1]
    assert split.updates.tolist() == [0, 1, 1]


def test_from_data_starts_at_each_subjects_mean_scan():
    vertices = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    subject_index = np.array([1, 0, 1, 1, 0])
    bank = NeutralBank.from_data(vertices, subject_index, 2, beta=0.5)
    np.testing.assert_allclose(bank.bank[0].numpy(), vertices[[1, 4]].mean(0))
    np.testing.assert_allclose(bank.bank[1].numpy(), vertices[[0, 2, 3]].mean(0))
    assert bank.count.tolist() == [2, 3]
    with pytest.raises(ValueError, match="no training scans"):
        NeutralBank.from_data(vertices, subject_index, 3)


def test_state_dict_round_trips_through_safetensors():
    bank = one_vertex_bank()
    bank.update(torch.tensor([0, 2]), torch.ones(2, 1, 3))
    state = load(save(bank.state_dict(prefix="bank/")))
    other = one_vertex_bank()
    other.load_state_dict(state, prefix="bank/")
    for k in ("bank", "count", "seen", "updates"):
        assert torch.equal(getattr(other, k), getattr(bank, k))
    with pytest.raises(ValueError, match="different training subjects"):
        NeutralBank(torch.zeros(2, 1, 3), [1, 1]).load_state_dict(state, prefix="bank/")
