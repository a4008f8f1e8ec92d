"""WSDF: two Spiral++ VAE encoders, the tensor Re-coupler and an MLP generator.

Li et al., "3D Face Modeling via Weakly-supervised Disentanglement Network joint
Identity-consistency Prior", Sec. III-A and Fig. 1. Sizes follow the authors' FaceScape
setup (64 + 64 latents, 256 re-coupled, one 256-wide generator layer), scaled down in the
encoder for a ~3-4k vertex head on the CPU.

CONVENTIONS: `WSDFNet` works on NORMALIZED vertices (see `NormStats`), (B, N, 3) float32
row-vector tensors; `WSDFModel` wraps it with the statistics and speaks millimetres.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.stats import NormStats
from ..errors import CheckpointError, NonFiniteError, TopologyMismatchError
from ..mesh.hierarchy import TorchHierarchy, load_or_build_hierarchy
from ..mesh.template import Template
from .base import FaceModel, as_tensor
from .checkpoint import (CONFIG, TEMPLATE, WEIGHTS, check_version, read_config,
                         read_template, read_weights, write_config, write_folder_atomic,
                         write_weights)
from .encoder import SpiralEncoder, selection_indices
from .recoupler import Recoupler

FORMAT_VERSION = 1  # of the checkpoint folder; bump when its layout or meaning changes
STATS_KEYS = ("stats.mean", "stats.std")  # the normalization, stored next to the weights


@dataclass(frozen=True)
class WSDFConfig:
    """Every size of a WSDF net (JSON-able through `to_dict`/`from_dict`).

    Attributes
    ----------
    id_dim, exp_dim : latent sizes I and E
    channels : K + 1 encoder widths, one per mesh level (the last also for residual blocks)
    factors : K vertex-count reductions of the mesh hierarchy, each > 1
    spiral_length, dilation : Spiral++ neighbourhoods (see `spiral_indices`)
    res_blocks : residual spiral blocks at the coarsest level
    coupled_dim : K_W, the re-coupled code size (rows of M_W)
    generator_hidden : widths of the generator's ELU hidden layers
    """

    id_dim: int = 64
    exp_dim: int = 64
    channels: tuple[int, ...] = (16, 32, 64, 64)
    factors: tuple[float, ...] = (4.0, 4.0, 4.0)
    spiral_length: int = 9
    dilation: int = 1
    res_blocks: int = 2
    coupled_dim: int = 256
    generator_hidden: tuple[int, ...] = (256,)

    def __post_init__(self) -> None:
        # JSON gives lists; factors are floats whichever way they were written
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "factors", tuple(float(f) for f in self.factors))
        object.__setattr__(self, "generator_hidden", tuple(self.generator_hidden))
        sizes = (self.id_dim, self.exp_dim, self.spiral_length, self.dilation, self.coupled_dim,
                 *self.channels, *self.generator_hidden)
        if not all(isinstance(s, int) and s >= 1 for s in sizes) or self.res_blocks < 0:
            raise ValueError(f"WSDF sizes must be positive integers (res_blocks >= 0), got {self}")
        if not self.factors or not all(f > 1 for f in self.factors):
            raise ValueError(f"factors must be one or more reductions > 1, got {self.factors}")
        if len(self.channels) != len(self.factors) + 1:
            raise ValueError(f"channels needs one width per mesh level, len(factors) + 1 = "
                             f"{len(self.factors) + 1}, got {len(self.channels)}: {self.channels}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples as lists)."""
        fields = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WSDFConfig:
        """Inverse of `to_dict`; unknown keys raise TypeError."""
        return cls(**d)


