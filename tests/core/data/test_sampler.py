import numpy as np
import pytest
import torch

from faceforge.core.data.sampler import IdentitySampler

K, M = 4, 3


@pytest.fixture
def subject_index() -> np.ndarray:
    """10 subjects with 1..19 meshes each (odd counts), shuffled."""
    index = np.repeat(np.arange(10), np.arange(1, 20, 2))
    return np.random.default_rng(1).permutation(index)


def check_batch(batch, subject_index, k=K):
    assert all(type(i) is int for i in batch) and len(batch) == k * M
    groups = np.asarray(batch).reshape(k, M)
    subjects = subject_index[groups]
    assert (subjects == subjects[:, :1]).all()
    assert len(set(subjects[:, 0])) == k
    counts = np.bincount(subject_index)
    for group, s in zip(groups, subjects[:, 0]):
        if counts[s] >= M:
            assert len(set(group)) == M  # no replacement unless the subject is short


def test_batches_hold_k_distinct_subjects_m_each(subject_index):
    sampler = IdentitySampler(subject_index, K, M, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        check_batch(batch, subject_index)
    used = np.concatenate(batches)
    used = used[np.bincount(subject_index)[subject_index[used]] >= M]
    assert len(set(used)) == len(used)  # meshes of subjects with >= M meshes: at most once per epoch


def test_uses_nearly_all_chunks(subject_index):
    sampler = IdentitySampler(subject_index, K, M)
    chunks = np.maximum(np.bincount(subject_index) // M, 1).sum()
    assert len(sampler) == chunks // K


def test_deterministic_and_epoch_dependent(subject_index):
    a, b = IdentitySampler(subject_index, K, M, seed=7), IdentitySampler(subject_index, K, M, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and len(list(a)) == len(first)
    a.set_epoch(0)
    assert list(a) == first
    assert list(IdentitySampler(subject_index, K, M, seed=8)) != first


def test_ddp_shards_are_disjoint(subject_index):
    everything = list(IdentitySampler(subject_index, K, M, seed=2))
    shards = [list(IdentitySampler(subject_index, K, M, seed=2, rank=r, world_size=3)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == len(everything) // 3
    flat = [tuple(b) for s in shards for b in s]
    assert len(set(flat)) == len(flat) and set(flat) <= {tuple(b) for b in everything}
    long_subject = np.bincount(subject_index)[subject_index] >= M
    seen = [set(np.concatenate(s)) & set(np.flatnonzero(long_subject)) for s in shards]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])


def test_keep_last_yields_smaller_distinct_batches_at_the_end(subject_index):
    sampler = IdentitySampler(subject_index, K, M, drop_last=False)
    batches = list(sampler)
    full = [b for b in batches if len(b) == K * M]
    assert batches[:len(full)] == full and len(batches) > len(full)
    for batch in batches[len(full):]:
        check_batch(batch, subject_index, k=len(batch) // M)
    shards = [list(IdentitySampler(subject_index, K, M, drop_last=False, rank=r, world_size=4)) for r in range(4)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == -(-len(batches) // 4)


def test_torch_dataloader(subject_index):
    data = torch.utils.data.TensorDataset(torch.as_tensor(subject_index))
    loader = torch.utils.data.DataLoader(data, batch_sampler=IdentitySampler(subject_index, K, M))
    batches = [b for (b,) in loader]
    assert len(batches) == len(loader) and all(b.shape == (K * M,) for b in batches)
    assert (torch.stack(batches).view(-1, K, M).diff(dim=-1) == 0).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"subjects_per_batch": 11}, "only 10 subjects"),
    ({"samples_per_subject": 0}, "must be at least 1"),
    ({"rank": 2, "world_size": 2}, "rank must be in"),
])
def test_bad_arguments(subject_index, kwargs, message):
    with pytest.raises(ValueError, match=message):
        IdentitySampler(subject_index, **{"subjects_per_batch": K, "samples_per_subject": M, **kwargs})
