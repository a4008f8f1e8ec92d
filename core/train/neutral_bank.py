"""The Neutral Bank of WSDF: one EMA pseudo-neutral scan per training subject.

Li et al., "3D Face Modeling via Weakly-supervised Disentanglement Network joint
Identity-consistency Prior", Sec. III-A (Eq. 3) and Eq. 6.

CONVENTIONS: the bank holds (S, N, 3) float32 meshes in mm (the trainer normalizes a lookup
before the loss), rows aligned with the trainer's sorted training subject ids. Updates are
made with detached reconstructions; they are not part of the autograd graph.

Choices (the paper leaves them open):

- Initialisation: each row starts as the mean of that subject's training scans. That mean is
  the closed-form least-squares pseudo-neutral the paper derives just before Eq. 3 (s = mean
  X_i), i.e. the fixed point the EMA tracks for a perfect reconstructor, so the bank is
  meaningful from step 0. Initialising from the first batch of reconstructions instead would
  freeze an untrained network's output into the bank, and that bias decays only as
  beta^visits (beta = 0.99 and ~5 visits per subject and epoch: ~20 epochs to fall to 1/e).
  The data mean is also deterministic and identical on every DDP rank without communication.
  (The official code starts every subject at the global training mean; ours is closer.)
- |K| in alpha_K = 1 - exp(1 - |K|) is the number of training scans of subject K in the
  dataset (after `drop_neutral`), not the number seen so far: alpha measures how much
  expression variety the EMA can ever average over. A seen-so-far count passes 0.95 after the
  first visit of 4 samples and says nothing about variety. This matches the official code,
  which derives its confidence from dataset counts. `seen` (samples folded in so far) is
  tracked as well, for logs and checks. alpha is clamped at 0 (a subject with a single scan
  gets no neutralization target); `min_count` replaces the 1 in the formula.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..typed import IntArray


class NeutralBank:
    """Per-subject pseudo-neutral meshes updated by EMA (Eq. 3) with confidence alpha (Eq. 6).

    Parameters
    ----------
    init : (S, N, 3) float, mm, the starting pseudo-neutral of each subject
    counts : (S,) int, |K|: the number of training scans of each subject
    beta : EMA decay; B_K <- beta * B_K + (1 - beta) * mean of this step's reconstructions of K
    min_count : c in alpha_K = max(0, 1 - exp(c - |K|)); the paper's Eq. 6 has c = 1
    device : where the bank lives (the training device)
    """

    def __init__(self, init: torch.Tensor | np.ndarray, counts: torch.Tensor | np.ndarray | Sequence[int],
                 beta: float = 0.99, min_count: float = 1.0, device: str | torch.device = "cpu"):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        bank = torch.as_tensor(np.asarray(init), dtype=torch.float32).to(device).clone()
        count = torch.as_tensor(np.asarray(counts), dtype=torch.int64).to(device)
        if bank.ndim != 3 or bank.shape[2] != 3 or count.shape != bank.shape[:1]:
            raise ValueError(f"init must be (S, N, 3) and counts (S,), got {tuple(bank.shape)} "
                             f"and {tuple(count.shape)}")
        self.beta, self.min_count = float(beta), float(min_count)
        self.bank = bank  # (S, N, 3) mm
        self.count = count  # (S,) |K|
        self.seen = torch.zeros_like(count)  # (S,) samples folded in so far
        self.updates = torch.zeros_like(count)  # (S,) EMA steps applied

    @classmethod
    def from_data(cls, vertices: np.ndarray, subject_index: IntArray, n_subjects: int,
                  beta: float = 0.99, min_count: float = 1.0,
                  device: str | torch.device = "cpu") -> NeutralBank:
        """A bank initialised with each subject's mean training scan.

        Parameters
        ----------
        vertices : (M, N, 3) float32 mm training meshes (a memmap is read subject by subject)
        subject_index : (M,) int in [0, S), each mesh's bank row
        n_subjects : S
        """
        subject_index = np.asarray(subject_index)
        counts = np.bincount(subject_index, minlength=n_subjects)
        if (counts == 0).any():
            raise ValueError(f"subject {int(np.argmin(counts))} has no training scans")
        order = np.argsort(subject_index, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        init = np.empty((n_subjects,) + vertices.shape[1:], np.float32)
        for s in range(n_subjects):
            rows = np.sort(order[starts[s]:starts[s + 1]])
            init[s] = np.asarray(vertices[rows], dtype=np.float64).mean(axis=0)
        return cls(init, counts, beta=beta, min_count=min_count, device=device)

    @property
    def n_subjects(self) -> int:
        return int(self.bank.shape[0])

    def lookup(self, subjects: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) mm pseudo-neutrals of (B,) int64 subject rows."""
        return self.bank.index_select(0, subjects)

    def alpha(self, subjects: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) float32 confidence alpha_K = max(0, 1 - exp(min_count - |K|)) (Eq. 6).

        All S subjects when `subjects` is None.
        """
        count = self.count if subjects is None else self.count.index_select(0, subjects)
        return (1.0 - torch.exp(self.min_count - count.to(torch.float32))).clamp_min(0.0)

    @staticmethod
    def batch_sums(subjects: torch.Tensor, recon: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-subject sums of one batch: (ids (U,) int64, sums (U, N, 3), counts (U,) int64).

        `recon` is (B, N, 3) mm and is detached here. The sums (not the means) are what DDP
        ranks exchange: summing them over ranks gives the global batch's per-subject totals.
        """
        ids, inverse, counts = torch.unique(subjects, sorted=True, return_inverse=True,
                                            return_counts=True)
        recon = recon.detach().to(torch.float32)
        sums = recon.new_zeros((len(ids),) + tuple(recon.shape[1:]))
        sums.index_add_(0, inverse, recon)
        return ids, sums, counts

    @torch.no_grad()
    def update_from_sums(self, ids: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor) -> None:
        """One EMA step (Eq. 3) for every subject in `ids`, whose reconstructions sum to `sums`.

        `ids` may repeat (e.g. the same subject on two DDP ranks) and may hold -1 (padding,
        ignored); repeated ids are merged first, so each subject moves once per call towards
        the mean of all its reconstructions. Deterministic for a given input order.
        """
        keep = ids >= 0
        ids, sums, counts = ids[keep], sums[keep], counts[keep]
        if not len(ids):
            return
        uid, inverse = torch.unique(ids, sorted=True, return_inverse=True)
        total = sums.new_zeros((len(uid),) + tuple(sums.shape[1:]))
        total.index_add_(0, inverse, sums.to(total.dtype))
        n = torch.zeros(len(uid), dtype=torch.int64, device=ids.device).index_add_(0, inverse, counts)
        mean = total / n.to(total.dtype).view(-1, 1, 1)  # (U, N, 3) mm, X^r bar
        uid = uid.to(self.bank.device)
        old = self.bank.index_select(0, uid)
        self.bank.index_copy_(0, uid, self.beta * old + (1.0 - self.beta) * mean.to(self.bank.device))
        self.seen.index_add_(0, uid, n.to(self.seen.device))
        self.updates.index_add_(0, uid, torch.ones_like(uid))

    def update(self, subjects: torch.Tensor, recon: torch.Tensor) -> None:
        """Eq. 3 for one (single-process) batch: (B,) subject rows, (B, N, 3) mm reconstructions."""
        self.update_from_sums(*self.batch_sums(subjects, recon))

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Plain CPU tensors, safetensors-ready: bank, count, seen, updates."""
        return {f"{prefix}{k}": getattr(self, k).detach().cpu().contiguous()
                for k in ("bank", "count", "seen", "updates")}

    def load_state_dict(self, state: dict[str, torch.Tensor], prefix: str = "") -> None:
        """Restore `state_dict` output (shapes must match this bank's)."""
        for k in ("bank", "count", "seen", "updates"):
            value = state[f"{prefix}{k}"]
            mine = getattr(self, k)
            if value.shape != mine.shape:
                raise ValueError(f"neutral bank '{k}' has shape {tuple(value.shape)} in the "
                                 f"checkpoint but {tuple(mine.shape)} here (different training "
                                 "subjects or template)")
            setattr(self, k, value.to(device=mine.device, dtype=mine.dtype).clone())
