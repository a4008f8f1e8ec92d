"""The WSDF trainer: a plain generator of progress events, single process or torchrun DDP.

    gen = train(config, dataset, "runs/a")
    for event in gen: ...           # StepEvent, EvalEvent, CheckpointEvent, DoneEvent
    # the TrainResult is the generator's return value (StopIteration.value)

What one run does:

1. Subject-disjoint split: exactly `split_dataset`'s (`subject_split`, seed = config.seed),
   but only the small test set is copied; training batches read their rows from the dataset
   (a memmap stays a memmap). With `drop_neutral` every neutral-flagged scan leaves the
   training set. Normalization statistics come from the training meshes only.
2. Identity-aware batches (`IdentitySampler`, K subjects x M scans; under DDP each rank takes
   its own `rank::world_size` share, so the global batch is world_size x K x M).
3. AdamW on Eq. 8 (see `step.WSDFStep`), then the Neutral Bank EMA (Eq. 3) with the batch's
   detached reconstructions. Under DDP every rank gathers all ranks' per-subject sums and
   applies the same update in the same order, so the banks stay identical (see
   `distributed.gather_bank_sums`).
4. Every `eval_every` steps (and at the end) rank 0 evaluates the held-out subjects (E_avd,
   E_id, E_exp, E_neu in mm); every `checkpoint_every` steps (and at the end, on cancel and
   on `close()`) it writes `<out>/checkpoint` atomically, and it appends every logged event
   to `<out>/events.jsonl`. The checkpoint's `train.seconds` is the run's wall-clock time,
   summed over resumed sessions (evaluation and checkpoints included).

Determinism: the batch order depends on (seed, epoch), the reparameterization noise of a
step on (seed, step, rank), and the checkpoint holds the weights, optimizer moments, bank and
torch RNG state; so on CPU a run killed and resumed from its checkpoint reproduces the
uninterrupted run bit for bit (same thread count, same world size).

Cancel is cooperative: set the `cancel` threading.Event (checked before every step; under
DDP the flag is all-reduced so every rank stops at the same step), or call `gen.close()`
(or drop the generator). Either way the current state is checkpointed before returning.
"""
from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.dataset import MeshDataset
from ..data.sampler import IdentitySampler
from ..data.stats import compute_stats, subject_split
from ..errors import CheckpointError, DatasetError
from ..eval.evaluate import evaluate
from . import checkpoint as C
from .config import BUDGET_SETTINGS, OPERATIONAL_SETTINGS, ConfigError, TrainConfig, training_differences
from .distributed import DistInfo, any_flag, gather_bank_sums, setup, teardown
from .events import CheckpointEvent, DoneEvent, EvalEvent, Event, EventLog, StepEvent, TrainResult
from .neutral_bank import NeutralBank
from .step import WSDFStep

EVENTS = "events.jsonl"
UNALIGNED_STD_MM = 50.0  # mean per-vertex std above this: the meshes are not rigidly aligned


class UnalignedDataWarning(UserWarning):
    """The training meshes vary far more than faces do: they were not rigidly aligned."""


def train(config: TrainConfig, dataset: MeshDataset, out_dir: str | Path, resume: bool = True,
          cancel: threading.Event | None = None) -> Generator[Event, None, TrainResult]:
    """Train a WSDF model on `dataset`, writing checkpoints and logs to `out_dir`.

    Parameters
    ----------
    config : the run's settings
    dataset : registered meshes (mm) with subject ids and a template
    out_dir : run folder: `checkpoint/` (model + trainer state) and `events.jsonl`
    resume : continue from `out_dir/checkpoint` when it exists (else start over)
    cancel : set it (from any thread) to stop after the current step with a checkpoint

    Yields StepEvent after each step, EvalEvent and CheckpointEvent when those happen, and a
    final DoneEvent; returns a TrainResult.

    Raises
    ------
    ConfigError : settings that cannot work with this dataset (e.g. K > training subjects)
    DatasetError : no template, or too little data for one batch
    CheckpointError : resuming from a damaged checkpoint, or one trained with other settings
        (anything but the step budget and operational settings, see `config.training_differences`)
        or on other subjects
    """
    info = setup(config.device)
    ok = False
    try:
        result = yield from _Run(config, dataset, Path(out_dir), resume, cancel, info).run()
        ok = True
        return result
    finally:
        if ok:
            teardown(info)
        elif info.owns_group:  # no barrier: the other ranks may never reach it
            torch.distributed.destroy_process_group()


