"""Training configuration: dataclasses, YAML loading, validation with actionable errors.

A YAML file mirrors `TrainConfig`; `model` and `loss` are nested mappings::

    model: {id_dim: 64, exp_dim: 64}     # WSDFConfig fields; omitted ones keep their default
    loss: {rec: 1, kl: 1, neu: 1, jac: 10, mi: 0, jac_gamma: 500}
    subjects_per_batch: 8
    samples_per_subject: 4
    steps: 20000                          # or epochs: 100
    device: cpu

Unknown keys are errors that list the valid ones (a typo must not silently train the
default).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FaceForgeError


class ConfigError(FaceForgeError, ValueError):
    """A training configuration is unreadable, has unknown keys or invalid values."""

    def __init__(self, where: str, reason: str):
        self.where = where
        self.reason = reason
        super().__init__(f"Training config {where}: {reason}")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights of Eq. 8 and their parameters. A weight of 0 skips that loss entirely.

    Attributes
    ----------
    rec, kl, neu, jac, mi : weights of L_rec (Eq. 4), L_KL (Eq. 5), L_neu (Eq. 6),
        L_jac (Eq. 7), L_mi (IB-VAE identity compactness). rec and kl are 1 in the paper;
        jac = 10 and mi = 0 follow the official FaceScape setup (many identities).
    jac_gamma : gamma of Eq. 7, mm^2 per unit |z_exp|^2 (official FaceScape value: 500)
    neutral_min_count : c in alpha_K = max(0, 1 - exp(c - |K|)); the paper's Eq. 6 has 1
    jac_method : "jvp" (one Jacobian-vector product) or "full" (the whole decoder Jacobian, as
        the authors' code; same loss, ~exp_dim times slower: for speed comparisons)
    """

    rec: float = 1.0
    kl: float = 1.0
    neu: float = 1.0
    jac: float = 10.0
    mi: float = 0.0
    jac_gamma: float = 500.0
    neutral_min_count: float = 1.0
    jac_method: str = "jvp"

    def __post_init__(self) -> None:
        if self.jac_method not in ("jvp", "full"):
            raise ConfigError("loss.jac_method", f"'{self.jac_method}' is not one of jvp, full")

    def weights(self) -> dict[str, float]:
        """{"rec", "kl", "neu", "jac", "mi"} -> weight."""
        return {k: getattr(self, k) for k in ("rec", "kl", "neu", "jac", "mi")}


def _default_model():
    from ..models.wsdf import WSDFConfig

    return WSDFConfig()


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (JSON/YAML-able through `to_dict`/`from_dict`).

    Attributes
    ----------
    model : WSDFConfig of the network
    loss : LossConfig
    subjects_per_batch, samples_per_subject : identity-aware batch K x M (per DDP rank)
    lr, weight_decay : AdamW (paper: weight decay 1e-5)
    epochs : passes over the training subjects; ignored when `steps` is set
    steps : total optimizer steps (None: epochs x batches per epoch)
    ema_beta : beta of the Neutral Bank EMA (Eq. 3)
    eval_every, checkpoint_every, log_every : in steps (0 = only at the end / every step)
    seed : weights, subject split, batch order and reparameterization noise
    test_fraction : share of subjects held out for evaluation (subject-disjoint split)
    drop_neutral : remove every neutral-flagged scan from the training set (ablation: the
        method must not need neutral scans)
    device : "cpu", "cuda", "cuda:1", "mps" or "auto" (CUDA, then MPS, then CPU)
    threads : torch intra-op threads (None: leave torch's default)
    eval_batch : meshes per forward pass during evaluation
    """

    model: Any = field(default_factory=_default_model)
    loss: LossConfig = field(default_factory=LossConfig)
    subjects_per_batch: int = 8
    samples_per_subject: int = 4
    lr: float = 1e-4
    weight_decay: float = 1e-5
    epochs: int = 100
    steps: int | None = None
    ema_beta: float = 0.99
    eval_every: int = 1000
    checkpoint_every: int = 1000
    log_every: int = 10
    seed: int = 0
    test_fraction: float = 0.1
    drop_neutral: bool = False
    device: str = "cpu"
    threads: int | None = None
    eval_batch: int = 64

    def __post_init__(self) -> None:
        _validate(self)

    # ----------------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "(dict)") -> TrainConfig:
        """Build from a mapping; unknown keys at any level raise `ConfigError` naming them."""
        if not isinstance(data, dict):
            raise ConfigError(where, f"expected a mapping of settings, got {type(data).__name__}")
        _check_keys(data, cls, where, "")
        kwargs = dict(data)
        if "model" in kwargs:
            kwargs["model"] = _model_from_dict(kwargs["model"], where)
        if "loss" in kwargs:
            loss = kwargs["loss"] or {}
            if not isinstance(loss, dict):
                raise ConfigError(where, f"'loss' must be a mapping, got {type(loss).__name__}")
            _check_keys(loss, LossConfig, where, "loss.")
            kwargs["loss"] = LossConfig(**loss)
        try:
            return cls(**kwargs)
        except TypeError as exc:  # e.g. a wrong type that the dataclass cannot take
            raise ConfigError(where, str(exc)) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        """Read a YAML file (see the module docstring); an empty file gives the defaults."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"'{path}'", f"cannot be read ({exc.strerror or exc})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"'{path}'", f"is not valid YAML: {exc}") from exc
        return cls.from_dict(data or {}, where=f"'{path}'")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def total_steps(self, steps_per_epoch: int) -> int:
        """`steps` when set, else `epochs` x `steps_per_epoch`."""
        return self.steps if self.steps is not None else self.epochs * steps_per_epoch


