import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from faceforge.core.data.stats import STD_FLOOR, NormStats, compute_stats, split_dataset, subject_split


@pytest.mark.parametrize("chunk", [1, 5, 18, 1000])
def test_streaming_stats_equal_numpy_on_a_memmap(dataset, tmp_path, chunk):
    np.save(tmp_path / "v.npy", dataset.vertices + np.float32(1000))  # std << |mean|
    vertices = np.load(tmp_path / "v.npy", mmap_mode="r")
    stats = compute_stats(vertices, chunk=chunk)
    whole = np.asarray(vertices, np.float64)
    assert stats.mean.dtype == stats.std.dtype == np.float32 and stats.mean.shape == (162, 3)
    np.testing.assert_allclose(stats.mean, whole.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats.std, whole.std(axis=0), rtol=1e-5)


def test_normalize_round_trip_numpy_and_torch(dataset):
    stats = compute_stats(dataset.vertices)
    z = stats.normalize(dataset.vertices)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(stats.denormalize(z), dataset.vertices, atol=1e-4)
    x = torch.as_tensor(dataset.vertices, dtype=torch.float64)
    zt = stats.normalize(x)
    assert isinstance(zt, torch.Tensor) and zt.dtype == torch.float64
    torch.testing.assert_close(stats.denormalize(zt), x)
    np.testing.assert_allclose(stats.normalize(dataset.vertices[0]), z[0])  # (N, 3) works too


def test_std_floor():
    stats = compute_stats(np.ones((4, 5, 3), np.float32))
    assert (stats.std == np.float32(STD_FLOOR)).all()
    assert np.isfinite(stats.normalize(np.zeros((5, 3), np.float32))).all()


def test_dict_round_trip_through_json_and_safetensors(dataset, tmp_path):
    stats = compute_stats(dataset.vertices)
    via_json = NormStats.from_dict(json.loads(json.dumps({k: v.tolist() for k, v in stats.to_dict().items()})))
    save_file(stats.to_dict(), tmp_path / "norm.safetensors")
    via_safetensors = NormStats.from_dict(load_file(tmp_path / "norm.safetensors"))
    via_torch = NormStats.from_dict({k: torch.as_tensor(v) for k, v in stats.to_dict().items()})
    for other in (via_json, via_safetensors, via_torch):
        np.testing.assert_array_equal(other.mean, stats.mean)
        np.testing.assert_array_equal(other.std, stats.std)


def test_bad_stats():
    with pytest.raises(ValueError, match=r"\(N, 3\), got \(4, 2\)"):
        NormStats(np.zeros((4, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="M >= 1"):
        compute_stats(np.zeros((0, 4, 3), np.float32))


def test_subject_split_is_disjoint_and_deterministic():
    ids = np.array([f"p{i}" for i in range(40)])
    train, test = subject_split(np.repeat(ids, 3), test_fraction=0.2, seed=1)
    assert len(test) == 8 and not set(train) & set(test) and set(train) | set(test) == set(ids)
    again = subject_split(ids[::-1], test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(again[1], test)
    assert list(subject_split(ids, test_fraction=0.2, seed=2)[1]) != list(test)
    grown = subject_split(np.append(ids, ["new1", "new2"]), test_fraction=0.2, seed=1)[1]
    assert len(set(grown) & set(test)) >= 6  # adding subjects moves few of the existing ones
    assert len(subject_split(ids[:2], 0.01)[1]) == 1 and len(subject_split(ids, 0)[1]) == 0
    with pytest.raises(ValueError, match="at least 2 subjects"):
        subject_split(ids[:1], 0.1)


def test_split_dataset(dataset):
    train, test = split_dataset(dataset, test_fraction=0.34, seed=0)
    assert len(train) + len(test) == len(dataset) and len(test.subjects()) == 2
    assert not set(train.subject) & set(test.subject)
    for part in (train, test):
        rows = np.searchsorted(dataset.subjects(), part.subjects())
        np.testing.assert_array_equal(part.subject_table["age"], dataset.subject_table["age"][rows])
        assert part.extras["arkit"].shape == (len(part), 52)
        part.validate()