class WSDFNet(nn.Module):
    """The trainable network on normalized vertices (B, N, 3).

    The spiral and kept-vertex indices of the hierarchy are persistent buffers, so a
    checkpoint carries the exact topology it was trained with.
    """

    def __init__(self, config: WSDFConfig, hierarchy: TorchHierarchy):
        super().__init__()
        levels = len(config.factors)
        if len(hierarchy.spirals) != levels + 1 or len(hierarchy.down) != levels:
            raise ValueError(f"the hierarchy has {len(hierarchy.down)} down-sampling steps but "
                             f"config.factors asks for {levels}")
        if any(s.shape[1] != config.spiral_length for s in hierarchy.spirals):
            raise ValueError(f"hierarchy spirals have length {hierarchy.spirals[0].shape[1]}, "
                             f"config.spiral_length is {config.spiral_length}")
        self.levels = levels
        self.n_vertices = int(hierarchy.spirals[0].shape[0])
        for i, spiral in enumerate(hierarchy.spirals):
            self.register_buffer(f"spiral{i}", spiral.to(torch.int64).clone())
        for i, down in enumerate(hierarchy.down):
            self.register_buffer(f"kept{i}", selection_indices(down))
        counts = [int(s.shape[0]) for s in hierarchy.spirals]
        sizes = (counts, config.channels, config.spiral_length, config.res_blocks)
        self.encoder_id = SpiralEncoder(*sizes, config.id_dim)
        self.encoder_exp = SpiralEncoder(*sizes, config.exp_dim)
        self.recoupler = Recoupler(config.id_dim, config.exp_dim, config.coupled_dim)
        widths = [config.coupled_dim, *config.generator_hidden]
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.ELU()]
        self.generator = nn.Sequential(*layers, nn.Linear(widths[-1], self.n_vertices * 3))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (B, N, 3) NORMALIZED -> (mu_id, logvar_id, mu_exp, logvar_exp), each (B, D)."""
        spirals = [getattr(self, f"spiral{i}") for i in range(self.levels + 1)]
        kept = [getattr(self, f"kept{i}") for i in range(self.levels)]
        return (*self.encoder_id(x, spirals, kept), *self.encoder_exp(x, spirals, kept))

    def recouple(self, z_id: torch.Tensor, z_exp: torch.Tensor) -> torch.Tensor:
        """(B, id_dim), (B, exp_dim) -> (B, coupled_dim), Eq. 2."""
        return self.recoupler(z_id, z_exp)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """(B, coupled_dim) -> (B, N, 3) normalized vertices (MLP)."""
        return self.generator(z).unflatten(-1, (self.n_vertices, 3))

    def decode(self, z_id: torch.Tensor, z_exp: torch.Tensor) -> torch.Tensor:
        """generate(recouple(z_id, z_exp)): (B, I), (B, E) -> (B, N, 3) normalized."""
        return self.generate(self.recouple(z_id, z_exp))


class WSDFModel(FaceModel):
    """A WSDF net with its normalization and template: millimetres in and out.

    `encode` returns the posterior means; numpy in gives float32 numpy out, torch in gives
    torch out on `device`. The net is moved to `device` (in place).
    """

    kind = "wsdf"

    def __init__(self, net: WSDFNet, config: WSDFConfig, stats: NormStats, template: Template,
                 metadata: dict[str, Any] | None = None, device: str | torch.device = "cpu"):
        n = template.n_vertices
        if net.n_vertices != n or stats.mean.shape != (n, 3):
            raise ValueError(f"net ({net.n_vertices} vertices), stats {stats.mean.shape} and "
                             f"template ({n} vertices) must share one topology")
        self.device = torch.device(device)
        self.net = net.to(self.device)
        self.config, self.stats, self.template = config, stats, template
        self.id_dim, self.exp_dim = config.id_dim, config.exp_dim
        self.metadata = dict(metadata or {})
        self._mean = torch.tensor(stats.mean, device=self.device)  # (N, 3) mm
        self._std = torch.tensor(stats.std, device=self.device)  # (N, 3) mm

    @classmethod
    def create(cls, config: WSDFConfig, template: Template, stats: NormStats,
               metadata: dict[str, Any] | None = None, seed: int = 0) -> WSDFModel:
        """An untrained model on the CPU; the hierarchy comes from the template (cached)."""
        return cls(_build_net(config, template, seed), config, stats, template, metadata)

    def encode(self, vertices):
        """(z_id (B, id_dim), z_exp (B, exp_dim)) posterior means of (B, N, 3) mm vertices."""
        x, was_numpy = as_tensor(vertices, self.device)
        n = self.template.n_vertices
        if x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"vertices must be (B, {n}, 3) in mm, got shape {tuple(x.shape)}")
        if x.shape[1] != n:
            raise TopologyMismatchError(None, n, int(x.shape[1]))
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise NonFiniteError(None, bad)
        with torch.inference_mode():
            mu_id, _, mu_exp, _ = self.net.encode((x - self._mean) / self._std)
        return _like(mu_id, was_numpy), _like(mu_exp, was_numpy)

    def decode(self, z_id, z_exp):
        """(B, N, 3) float32 mm vertices of codes (B, id_dim), (B, exp_dim); differentiable
        when a torch code requires grad."""
        zi, was_numpy = as_tensor(z_id, self.device)
        ze, _ = as_tensor(z_exp, self.device)
        if zi.ndim != 2 or zi.shape[1] != self.id_dim or ze.shape != (len(zi), self.exp_dim):
            raise ValueError(f"codes must be (B, {self.id_dim}) and (B, {self.exp_dim}), got "
                             f"{tuple(zi.shape)} and {tuple(ze.shape)}")
        with torch.inference_mode(not (zi.requires_grad or ze.requires_grad)):
            x = self.net.decode(zi, ze) * self._std + self._mean  # (B, N, 3) mm
        return _like(x, was_numpy)

    def save(self, folder: str | Path) -> None:
        """Write weights.safetensors, config.json and template.npz to `folder`, atomically."""
        tensors = dict(self.net.state_dict())
        tensors.update(zip(STATS_KEYS, map(torch.tensor, (self.stats.mean, self.stats.std))))
        doc = {
            "kind": self.kind, "format_version": FORMAT_VERSION, "config": self.config.to_dict(),
            "template": {"name": self.template.name, "n_vertices": self.template.n_vertices,
                         "topology_hash": self.template.topology_hash()},
            "metadata": self.metadata,
        }

        def fill(tmp: Path) -> None:
            write_weights(tmp / WEIGHTS, tensors)
            self.template.save(tmp / TEMPLATE)
            write_config(tmp / CONFIG, doc)

        write_folder_atomic(folder, fill)

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> WSDFModel:
        """Read and validate a folder written by `save`; raises `CheckpointError`."""
        folder = Path(folder)
        doc = read_config(folder)
        if doc["kind"] != cls.kind:
            raise CheckpointError(folder / CONFIG, f"it holds a '{doc['kind']}' model, not a "
                                  f"'{cls.kind}' one; open it with registry.load_model, which "
                                  "picks the model kind.")
        check_version(folder, doc, FORMAT_VERSION)
        try:
            config = WSDFConfig.from_dict(doc["config"])
            topology_hash = str(doc["template"]["topology_hash"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(folder / CONFIG, f"{CONFIG} has no valid WSDF configuration "
                                  f"({e}); it was edited or damaged, so restore it from the "
                                  "original checkpoint.", e) from e
        template = read_template(folder / TEMPLATE, topology_hash)
        tensors = read_weights(folder / WEIGHTS)
        net = _build_net(config, template, seed=0)
        stats = _load_state(net, tensors, folder / WEIGHTS, template.n_vertices)
        return cls(net, config, stats, template, doc.get("metadata") or {}, device)


def _build_net(config: WSDFConfig, template: Template, seed: int) -> WSDFNet:
    """A freshly initialized net for the template's hierarchy; the global RNG is untouched."""
    hierarchy = load_or_build_hierarchy(template, config.factors, config.spiral_length,
                                        config.dilation)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return WSDFNet(config, hierarchy.to_torch())