class _Run:
    """The state of one training run (kept in one object so the loop stays readable)."""

    def __init__(self, config: TrainConfig, dataset: MeshDataset, out_dir: Path, resume: bool,
                 cancel: threading.Event | None, info: DistInfo):
        from ..models.wsdf import WSDFModel

        self.config, self.out_dir, self.cancel, self.info = config, out_dir, cancel, info
        if config.threads:
            torch.set_num_threads(config.threads)
        device = self.device = info.device
        self._prepare_data(dataset)
        ckpt = C.find_checkpoint(out_dir) if resume else None
        tensors: dict[str, torch.Tensor] = {}
        self.metrics: dict[str, float] = {}
        if ckpt is not None:
            tinfo = C.read_trainer_info(ckpt)
            self._check_resumable(ckpt, tinfo)
            self.model = WSDFModel.load(ckpt, device)
            if self.model.template.topology_hash() != self.template.topology_hash():
                raise CheckpointError(ckpt, "its template topology differs from the dataset's; "
                                      "use a new output folder or start over (resume=False)")
            tensors = C.read_trainer_tensors(ckpt)
            self.step = tinfo["step"]
            self.metrics = dict(tinfo.get("metrics", {}))
            self.prior_seconds = float(tinfo.get("seconds", 0.0))
        else:
            stats = compute_stats(self.train_vertices)
            fresh = WSDFModel.create(config.model, self.template, stats,
                                     metadata={"train": self._summary()}, seed=config.seed)
            self.model = WSDFModel(fresh.net, fresh.config, fresh.stats, fresh.template,
                                   fresh.metadata, device)
            self.step = 0
            self.prior_seconds = 0.0  # wall-clock training time of earlier sessions of this run
        self.started = time.perf_counter()
        self.saved_step = self.step if ckpt is not None else -1
        net = self.net = self.model.net
        net.train()
        stats = self.model.stats
        _warn_if_unaligned(stats.std, self.source)
        self.mean = torch.as_tensor(stats.mean, device=device)  # (N, 3) mm
        self.std = torch.as_tensor(stats.std, device=device)  # (N, 3) mm
        loss = config.loss
        self.bank = None
        if loss.neu > 0:
            self.bank = NeutralBank.from_data(self.train_vertices, self.sidx, len(self.subjects),
                                              beta=config.ema_beta, min_count=loss.neutral_min_count,
                                              device=device)
        step_module = WSDFStep(net, loss, self.std, len(self.train_rows)).to(device)
        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.module = DistributedDataParallel(
                step_module, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=loss.rec == 0 or loss.kl == 0)
        else:
            self.module = step_module
        self.optimizer = _adamw(net, config, device)
        if ckpt is not None:
            self._restore_state(ckpt, tensors)
        self.log = None
        if info.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            if ckpt is None:
                (out_dir / EVENTS).unlink(missing_ok=True)
            self.log = EventLog(out_dir / EVENTS)
        self.losses: dict[str, float] = {}

    # ------------------------------------------------------------------ set-up
    def _prepare_data(self, dataset: MeshDataset) -> None:
        config, where = self.config, dataset.meta.get("source") or "in-memory dataset"
        if dataset.template is None:
            raise DatasetError(where, "has no template; training needs the template topology "
                               "(read the dataset with its template or pack it with 'faceforge synth')")
        dataset.validate()
        self.template = dataset.template
        # split_dataset's split, but the training meshes stay where they are (a memmap is
        # not copied into memory: batches read their rows); only the small test set is copied
        _, test_ids = subject_split(dataset.subject, config.test_fraction, config.seed)
        in_test = np.isin(dataset.subject, test_ids)
        self.test_ds = dataset.subset(in_test)
        train = ~in_test & ~dataset.neutral if config.drop_neutral else ~in_test
        self.train_rows = np.flatnonzero(train)  # (L,) rows of `dataset`
        if not len(self.train_rows):
            raise DatasetError(where, "drop_neutral leaves no training scans (every one is neutral)")
        self.train_vertices = _Rows(dataset.vertices, self.train_rows)
        self.source = where
        self.subjects, sidx = np.unique(dataset.subject[self.train_rows], return_inverse=True)
        self.sidx = sidx.astype(np.int64)  # (L,) bank row of each training mesh
        k, m = config.subjects_per_batch, config.samples_per_subject
        if k > len(self.subjects):
            raise ConfigError("(values)", f"subjects_per_batch={k} but the training split has only "
                              f"{len(self.subjects)} subjects; lower subjects_per_batch or test_fraction")
        self.sampler = IdentitySampler(self.sidx, k, m, seed=config.seed, drop_last=True,
                                       rank=self.info.rank, world_size=self.info.world_size)
        self.steps_per_epoch = len(self.sampler)
        if self.steps_per_epoch == 0:
            raise DatasetError(where, f"too few meshes for one batch of {k} subjects x {m} scans per "
                               f"process ({self.info.world_size} processes); lower the batch size")
        self.total = config.total_steps(self.steps_per_epoch)
        self.sidx_t = torch.from_numpy(self.sidx)

    def _split_info(self) -> dict[str, Any]:
        c = self.config
        return {"seed": c.seed, "test_fraction": c.test_fraction, "drop_neutral": c.drop_neutral,
                "test_subjects": [str(s) for s in self.test_ds.subjects()]}

    def _summary(self) -> dict[str, Any]:
        return {"split": self._split_info(), "config": self.config.to_dict(),
                "data": {"source": str(self.source), "train_meshes": len(self.train_rows),
                         "train_subjects": len(self.subjects), "test_meshes": len(self.test_ds),
                         "test_subjects": len(self.test_ds.subjects())}}

    def _check_resumable(self, ckpt: Path, tinfo: dict[str, Any]) -> None:
        """Refuse a checkpoint trained with other settings or on other subjects than this run's."""
        diffs = training_differences(tinfo["config"], self.config.to_dict())
        if diffs:
            listed = "; ".join(f"{k}: {old!r} in the checkpoint, {new!r} in the config"
                               for k, (old, new) in diffs.items())
            raise CheckpointError(ckpt / C.TRAINER_JSON, (
                f"the run was trained with other settings than the config gives ({listed}). Resume "
                f"with the same config (the run's is recorded under 'config' in {C.TRAINER_JSON}), or "
                "train into a new output folder (--out), or start over (--restart / resume=False). "
                f"Only the step budget ({', '.join(BUDGET_SETTINGS)}) and operational settings "
                f"({', '.join(OPERATIONAL_SETTINGS)}) may change when resuming"))
        if tinfo["subjects"] != [str(s) for s in self.subjects]:
            raise CheckpointError(ckpt, "it was trained on different subjects (another dataset?); "
                                    "use a new output folder or start over (resume=False)")

    def _restore_state(self, ckpt: Path, tensors: dict[str, torch.Tensor]) -> None:
        """Neutral Bank, optimizer moments and RNG state from `trainer.safetensors`."""
        try:
            if self.bank is not None:
                self.bank.load_state_dict(tensors, prefix="bank/")
            C.load_optimizer(self.optimizer, tensors)
            if "rng/torch" in tensors:
                torch.set_rng_state(tensors["rng/torch"])
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise CheckpointError(ckpt / C.TRAINER_TENSORS, (
                f"{C.TRAINER_TENSORS} does not fit this model and config ({type(exc).__name__}: {exc}); "
                "the checkpoint is damaged or was edited: delete it (or --restart / resume=False) "
                "to start over, or use a new output folder"), exc) from exc

    # ------------------------------------------------------------------ loop
    def run(self) -> Generator[Event, None, TrainResult]:
        cancelled = False
        try:
            batches, batches_epoch = [], -1
            while self.step < self.total:
                if any_flag(self.cancel is not None and self.cancel.is_set(), self.info):
                    cancelled = True
                    break
                epoch, b = divmod(self.step, self.steps_per_epoch)
                if epoch != batches_epoch:
                    self.sampler.set_epoch(epoch)
                    batches, batches_epoch = list(self.sampler), epoch
                event = self._train_step(np.asarray(batches[b]), epoch)
                self._log(event, force=self.step == self.total)
                yield event
                if self.step < self.total:
                    c, stopping = self.config, self.cancel is not None and self.cancel.is_set()
                    if self.info.is_main and c.eval_every and self.step % c.eval_every == 0 and not stopping:
                        yield self._eval_event()
                    if self.info.is_main and c.checkpoint_every and self.step % c.checkpoint_every == 0:
                        yield self._checkpoint_event()
            if self.info.is_main and not cancelled:
                yield self._eval_event()
            if self.info.is_main and self.saved_step != self.step:
                yield self._checkpoint_event()
            done = DoneEvent(step=self.step, cancelled=cancelled, checkpoint=self._ckpt_path())
            self._log(done)
            yield done
        except GeneratorExit:  # close() or the generator was dropped: checkpoint, no more yields
            cancelled = True
            if self.info.is_main and self.saved_step != self.step:
                self._save()
            self._log(DoneEvent(step=self.step, cancelled=True, checkpoint=self._ckpt_path()))
            raise
        finally:
            if self.log is not None:
                self.log.close()
        self._check_ranks_agree()
        return TrainResult(checkpoint=Path(self._ckpt_path()) if self.info.is_main else None,
                           step=self.step, epoch=self.step // self.steps_per_epoch,
                           cancelled=cancelled, metrics=dict(self.metrics), losses=dict(self.losses),
                           model=self.model)

    def _train_step(self, idx: np.ndarray, epoch: int) -> StepEvent:
        t0 = time.perf_counter()
        device, cfg = self.device, self.config
        x = torch.from_numpy(self.train_vertices[idx]).to(device)  # (B, N, 3) mm
        subjects = self.sidx_t[idx].to(device)  # (B,)
        x_norm = (x - self.mean) / self.std
        gen = torch.Generator().manual_seed(_noise_seed(cfg.seed, self.step, self.info.rank))
        b = len(idx)
        eps_id = torch.randn(b, cfg.model.id_dim, generator=gen).to(device)
        eps_exp = torch.randn(b, cfg.model.exp_dim, generator=gen).to(device)
        bank = alpha = None
        if self.bank is not None:
            bank = (self.bank.lookup(subjects) - self.mean) / self.std
            alpha = self.bank.alpha(subjects)
        losses, recon = self.module(x_norm, eps_id, eps_exp, bank, alpha)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        self.optimizer.step()
        if self.bank is not None:
            recon_mm = recon * self.std + self.mean
            sums = NeutralBank.batch_sums(subjects, recon_mm)
            self.bank.update_from_sums(*gather_bank_sums(*sums, slots=cfg.subjects_per_batch, info=self.info))
        self.step += 1
        self.losses = {k: float(v.detach()) for k, v in losses.items()}
        dt = time.perf_counter() - t0
        return StepEvent(step=self.step, total=self.total, epoch=epoch, losses=self.losses,
                         meshes_per_s=self.info.world_size * b / max(dt, 1e-9))

    def _check_ranks_agree(self) -> None:
        """Under DDP, check that every rank ends with the same weights and Neutral Bank.

        DDP keeps the weights in sync by construction and the bank update is replicated (see
        the module docstring); one all-gather of two checksums at the end checks both, so a
        divergence (e.g. a rank skipping a bank update) fails the run instead of passing silently.
        """
        if not self.info.distributed:
            return
        with torch.no_grad():
            weights = sum(p.double().sum() for p in self.net.parameters())
            bank = self.bank.bank.double().sum() if self.bank is not None else weights * 0
            local = torch.stack([weights, bank]).to(self.device)
            parts = [torch.empty_like(local) for _ in range(self.info.world_size)]
            torch.distributed.all_gather(parts, local)
        if any(not torch.equal(parts[0], p) for p in parts[1:]):
            raise RuntimeError(f"DDP ranks diverged (weights, bank checksums per rank: "
                               f"{[p.tolist() for p in parts]}); please report this")

    # ------------------------------------------------------------------ eval, checkpoints, logs
    def _eval_event(self) -> EvalEvent:
        self.net.eval()
        try:
            report = evaluate(self.model, self.test_ds, batch=self.config.eval_batch)
        finally:
            self.net.train()
        self.metrics = report.metrics
        event = EvalEvent(step=self.step, metrics=dict(report.metrics))
        self._log(event)
        return event

    def _checkpoint_event(self) -> CheckpointEvent:
        path = self._save()
        event = CheckpointEvent(step=self.step, path=str(path))
        self._log(event)
        return event

    def _save(self) -> Path:
        tensors = C.optimizer_tensors(self.optimizer)
        if self.bank is not None:
            tensors.update(self.bank.state_dict(prefix="bank/"))
        tensors["rng/torch"] = torch.get_rng_state()
        summary = self._summary()
        seconds = round(self.prior_seconds + time.perf_counter() - self.started, 1)
        summary.update(step=self.step, metrics=dict(self.metrics), seconds=seconds)
        self.model.metadata = {**self.model.metadata, "train": summary}
        info = {"step": self.step, "seconds": seconds, "epoch": self.step // self.steps_per_epoch,
                "steps_total": self.total, "steps_per_epoch": self.steps_per_epoch,
                "world_size": self.info.world_size, "config": self.config.to_dict(),
                "subjects": [str(s) for s in self.subjects], "split": self._split_info(),
                "losses": dict(self.losses), "metrics": dict(self.metrics),
                "bank": {"beta": self.config.ema_beta,
                         "min_count": self.config.loss.neutral_min_count} if self.bank else None}
        path = C.save_checkpoint(self.out_dir, self.model, tensors, info)
        self.saved_step = self.step
        return path

    def _ckpt_path(self) -> str | None:
        return str(self.out_dir / C.CHECKPOINT) if self.info.is_main else None

    def _log(self, event: Event, force: bool = False) -> None:
        if self.log is None:
            return
        every = self.config.log_every
        if isinstance(event, StepEvent) and not force and every > 1 and event.step % every:
            return
        self.log.write(event)


