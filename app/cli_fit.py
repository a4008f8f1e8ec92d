"""`faceforge fit`, `neutralize`, `transfer` and `bench fit`: the command-line side of
core.fit (progress bars, tables, exit codes). SCAN may be one file or a folder of them; in a
folder, one scan's failure is reported in the summary and the others are still fitted. Ctrl-C
ends either with one line on stderr and exit code 130 (a batch prints its summary first)."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

SCAN_HELP = "a mesh or point cloud (.obj .ply .stl .off .glb) in any units and pose, or a folder of them"


def add_commands(sub) -> None:
    """Add the `fit`, `neutralize` and `transfer` subcommands."""
    p = sub.add_parser("fit", help="fit a raw scan (or a folder of scans) with a face model",
                       description="Fit a face model to a raw scan: automatic (or landmark) alignment, model "
                       "fit, per-vertex refinement. Writes a fit folder (registered.obj, neutral.obj in the scan's "
                       "frame, fit.json, residual.npy) and prints the error per region. For a folder of scans: "
                       "OUT/<scan name>/ per scan, a summary table, exit code 1 if any scan failed.")
    p.add_argument("scan", type=Path, help=SCAN_HELP)
    p.add_argument("-o", "--out", type=Path, required=True, help="fit folder to write (for a folder SCAN: "
                   "the folder that gets one fit folder per scan)")
    _common(p)
    p.set_defaults(run=run_fit)
    p = sub.add_parser("neutralize", help="write a raw scan's face with a neutral expression",
                       description="Fit a raw scan and write its neutral face (the fitted identity with the "
                       "expression removed, scan details kept) as an OBJ with the template's UVs, in the scan's "
                       "frame and units (or the model frame with --frame model). For a folder of scans: "
                       "OUT/<scan name>.obj per scan, a summary table, exit code 1 if any scan failed.")
    p.add_argument("scan", type=Path, help=SCAN_HELP)
    p.add_argument("-o", "--out", type=Path, required=True, help="neutral.obj to write (for a folder SCAN: a folder)")
    p.add_argument("--frame", choices=["scan", "model"], default="scan",
                   help="scan: the scan's frame and units (default); model: the model frame in mm")
    _common(p)
    p.set_defaults(run=run_neutralize)
    p = sub.add_parser("transfer", help="put one scan's expression on another scan's face",
                       description="Expression transfer between two raw scans (or fit folders written by "
                       "'faceforge fit'): the IDENTITY scan's face, its fitted identity with the per-vertex detail "
                       "of its refinement, making the EXPRESSION scan's fitted expression. Written as an OBJ with "
                       "the template's UVs, in the identity scan's frame and units (or the model frame with --frame "
                       "model). Both fits must come from the same model.")
    p.add_argument("identity", type=Path, help="scan or fit folder whose face is kept")
    p.add_argument("expression", type=Path, help="scan or fit folder whose expression is taken")
    p.add_argument("-o", "--out", type=Path, required=True, help="OBJ to write")
    p.add_argument("--frame", choices=["scan", "model"], default="scan",
                   help="scan: the identity scan's frame and units (default); model: the model frame in mm")
    p.add_argument("--model", type=Path, help="model checkpoint folder (or its run folder); default: the shipped model")
    p.add_argument("--no-refine", action="store_true", help="skip the per-vertex refinement of scans fitted here")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    p.set_defaults(run=run_transfer)


def _common(p) -> None:
    p.add_argument("--model", type=Path, help="model checkpoint folder (or its run folder); default: the shipped model")
    p.add_argument("--landmarks", type=Path, help="JSON object of template landmark name -> [x, y, z] in scan "
                   "coordinates; 4 or more align the scan by hand (one scan only)")
    p.add_argument("--no-refine", action="store_true", help="skip the per-vertex refinement (the model fit only)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")


def _interruptible(run: Callable[..., int]) -> Callable[..., int]:
    """Turn Ctrl-C (KeyboardInterrupt) into one line on stderr and exit code 130, no traceback."""
    @functools.wraps(run)
    def wrapper(args) -> int:
        try:
            return run(args)
        except KeyboardInterrupt:
            print(f"faceforge {args.command}: interrupted (Ctrl-C); {args.out} was not written", file=sys.stderr)
            return 130

    return wrapper


@_interruptible
def run_fit(args) -> int:
    """`faceforge fit`: one scan -> a fit folder and its region table; a folder -> a batch."""
    from faceforge.core.fit.batch import region_table
    from faceforge.core.fit.result import FILES

    fitter = _Fitter(args)
    if args.scan.is_dir():
        return fitter.batch(args.scan, args.out, "", lambda result, out: result.save(out))
    out = args.out
    if out.exists() and not (out.is_dir() and ((out / FILES[0]).is_file() or not any(out.iterdir()))):
        raise SystemExit(f"faceforge fit: '{out}' exists and is not a fit folder; choose a new or empty folder")
    result = fitter.fit(args.scan)
    print(region_table(result))
    for note in result.notes:
        print(f"note: {note}")
    result.save(out)  # atomic: an interrupt leaves `out` as it was
    print(f"fitted in {result.seconds:.1f} s; wrote {args.out}")
    return 0


@_interruptible
def run_neutralize(args) -> int:
    """`faceforge neutralize`: one scan -> neutral.obj; a folder -> a batch of OBJs."""
    from faceforge.core.fit.batch import write_neutral

    if not args.scan.is_dir() and args.out.suffix.lower() != ".obj":
        raise SystemExit(f"faceforge neutralize: the neutral face is written as OBJ; name it .obj, not '{args.out}'")
    fitter = _Fitter(args)
    if args.scan.is_dir():
        return fitter.batch(args.scan, args.out, ".obj", lambda result, out: write_neutral(result, out, args.frame))
    result = fitter.fit(args.scan)
    write_neutral(result, args.out, args.frame)
    frame = "the scan's frame and units" if args.frame == "scan" else "the model frame (mm)"
    print(f"fitted in {result.seconds:.1f} s; wrote the neutral face to {args.out} ({frame})")
    return 0


@_interruptible
def run_transfer(args) -> int:
    """`faceforge transfer`: the identity scan's face with the expression scan's expression, as OBJ."""
    from faceforge.core.fit.batch import write_face
    from faceforge.core.fit.transfer import transfer_expression

    if args.out.suffix.lower() != ".obj":
        raise SystemExit(f"faceforge transfer: the face is written as OBJ; name it .obj, not '{args.out}'")
    fitter = _Fitter(args)
    target, source = fitter.fit_or_load(args.identity), fitter.fit_or_load(args.expression)
    try:
        face = transfer_expression(target, source, fitter.model)
    except ValueError as exc:
        raise SystemExit(f"faceforge transfer: {exc}") from exc
    write_face(target, face, args.out, args.frame)
    print(f"wrote {args.identity.name}'s face with {args.expression.name}'s expression to {args.out}")
    return 0


class _Fitter:
    """The model, options and landmarks of one command, and how it shows progress."""

    def __init__(self, args):
        from faceforge.core.fit.batch import read_landmarks
        from faceforge.core.fit.fitting import FitOptions

        landmarks = getattr(args, "landmarks", None)
        if landmarks is not None and args.scan.is_dir():
            raise SystemExit(f"faceforge {args.command}: --landmarks places one scan; fit a folder without it")
        self.command = args.command
        self.landmarks = read_landmarks(landmarks) if landmarks else None
        self.options = FitOptions(refine=not args.no_refine)
        self.model = load_model(args.model, args.device)

    def fit(self, path: Path, bar=None):
        """Fit one scan file, showing its stages on `bar` (or on a bar of its own)."""
        from tqdm import tqdm

        from faceforge.core.fit.batch import fit_file
        from faceforge.core.progress import drive

        own = bar is None
        bar = bar or tqdm(desc=path.name, unit="step", dynamic_ncols=True)

        def on_step(step) -> None:
            if own:
                bar.total = step.total
                bar.update(step.step - bar.n)
            bar.set_postfix(scan=path.name, stage=step.stage, rmse=f"{step.rmse:.2f}", refresh=False)

        try:
            return drive(fit_file(self.model, path, self.options, landmarks=self.landmarks), on_step)
        finally:
            if own:
                bar.close()

    def fit_or_load(self, path: Path):
        """A fit folder's FitResult (made with this model), or a scan file fitted now."""
        from faceforge.core.fit.result import FILES, FitResult

        if path.is_dir():
            if not (path / FILES[0]).is_file():
                raise SystemExit(f"faceforge {self.command}: '{path}' is a folder but not a fit folder "
                                 "(written by 'faceforge fit'); give a scan file or a fit folder")
            return FitResult.load(path, self.model.template)
        return self.fit(path)

    def batch(self, folder: Path, out: Path, suffix: str, save: Callable) -> int:
        """Fit every scan in `folder`, save each to out/<name><suffix>, print the summary; the exit
        code is 1 when a scan failed, 130 when interrupted."""
        from tqdm import tqdm

        from faceforge.core.fit.batch import output_names, run_batch, scan_files, summary_table

        if out.exists() and not out.is_dir():
            raise SystemExit(f"faceforge {self.command}: '{out}' is a file; give a folder for the results")
        paths = scan_files(folder)
        out.mkdir(parents=True, exist_ok=True)
        rows, interrupted = [], False
        with tqdm(total=len(paths), unit="scan", desc=self.command, dynamic_ncols=True) as bar:
            try:
                for row in run_batch(paths, [out / f"{n}{suffix}" for n in output_names(paths)],
                                     lambda path: self.fit(path, bar), save):
                    rows.append(row)
                    bar.update(1)
            except KeyboardInterrupt:
                interrupted = True
        print(summary_table(rows))
        if interrupted:
            print(f"interrupted: {len(paths) - len(rows)} scans not fitted")
            return 130
        return 1 if any(not row.ok for row in rows) else 0


def load_model(folder: Path | None, device: str):
    """The model in `folder` (a checkpoint or its run folder), else the shipped default model."""
    from faceforge.core.models.registry import load_default_model
    from faceforge.core.models.registry import load_model as load

    if folder is None:
        return load_default_model(device)
    return load(folder / "checkpoint" if (folder / "checkpoint").is_dir() else folder, device)


def bench_section(args) -> str:
    """`faceforge bench fit`: run core.fit.bench with a progress bar; returns the Markdown section."""
    from tqdm import tqdm

    from faceforge.core.fit.bench import bench_fit

    model = load_model(args.model, "cpu")
    conditions = args.conditions.split(",") if args.conditions else None
    name = "default" if args.model is None else args.model.resolve().name
    with tqdm(unit="scan", desc="bench fit", dynamic_ncols=True) as bar:
        def progress(done: int, total: int, score) -> None:
            bar.total = total
            bar.set_postfix(last=f"{score.condition} {'FAILED' if score.error else f'{score.seconds:.1f}s'}")
            bar.update(done - bar.n)

        return bench_fit(model, args.subjects or 4, args.per_subject or 1, args.seed, conditions, name, progress)
