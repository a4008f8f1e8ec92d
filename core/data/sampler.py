"""Identity-aware batches: K distinct subjects x M meshes each, for identity/expression losses."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..typed import IntArray


class IdentitySampler:
    """Batches of mesh indices grouped by subject; a torch DataLoader `batch_sampler`.

    Each batch is (K*M,) python ints where `batch[k*M:(k+1)*M]` are M meshes of one subject
    and the K subjects are distinct. A subject with fewer than M meshes repeats some of them;
    otherwise its meshes are drawn without replacement, and each epoch uses every subject's
    meshes in full chunks of M (a remainder of fewer than M waits for another epoch's shuffle).
    Subjects with the most chunks left are picked first (ties at random), which yields the
    most full batches. The order depends only on (seed, epoch): call `set_epoch` each epoch.

    With `world_size` > 1 every rank computes the same epoch and keeps batches
    `rank::world_size`, so the ranks' batches are disjoint and equally many.

    Parameters
    ----------
    subject_index : (L,) int, the subject of each mesh (e.g. `MeshDataset.subject_index()`)
    subjects_per_batch : K
    samples_per_subject : M
    seed : seeds the shuffle together with the epoch
    drop_last : when False, the meshes left once fewer than K subjects remain come as smaller
        batches (still distinct subjects) at the end, and ranks are evened out by repeating
        batches instead of dropping them.
    rank, world_size : DDP shard of this process
    """

    def __init__(self, subject_index: IntArray, subjects_per_batch: int, samples_per_subject: int,
                 seed: int = 0, drop_last: bool = True, rank: int = 0, world_size: int = 1):
        subject_index = np.asarray(subject_index)
        if subject_index.ndim != 1 or not np.issubdtype(subject_index.dtype, np.integer):
            raise ValueError(f"subject_index must be (L,) integers, got {subject_index.shape} {subject_index.dtype}")
        if subjects_per_batch < 1 or samples_per_subject < 1:
            raise ValueError(f"subjects_per_batch ({subjects_per_batch}) and samples_per_subject "
                             f"({samples_per_subject}) must be at least 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        order = np.argsort(subject_index, kind="stable")
        _, starts = np.unique(subject_index[order], return_index=True)
        self._groups = np.split(order, starts[1:]) if len(order) else []
        if subjects_per_batch > len(self._groups):
            raise ValueError(f"subjects_per_batch={subjects_per_batch} but the data has only "
                             f"{len(self._groups)} subjects; lower subjects_per_batch")
        self.k, self.m = subjects_per_batch, samples_per_subject
        self.seed, self.drop_last = seed, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._cached: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle of `epoch` (same on every rank)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._batches())

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def _batches(self) -> list[list[int]]:
        """This rank's batches of the current epoch (computed once per epoch)."""
        if self._cached is None or self._cached[0] != self.epoch:
            batches = self._epoch(np.random.default_rng((self.seed, self.epoch)))
            n, w = len(batches), self.world_size
            if self.drop_last:
                batches = batches[:n - n % w]
            elif n:
                batches += [batches[i % n] for i in range(-n % w)]
            self._cached = self.epoch, batches[self.rank::w]
        return self._cached[1]

    def _epoch(self, rng: np.random.Generator) -> list[list[int]]:
        """All ranks' batches of one epoch: full batches shuffled, then any smaller ones."""
        chunks = [self._chunks(g, rng) for g in self._groups]  # per subject (C_s, M)
        left = np.array([len(c) for c in chunks])
        full, tail = [], []
        while (avail := int(np.count_nonzero(left))) and (avail >= self.k or not self.drop_last):
            k = min(self.k, avail)
            pick = np.argpartition(-(left + rng.random(len(left))), k - 1)[:k]
            left[pick] -= 1
            (full if k == self.k else tail).append(
                np.concatenate([chunks[s][left[s]] for s in pick]).tolist())
        return [full[i] for i in rng.permutation(len(full))] + tail

    def _chunks(self, group: IntArray, rng: np.random.Generator) -> IntArray:
        """(C, M) shuffled chunks of one subject's indices; one padded chunk when it has < M."""
        perm = rng.permutation(group)
        if len(perm) < self.m:
            return np.concatenate([perm, rng.choice(group, self.m - len(perm))])[None]
        return perm[:len(perm) // self.m * self.m].reshape(-1, self.m)
