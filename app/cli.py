"""`faceforge` command line: one entry point, one subcommand per task.

Heavy modules (torch, vtk, the generator) are imported inside the subcommand that needs them,
so `faceforge --help` answers at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PREVIEW_EXPRESSIONS = ("neutral", "smile", "mouth_stretch", "anger", "lip_puckerer",
                       "cheek_blowing", "eye_closed", "brow_raiser", "jaw_left")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    from ..core.errors import FaceForgeError

    try:
        return args.run(args) or 0
    except FaceForgeError as exc:
        print(f"faceforge {args.command}: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faceforge", description="Editor and tools for learned, disentangled 3D face models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_synth(sub)
    _add_bench(sub)
    return parser


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="generate the synthetic face population (MakeHuman assets)",
                       description="Generate identities x expressions with ground truth, as a "
                       "packed dataset, and/or a preview picture of subjects x expressions.")
    p.add_argument("--subjects", type=int, default=300, help="number of subjects (default 300)")
    p.add_argument("--per-subject", type=int, default=20,
                   help="meshes per subject: the 20 categories, then random mixtures (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parts", default="", help="optional head parts, comma separated: eyes,mouth")
    p.add_argument("--out", type=Path, help="dataset folder to write")
    p.add_argument("--preview", type=Path, help="PNG grid of subjects x expressions to write")
    p.add_argument("--preview-subjects", type=int, default=6)
    p.set_defaults(run=_run_synth)


def _run_synth(args) -> int:
    from tqdm import tqdm

    from ..core.data.packed import write_packed
    from ..core.data.synth.generate import SynthConfig, generate

    if args.out is None and args.preview is None:
        raise SystemExit("faceforge synth: give --out DIR, --preview PNG, or both")
    parts = tuple(p for p in args.parts.split(",") if p)
    subjects = args.subjects if args.out else min(args.subjects, args.preview_subjects)
    config = SynthConfig(subjects=subjects, per_subject=args.per_subject, seed=args.seed,
                         parts=parts)
    with tqdm(total=config.subjects, unit="subject", desc="synth") as bar:
        dataset = generate(config, progress=lambda done, total: bar.update(1))
    if args.out:
        write_packed(dataset, args.out)
        print(f"wrote {len(dataset)} meshes of {config.subjects} subjects to {args.out}")
    if args.preview:
        _preview(dataset, args.preview, args.preview_subjects)
        print(f"wrote {args.preview}")
    return 0


def _preview(dataset, path: Path, n_subjects: int) -> None:
    """Render subjects (rows) x expressions (columns) off-screen."""
    import numpy as np

    from .offscreen import render_grid

    subjects = dataset.subjects()[:n_subjects]
    columns = [e for e in PREVIEW_EXPRESSIONS if e in set(dataset.expression)]
    meshes, labels = [], []
    for s in subjects:
        rows = dataset.subject == s
        for e in columns:
            meshes.append(dataset.vertices[np.flatnonzero(rows & (dataset.expression == e))[0]])
        i = np.flatnonzero(rows)[0]
        labels.append(f"{s} {dataset.age[i]:.0f}y")
    render_grid(meshes, dataset.template.triangles(), path, rows=len(subjects),
                cols=len(columns), row_labels=labels,
                col_labels=[c.replace("_", " ") for c in columns], tile=(200, 220))


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure speed and write docs/BENCHMARKS.md",
                       description="Run a benchmark and update its section of BENCHMARKS.md.")
    p.add_argument("what", choices=["synth"], help="synth: default population generation time")
    p.add_argument("--subjects", type=int, default=300)
    p.add_argument("--per-subject", type=int, default=20)
    p.add_argument("--report", type=Path, default=Path("docs/BENCHMARKS.md"))
    p.set_defaults(run=_run_bench)


def _run_bench(args) -> int:
    from ..core.bench import bench_synth, update_report

    text = bench_synth(args.subjects, args.per_subject)
    update_report(args.report, "synth", text)
    print(text)
    return 0
