"""Typed progress records yielded by `train` (and logged to `events.jsonl`), and its result.

A GUI worker forwards each record as a signal; the CLI turns them into a progress bar. Every
record is a frozen dataclass with plain-Python fields; `to_json` adds an `"event"` tag.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union


@dataclass(frozen=True)
class StepEvent:
    """One optimizer step finished (`step` of `total`, both counted from the run's start).

    losses : name -> unweighted value (and "total", the weighted sum of Eq. 8)
    meshes_per_s : meshes trained per second in this step, summed over DDP ranks
    """

    kind: ClassVar[str] = "step"
    step: int
    total: int
    epoch: int
    losses: dict[str, float]
    meshes_per_s: float


@dataclass(frozen=True)
class EvalEvent:
    """Metrics on the held-out subjects (mm): e_avd/e_id/e_exp/e_neu _mean/_median."""

    kind: ClassVar[str] = "eval"
    step: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class CheckpointEvent:
    """A complete checkpoint folder was written (atomically) at `path`."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class DoneEvent:
    """The run ended: `cancelled` when stopped early (a checkpoint was still written)."""

    kind: ClassVar[str] = "done"
    step: int
    cancelled: bool
    checkpoint: str | None


Event = Union[StepEvent, EvalEvent, CheckpointEvent, DoneEvent]


@dataclass(frozen=True)
class TrainResult:
    """What `train` returns (the generator's StopIteration value).

    checkpoint : the run's `checkpoint/` folder (None on non-zero DDP ranks)
    step, epoch : where training stopped
    cancelled : stopped by `cancel` or `close()` before the configured number of steps
    metrics : the last evaluation (mm), empty when none ran
    losses : the last step's losses
    model : the trained FaceModel in memory (the same weights as the checkpoint)
    """

    checkpoint: Path | None
    step: int
    epoch: int
    cancelled: bool
    metrics: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    model: Any = field(default=None, repr=False)


def to_json(event: Event) -> dict[str, Any]:
    """{"event": kind, ...fields} for events.jsonl."""
    return {"event": event.kind, **dataclasses.asdict(event)}


class EventLog:
    """Appends events as JSON lines to a file (flushed per line, so a kill loses nothing)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, event: Event) -> None:
        self._file.write(json.dumps(to_json(event)) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every record of an events.jsonl file (a torn last line, from a kill, is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