# Settings a resumed run may change: the step budget and purely operational ones. Every other
# setting changes what is trained, so resuming a checkpoint needs the value it was trained with.
BUDGET_SETTINGS = ("steps", "epochs")
OPERATIONAL_SETTINGS = ("eval_every", "checkpoint_every", "log_every", "device", "threads", "eval_batch")


class _NotRecorded:
    def __repr__(self) -> str:
        return "(not recorded)"


NOT_RECORDED = _NotRecorded()


def training_differences(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Settings that change what is trained and differ between two `TrainConfig.to_dict()`s.

    Returns dotted name (e.g. "loss.neu", "model.id_dim") -> (recorded value, current value),
    in the config's order; a setting missing on one side has the value `NOT_RECORDED`.
    Budget and operational settings (`BUDGET_SETTINGS`, `OPERATIONAL_SETTINGS`) are ignored.
    """
    old, new = _flatten(recorded), _flatten(current)
    free = set(BUDGET_SETTINGS + OPERATIONAL_SETTINGS)
    names = [*new, *(k for k in old if k not in new)]
    pairs = {k: (old.get(k, NOT_RECORDED), new.get(k, NOT_RECORDED)) for k in names if k not in free}
    return {k: (a, b) for k, (a, b) in pairs.items() if a is NOT_RECORDED or b is NOT_RECORDED or a != b}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"loss": {"neu": 1}} -> {"loss.neu": 1} (lists and other values stay as they are)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _model_from_dict(value: Any, where: str):
    from ..models.wsdf import WSDFConfig

    if isinstance(value, WSDFConfig):
        return value
    if not isinstance(value, dict):
        raise ConfigError(where, f"'model' must be a mapping of WSDFConfig fields, got {type(value).__name__}")
    _check_keys(value, WSDFConfig, where, "model.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    try:
        return WSDFConfig(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, f"invalid 'model': {exc}") from exc


def _check_keys(data: dict[str, Any], cls: type, where: str, prefix: str) -> None:
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = [str(k) for k in data if k not in valid]
    if unknown:
        raise ConfigError(where, f"unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(repr(prefix + k) for k in unknown)}; valid keys"
                          f"{' under ' + repr(prefix[:-1]) if prefix else ''} are: {', '.join(valid)}")


def _validate(c: TrainConfig) -> None:
    where = "(values)"
    positive = {"subjects_per_batch": c.subjects_per_batch, "samples_per_subject": c.samples_per_subject,
                "epochs": c.epochs, "eval_batch": c.eval_batch}
    for name, value in positive.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(where, f"'{name}' must be an integer >= 1, got {value!r}")
    for name in ("eval_every", "checkpoint_every", "log_every"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(where, f"'{name}' must be an integer >= 0 (0: only at the end), got {value!r}")
    if c.steps is not None and (not isinstance(c.steps, int) or isinstance(c.steps, bool) or c.steps < 0):
        raise ConfigError(where, f"'steps' must be an integer >= 0 or null, got {c.steps!r}")
    if c.threads is not None and (not isinstance(c.threads, int) or c.threads < 1):
        raise ConfigError(where, f"'threads' must be an integer >= 1 or null, got {c.threads!r}")
    if not 0.0 <= c.ema_beta < 1.0:
        raise ConfigError(where, f"'ema_beta' must be in [0, 1), got {c.ema_beta!r}")
    if not 0.0 < c.test_fraction < 1.0:
        raise ConfigError(where, f"'test_fraction' must be in (0, 1) (evaluation needs held-out "
                          f"subjects), got {c.test_fraction!r}")
    if not c.lr > 0 or c.weight_decay < 0:
        raise ConfigError(where, f"'lr' must be > 0 and 'weight_decay' >= 0, got {c.lr!r}, {c.weight_decay!r}")
    if not isinstance(c.device, str) or not c.device:
        raise ConfigError(where, f"'device' must be a string such as cpu, cuda, mps or auto, got {c.device!r}")
    weights = c.loss.weights()
    bad = {k: v for k, v in weights.items() if not isinstance(v, (int, float)) or v < 0}
    if bad:
        raise ConfigError(where, f"loss weights must be numbers >= 0, got {bad}")
    if weights["rec"] == 0 and weights["neu"] == 0:
        raise ConfigError(where, "loss.rec and loss.neu are both 0: nothing trains the decoder")
    if c.loss.jac_gamma < 0:
        raise ConfigError(where, f"'loss.jac_gamma' must be >= 0, got {c.loss.jac_gamma!r}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
