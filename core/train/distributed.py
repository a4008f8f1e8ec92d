"""Device choice and torch.distributed set-up for the trainer (single process or torchrun).

Under `torchrun --nproc_per_node=P` every process runs the same `train` generator. The
process group is started here from the launcher's environment (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR/PORT): gloo on CPU, nccl on CUDA. Without those variables, or with
WORLD_SIZE=1, training is a plain single process and nothing here talks to other processes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job; `owns_group` when `setup` started the group."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes checkpoints, logs and evaluates."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """"auto" -> CUDA, then MPS, then CPU; a bare "cuda" becomes this process's local GPU."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            from .config import ConfigError

            raise ConfigError("(values)", f"device '{name}' was asked for but CUDA is not available; "
                              "use --device cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def available_devices() -> list[str]:
    """Device names this machine can train on: "auto", "cpu", then each CUDA GPU and MPS."""
    names = ["auto", "cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        names.append("mps")
    return names


def setup(device_name: str) -> DistInfo:
    """Join (or start) the process group when launched by torchrun; pick the device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    owns = False
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device,
                    owns_group=owns)


def teardown(info: DistInfo) -> None:
    """Leave the process group if `setup` started it (after a barrier, so no rank is left
    waiting in a collective)."""
    if info.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def any_flag(flag: bool, info: DistInfo) -> bool:
    """True on every rank when `flag` is True on any rank (a cancel must stop all ranks at the
    same step, or the others would wait forever in the next gradient all-reduce)."""
    if not info.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_bank_sums(ids: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor, slots: int,
                     info: DistInfo) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate every rank's per-subject batch sums, in rank order, on every rank.

    Each rank pads its (U <= slots) rows to `slots` (id -1, zero sums) so all_gather sees
    equal shapes. Exchanging the K per-subject sums of each rank (K x N x 3 floats) is far
    cheaper than all-reducing a dense (S, N, 3) bank-sized buffer, and every rank then applies
    the identical EMA update in the identical order, so the banks stay bit-identical.
    """
    if not info.distributed:
        return ids, sums, counts
    u = len(ids)
    if u > slots:
        raise ValueError(f"{u} subjects in a batch but only {slots} slots")
    pad_ids = torch.full((slots,), -1, dtype=torch.int64, device=info.device)
    pad_sums = torch.zeros((slots,) + tuple(sums.shape[1:]), dtype=sums.dtype, device=info.device)
    pad_counts = torch.zeros(slots, dtype=torch.int64, device=info.device)
    pad_ids[:u], pad_sums[:u], pad_counts[:u] = ids, sums, counts
    out = []
    for t in (pad_ids, pad_sums, pad_counts):
        parts = [torch.empty_like(t) for _ in range(info.world_size)]
        dist.all_gather(parts, t)
        out.append(torch.cat(parts))
    return out[0], out[1], out[2]