def _warn_if_unaligned(std: np.ndarray, where: str) -> None:
    """Warn when the per-vertex spread says the meshes were not rigidly aligned.

    Registered faces of different people and expressions vary by millimetres to a couple of
    centimetres per vertex; a mean per-vertex std beyond `UNALIGNED_STD_MM` means position or
    pose varies too (e.g. heads at different body heights). WSDF, like the paper (Sec. IV-B),
    assumes rigidly aligned scans: unaligned data makes the normalization and every loss
    chase the translation, and L_jac (in mm^2) explodes.
    """
    spread = float(np.linalg.norm(std, axis=1).mean())
    if spread > UNALIGNED_STD_MM:
        warnings.warn(UnalignedDataWarning(
            f"{where}: the training meshes vary by {spread:.0f} mm per vertex on average (std), "
            f"far more than faces do (< {UNALIGNED_STD_MM:.0f} mm): they look rigidly misaligned. "
            "Align them first (e.g. Procrustes to the template); training will be poor otherwise."),
            stacklevel=3)


class _Rows:
    """Rows `rows` of an (M, N, 3) array (possibly a memmap) without copying them: enough of
    the array interface for `compute_stats`, `NeutralBank.from_data` and batch reads."""

    def __init__(self, array: np.ndarray, rows: np.ndarray):
        self.array, self.rows = array, rows
        self.shape = (len(rows),) + tuple(array.shape[1:])
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> np.ndarray:
        """(K, N, 3) float32 in-memory copy of rows `index` (a slice or int array)."""
        return np.ascontiguousarray(self.array[self.rows[index]], dtype=np.float32)


def _adamw(net: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW, fused where torch has a fused kernel (CPU, CUDA): on the 2-core CPU the default
    per-tensor implementation spends ~100 ms per step on the 4.9 M parameters, fused ~11 ms."""
    fused = device.type in ("cpu", "cuda")
    try:
        return torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                 fused=fused)
    except (RuntimeError, ValueError):  # no fused kernel for this device/dtype
        return torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _noise_seed(seed: int, step: int, rank: int) -> int:
    """A 63-bit seed for the reparameterization noise of one (step, rank)."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(2, np.uint64)[0] >> np.uint64(1))