def _load_state(net: WSDFNet, tensors: dict[str, torch.Tensor], path: Path,
                n_vertices: int) -> NormStats:
    """Copy checked weights into `net`; return the normalization stored beside them."""
    expected = {**net.state_dict(), **{k: torch.empty(n_vertices, 3) for k in STATS_KEYS}}
    problems = [f"'{k}' is missing" for k in expected if k not in tensors]
    problems += [f"'{k}' is not part of this model" for k in tensors if k not in expected]
    problems += [f"'{k}' is {tuple(v.shape)} {v.dtype}, the configuration needs "
                 f"{tuple(e.shape)} {e.dtype}" for k, v in tensors.items()
                 if (e := expected.get(k)) is not None and (v.shape, v.dtype) != (e.shape, e.dtype)]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        if problems[0].startswith(("'spiral", "'kept")):  # vertex counts of the levels differ
            fix = ("this FaceForge builds another mesh hierarchy than the one the model was "
                   "trained with; open it with the FaceForge version that wrote it, or retrain.")
        else:
            fix = ("the files come from different checkpoints, so copy the whole folder from "
                   "one checkpoint.")
        raise CheckpointError(path, f"{path.name} does not match {CONFIG}: {problems[0]}{more}; "
                              + fix)
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(path, f"{path.name} holds NaN or infinite values in '{bad[0]}' "
                              "(training diverged); use an earlier checkpoint.")
    stats = NormStats.from_dict({"mean": tensors.pop(STATS_KEYS[0]).numpy(),
                                 "std": tensors.pop(STATS_KEYS[1]).numpy()})
    net.load_state_dict(tensors)
    return stats


def _like(t: torch.Tensor, as_numpy: bool) -> Any:
    """float32 numpy (B, ...) on the CPU when `as_numpy`, else the tensor itself."""
    return t.cpu().numpy() if as_numpy else t
