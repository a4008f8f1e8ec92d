"""The WSDF ablation (paper Tables III-IV) on one dataset, every variant with the same budget.

Variants: rec + KL baseline, + Neutral Bank, + Jacobian loss, + MI, and the full model trained
with every neutral scan removed. Each is trained from the same seed for the same number of
steps and evaluated on the same held-out subjects.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..data.dataset import MeshDataset
from ..train.config import LossConfig, TrainConfig
from .evaluate import METRICS


def variants(base: TrainConfig) -> dict[str, TrainConfig]:
    """Name -> config of each ablation variant, built from `base`'s loss weights."""
    w = base.loss
    off = dict(neu=0.0, jac=0.0, mi=0.0)
    steps = [
        ("baseline (rec + KL)", dataclasses.replace(w, **off), False),
        ("+ Neutral Bank", dataclasses.replace(w, jac=0.0, mi=0.0, neu=w.neu or 1.0), False),
        ("+ Jacobian loss", dataclasses.replace(w, mi=0.0, neu=w.neu or 1.0, jac=w.jac or 10.0),
         False),
        ("+ MI loss", _full(w), False),
        ("full, no neutral scans", _full(w), True),
    ]
    return {name: base.replace(loss=loss, drop_neutral=drop) for name, loss, drop in steps}


def _full(w: LossConfig) -> LossConfig:
    return dataclasses.replace(w, neu=w.neu or 1.0, jac=w.jac or 10.0, mi=w.mi or 1.0)


def run_ablation(base: TrainConfig, dataset: MeshDataset, out_dir: str | Path,
                 progress: Callable[[str, int, int], None] | None = None) -> dict[str, dict[str, float]]:
    """Train and evaluate every variant; returns name -> held-out metrics (mm) and minutes.

    `progress(variant, step, total)` is called after each step. Each variant's run folder is
    `out_dir/<index>`; a finished one is reused (resume; with more steps it trains on). Minutes
    are the run's recorded training time, summed over the sessions that trained it.

    Raises CheckpointError, naming the variant and each differing setting, when a run folder
    holds a run trained with other settings (another config or dataset): reusing it would
    report a stale variant. Use the same config or a new `out_dir`.
    """
    results = {}
    for i, (name, config) in enumerate(variants(base).items()):
        results[name] = _run_variant(name, config, dataset, Path(out_dir) / str(i), progress)
    return results


def _run_variant(name: str, config: TrainConfig, dataset: MeshDataset, folder: Path,
                 progress: Callable[[str, int, int], None] | None) -> dict[str, float]:
    """Train (or reuse) one variant's run in `folder`; its held-out metrics and minutes."""
    from ..errors import CheckpointError
    from ..progress import drive
    from ..train.checkpoint import read_trainer_info
    from ..train.events import StepEvent
    from ..train.trainer import train

    def on_event(event):
        if progress and isinstance(event, StepEvent):
            progress(name, event.step, event.total)

    try:
        result = drive(train(config.replace(eval_every=0), dataset, folder), on_event)
    except CheckpointError as exc:
        raise CheckpointError(exc.path, f"ablation variant '{name}' cannot reuse its run folder "
                              f"'{folder}': {exc.reason}", exc) from exc
    minutes = read_trainer_info(result.checkpoint)["seconds"] / 60
    return dict(result.metrics, minutes=minutes)


def report(results: dict[str, dict[str, float]], steps: int) -> str:
    """Markdown table of the variants, and the paper's expectations checked against the baseline."""
    names = list(results)
    rows = ["| variant | " + " | ".join(f"{m} mean / median (mm)" for m in METRICS)
            + " | minutes |", "| --- |" + " --- |" * (len(METRICS) + 1)]
    for name in names:
        r = results[name]
        cells = [f"{r[f'{m}_mean']:.3f} / {r[f'{m}_median']:.3f}" for m in METRICS]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {r['minutes']:.1f} |")
    base, full = results[names[0]], results[names[3]]
    checks = [
        ("full model cuts E_neu by >= 40% vs baseline",
         1 - full["e_neu_mean"] / base["e_neu_mean"], 0.40),
        ("full model cuts E_id by >= 50% vs baseline",
         1 - full["e_id_mean"] / base["e_id_mean"], 0.50),
        ("Jacobian loss lowers E_exp (vs + Neutral Bank)",
         1 - results[names[2]]["e_exp_mean"] / results[names[1]]["e_exp_mean"], 0.0),
    ]
    lines = [f"- {text}: {gain:+.0%} -> {'MET' if _met(gain, need) else 'NOT MET'}"
             for text, gain, need in checks]
    return "\n".join([f"Every variant: {steps} steps, same seed, same held-out subjects.", "",
                      *rows, "", *lines])


def _met(gain: float, need: float) -> bool:
    return gain > 0 if need == 0 else gain >= need
