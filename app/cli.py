"""`faceforge` command line: one entry point, one subcommand per task.

Heavy modules (torch, vtk, the generator) are imported inside the subcommand that needs them,
so `faceforge --help` answers at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_fit import add_commands as add_fit_commands

PREVIEW_EXPRESSIONS = ("neutral", "smile", "mouth_stretch", "anger", "lip_puckerer",
                       "cheek_blowing", "eye_closed", "brow_raiser", "jaw_left")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):  # no subcommand: the editor
        args = parser.parse_args(["gui"])
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
    _add_gui(sub)
    _add_synth(sub)
    _add_train(sub)
    _add_eval(sub)
    _add_semantics(sub)
    _add_export(sub)
    add_fit_commands(sub)
    _add_bench(sub)
    return parser


def _add_gui(sub) -> None:
    p = sub.add_parser("gui", help="open the editor (the default when no command is given)",
                       description="Open the editor with a project, a model, the shipped default "
                       "model, or the most recently opened model (in that order).")
    p.add_argument("project", nargs="?", type=Path, help="a .ffproj project to open")
    p.add_argument("--model", type=Path, help="a model checkpoint folder to open")
    p.set_defaults(run=_run_gui)


def _run_gui(args) -> int:
    from .gui import run

    return run(args.project, args.model)


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


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a WSDF model on a dataset (CPU, GPU or torchrun DDP)",
                       description="Train a WSDF model. Resumes from RUN/checkpoint when it exists; "
                       "Ctrl-C stops after the current step and writes a checkpoint. For several "
                       "processes: torchrun --nproc_per_node=P -m faceforge.app train ...")
    p.add_argument("--config", type=Path, help="YAML training config (default: built-in defaults)")
    p.add_argument("--data", type=Path, required=True,
                   help="dataset: packed folder, manifest CSV, FaceScape or CoMA layout")
    p.add_argument("--out", type=Path, required=True, help="run folder (checkpoint/, events.jsonl)")
    p.add_argument("--steps", type=int, help="total optimizer steps (overrides the config)")
    p.add_argument("--device", help="cpu, cuda, mps or auto (overrides the config)")
    p.add_argument("--threads", type=int, help="torch CPU threads (overrides the config)")
    p.add_argument("--restart", action="store_true",
                   help="ignore an existing checkpoint in --out and start over")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    import os
    import signal
    import threading

    from tqdm import tqdm

    from ..core.data.readers import read_dataset
    from ..core.train.config import TrainConfig
    from ..core.progress import drive
    from ..core.train.events import CheckpointEvent, EvalEvent, StepEvent
    from ..core.train.trainer import train

    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    overrides = {k: v for k, v in (("steps", args.steps), ("device", args.device),
                                   ("threads", args.threads)) if v is not None}
    config = config.replace(**overrides)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    dataset = read_dataset(args.data)
    cancel = threading.Event()

    def on_signal(signum, frame):  # first Ctrl-C: stop cleanly; a second one: the default
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if main_rank:
            print("\nstopping after this step (Ctrl-C again to abort without a checkpoint)...",
                  file=sys.stderr)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    gen = train(config, dataset, args.out, resume=not args.restart, cancel=cancel)
    bar = tqdm(unit="step", desc="train", disable=not main_rank, dynamic_ncols=True)
    def on_event(event) -> None:
        if isinstance(event, StepEvent):
            if bar.total != event.total:  # first step (maybe resumed mid-run)
                bar.reset(total=event.total)
                bar.update(event.step - 1)
            bar.set_postfix(_postfix(event), refresh=False)
            bar.update(event.step - bar.n)
        elif isinstance(event, EvalEvent):
            bar.write(f"step {event.step}: " + "  ".join(
                f"{k} {v:.3f}" for k, v in event.metrics.items() if k.endswith("_mean")) + "  (mm)")
        elif isinstance(event, CheckpointEvent):
            bar.write(f"step {event.step}: checkpoint {event.path}")

    try:
        result = drive(gen, on_event)
    finally:
        bar.close()
        gen.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if main_rank:
        state = "cancelled" if result.cancelled else "finished"
        print(f"{state} at step {result.step}; checkpoint {result.checkpoint}")
        if result.cancelled:
            print("run the same command again to resume")
        elif "arkit" in dataset.extras:
            _fit_semantics(result.checkpoint, dataset)
    return 130 if result.cancelled else 0


def _fit_semantics(folder, dataset) -> None:
    from ..core.models.semantics import fit_for_checkpoint

    fitted = fit_for_checkpoint(folder, dataset)
    print(f"semantic controls fitted on {fitted.info['subjects']} training subjects: "
          f"{len(fitted.categories)} expression presets, attributes {', '.join(fitted.attributes)}")


def _add_semantics(sub) -> None:
    p = sub.add_parser("semantics", help="fit a model's named expressions, attribute sliders and "
                       "plausibility prior", description="Encode the model's training subjects "
                       "and fit its semantic controls (ARKit sliders, expression presets, attribute "
                       "directions, plausibility); writes semantics.safetensors into the model.")
    p.add_argument("--model", type=Path, required=True, help="model folder (or a run folder)")
    p.add_argument("--data", type=Path, required=True,
                   help="the dataset it was trained on (needs ARKit coefficients)")
    p.set_defaults(run=_run_semantics)


def _run_semantics(args) -> int:
    from ..core.data.readers import read_dataset

    folder = args.model / "checkpoint" if (args.model / "checkpoint").is_dir() else args.model
    _fit_semantics(folder, read_dataset(args.data))
    return 0


def _postfix(event) -> dict[str, str]:
    keys = [k for k in ("rec", "neu", "jac", "kl", "mi") if k in event.losses]
    out = {k: f"{event.losses[k]:.3g}" for k in keys}
    out["mesh/s"] = f"{event.meshes_per_s:.0f}"
    return out


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a trained model on the held-out subjects",
                       description="Print E_avd, E_id, E_exp and E_neu (mm, mean and median) on "
                       "the held-out subjects of DATA, split with the seed stored in the "
                       "checkpoint, and save them as eval.json in the run folder.")
    p.add_argument("--model", type=Path, required=True, help="run folder (or its checkpoint/)")
    p.add_argument("--data", type=Path, required=True, help="the dataset the model was trained on")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    p.add_argument("--batch", type=int, default=64, help="meshes per forward pass")
    p.set_defaults(run=_run_eval)


def _run_eval(args) -> int:
    import json

    from ..core.cache import atomic_write_bytes
    from ..core.data.readers import read_dataset
    from ..core.eval.evaluate import METRICS, evaluate, held_out
    from ..core.models.registry import load_model
    from ..core.train.checkpoint import CHECKPOINT

    folder = args.model / CHECKPOINT if (args.model / CHECKPOINT).is_dir() else args.model
    run_dir = folder.parent if folder.name == CHECKPOINT else folder
    model = load_model(folder, args.device)
    test, split = held_out(model, read_dataset(args.data), folder)
    test_ids = [str(s) for s in test.subjects()]
    report = evaluate(model, test, batch=args.batch)
    m = report.metrics
    print(f"held-out: {len(test_ids)} subjects, {len(test)} meshes (split seed {split['seed']}, "
          f"test fraction {split['test_fraction']})")
    if test_ids != split.get("test_subjects", test_ids):
        print("note: these are not the subjects held out during training (different data?)")
    print(f"{'metric':<8}{'mean':>10}{'median':>10}   (mm)")
    for name in METRICS:
        print(f"{'E_' + name[2:]:<8}{m[name + '_mean']:>10.4f}{m[name + '_median']:>10.4f}")
    doc = {"metrics": m, "counts": report.counts, "data": str(args.data), "split": split,
           "test_subjects": test_ids, "step": (model.metadata.get("train") or {}).get("step")}
    out = run_dir / "eval.json"
    atomic_write_bytes(out, (json.dumps(doc, indent=1, allow_nan=True) + "\n").encode())
    print(f"wrote {out}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a face as an FBX, glTF (.glb) or OBJ blendshape rig",
                       description="Decode the neutral and the 52 ARKit shapes of one identity and write "
                       "them as a blendshape rig; a project's timeline becomes the animation. The "
                       "identity is the project's, a random one (--seed), z_id from an .npz (--codes), "
                       "or the mean face.")
    p.add_argument("--model", type=Path, help="model checkpoint folder (or its run folder); "
                   "default: the project's model")
    face = p.add_mutually_exclusive_group()
    face.add_argument("--project", type=Path, help="a .ffproj project: its identity and timeline")
    face.add_argument("--seed", type=int, help="a random identity from the model's prior")
    face.add_argument("--codes", type=Path, help="an .npz with an identity code `z_id`")
    p.add_argument("-o", "--out", type=Path, required=True, help="face.fbx, face.glb or face.obj")
    p.add_argument("--units", default="mm", choices=["mm", "cm", "m"], help="FBX/OBJ units (glTF: metres)")
    p.add_argument("--naming", default="arkit", choices=["arkit", "ict", "livelink"])
    p.add_argument("--shapes", default="all", help="all (the 52), categories, or name,name,...")
    p.add_argument("--intensity", type=float, default=1.0, help="ARKit coefficient that weight 1 means")
    p.add_argument("--fbx-version", type=int, default=7400, choices=[7400, 7500])
    p.add_argument("--obj-shapes", action="store_true", help="OBJ: also one OBJ per shape")
    p.add_argument("--obj-sequence", action="store_true", help="OBJ: also one OBJ per timeline frame")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from ..core.document import check_sizes, open_project
    from ..core.errors import ExportError
    from ..core.export import ExportOptions, export, rig_from_state, select_shapes
    from .session import load_session

    project = open_project(args.project) if args.project else None
    folder = args.model or (Path(project.model_path) if project and project.model_path else None)
    if folder is None:
        raise ExportError("no model: give --model MODEL_DIR (the project names none)")
    session = load_session(_model_folder(folder))
    model = session.model
    if project is not None:
        check_sizes(project, args.project, model.id_dim, model.exp_dim, len(session.arkit_units))
        state = project.state
    elif args.seed is not None:
        state = session.new_state().replace(z_id=session.basis.random(args.seed))
    elif args.codes is not None:
        state = session.new_state().replace(z_id=_read_z_id(args.codes))
    else:
        state = session.new_state()
    categories, shapes = select_shapes(args.shapes, session.semantics) if session.semantics else (False, None)
    options = ExportOptions(units=args.units, naming=args.naming, shapes=shapes, fbx_version=args.fbx_version,
                            obj_shapes=args.obj_shapes, obj_sequence=args.obj_sequence)
    rig = rig_from_state(model, session.semantics, state, args.intensity, categories, name=args.out.stem)
    written = export(rig, args.out, options)
    frames = "" if rig.animation is None else f", {len(rig.animation.times)} frames"
    print(f"wrote {len(written)} file(s): {args.out} ({len(shapes or rig.shapes)} shapes{frames})")
    return 0


def _read_z_id(path: Path):
    import numpy as np

    from ..core.errors import ExportError

    try:
        with np.load(path) as codes:
            return np.asarray(codes["z_id"], np.float32).reshape(-1)
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"cannot read an identity code `z_id` from '{path}' ({exc}); save one with "
                          "numpy.savez(path, z_id=...)", path, exc) from exc


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure speed and write docs/BENCHMARKS.md",
                       description="Run a benchmark and update its section of BENCHMARKS.md.")
    p.add_argument("what", choices=["synth", "gui", "export", "ablation", "train", "fit", "model"], help=(
        "synth: default population generation time; gui: slider-to-frame latency and GUI stalls during "
        "training (needs a display); export: a 52-shape rig with a 300-frame timeline decoded and written as "
        "FBX and GLB; ablation: the WSDF ablation (baseline, +bank, +Jacobian, +MI, no neutrals) on --data; "
        "train: training meshes/s and peak memory (JVP vs full-Jacobian loss), decode/encode latency; fit: "
        "raw scans of held-out subjects (densities, noise, holes, crop, pose, units, shoulders, cap) fitted "
        "and scored against the ground truth; model: held-out metrics, training time and size of the "
        "shipped (or --model) model and any --runs, on --data"))
    p.add_argument("--subjects", type=int, help="synth: subjects (default 300); fit: held-out subjects (default 4)")
    p.add_argument("--per-subject", type=int, help="synth: meshes per subject (default 20); fit: expressions "
                   "per subject, each scanned under every condition (default 1)")
    p.add_argument("--seed", type=int, default=1, help="fit: seed of the held-out population (the default "
                   "model was trained on seed 0)")
    p.add_argument("--conditions", help="fit: comma-separated scan conditions (default all: 10k, 50k-holes, "
                   "100k-crop, 100k-m, 300k-cm, 50k-shoulders, 50k-cap-m)")
    p.add_argument("--model", type=Path, help="gui, export, fit, model: model checkpoint folder (default: the "
                   "shipped model)")
    p.add_argument("--runs", type=Path, nargs="+", default=[], help="model: more run folders to compare "
                   "(e.g. a retraining of the default model)")
    p.add_argument("--moves", type=int, default=200, help="gui: slider changes to time (default 200)")
    p.add_argument("--train-steps", type=int, default=60, help="gui: steps of the background training")
    p.add_argument("--data", type=Path, help="ablation, model: dataset (the default population); train: dataset "
                   "(default: 40 x 10 synthetic)")
    p.add_argument("--config", type=Path, help="ablation, train: YAML training config (train: default "
                   "resources/train/default.yaml)")
    p.add_argument("--steps", type=int, help="ablation: steps per variant (overrides the config); train: timed "
                   "steps per variant (default 40)")
    p.add_argument("--out", type=Path, default=Path("runs/ablation"), help="ablation: run folders")
    p.add_argument("--report", type=Path, default=Path("docs/BENCHMARKS.md"))
    p.set_defaults(run=_run_bench)


def _run_bench(args) -> int:
    from ..core.bench import bench_export, bench_synth, update_report

    if args.what == "gui":
        from .bench_gui import run

        text = run(args.model, args.moves, args.train_steps)
    elif args.what == "export":
        text = bench_export(_model_folder(args.model))
    elif args.what == "ablation":
        text = _ablation(args)
    elif args.what == "train":
        text = _bench_train(args)
    elif args.what == "fit":
        from .cli_fit import bench_section

        text = bench_section(args)
    elif args.what == "model":
        text = _bench_model(args)
    else:
        text = bench_synth(args.subjects or 300, args.per_subject or 20)
    update_report(args.report, args.what, text)
    print(text)
    return 0


def _ablation(args) -> str:
    import shlex

    from tqdm import tqdm

    from ..core.data.readers import read_dataset
    from ..core.eval.ablation import report, run_ablation
    from ..core.train.config import TrainConfig

    if args.data is None:
        raise SystemExit("faceforge bench ablation: give --data DIR (e.g. the default population)")
    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    config = config.replace(steps=args.steps or config.steps)
    if not config.steps:
        raise SystemExit("faceforge bench ablation: give --steps N (the same budget for every variant)")
    bars: dict[str, tqdm] = {}

    def progress(name: str, step: int, total: int) -> None:
        bar = bars.get(name) or bars.setdefault(name, tqdm(total=total, desc=name, unit="step"))
        bar.update(step - bar.n)

    results = run_ablation(config, read_dataset(args.data), args.out, progress)
    for bar in bars.values():
        bar.close()
    command = ["faceforge", "bench", "ablation", "--data", str(args.data)]
    if args.config:
        command += ["--config", str(args.config)]
    command += ["--steps", str(config.steps), "--out", str(args.out)]
    return f"`{shlex.join(command)}`\n\n{report(results, config.steps)}"


def _bench_model(args) -> str:
    from ..core.bench import bench_model

    if args.data is None:
        raise SystemExit("faceforge bench model: give --data DIR (the dataset the models were trained on)")
    command = " ".join(["faceforge bench model --data", str(args.data)]
                       + ([f"--model {args.model}"] if args.model else [])
                       + ([f"--runs {' '.join(map(str, args.runs))}"] if args.runs else []))
    return bench_model([_model_folder(args.model), *map(_model_folder, args.runs)], args.data, command)


def _bench_train(args) -> str:
    from importlib.resources import files

    from ..core.train.config import TrainConfig
    from ..core.train.speed import bench_train

    config = args.config or Path(str(files("faceforge.resources"))) / "train" / "default.yaml"
    return bench_train(TrainConfig.from_yaml(config), args.data, args.steps or 40)


def _model_folder(folder: Path | None) -> Path:
    """`folder` (a checkpoint or its run folder), else the shipped default model."""
    from ..core.errors import CheckpointError
    from .settings import default_model

    folder = folder or default_model()
    if folder is None:
        raise CheckpointError(".", "no model given and none ships with this install; pass --model MODEL_DIR")
    return folder / "checkpoint" if (folder / "checkpoint").is_dir() else folder
