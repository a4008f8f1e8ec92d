"""The `faceforge` command line, run as a user runs it."""
import subprocess
import sys

import numpy as np
from PIL import Image

from faceforge.app.cli import main
from faceforge.core.data.packed import read_packed


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "faceforge.app", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("synth", "bench"):
        assert command in out


def test_synth_writes_dataset_and_preview(tmp_path):
    png = tmp_path / "synth.png"
    assert main(["synth", "--subjects", "2", "--per-subject", "20", "--seed", "5",
                 "--out", str(tmp_path / "ds"), "--preview", str(png)]) == 0
    ds = read_packed(tmp_path / "ds")
    assert len(ds) == 40 and ds.meta["config"]["seed"] == 5
    image = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert image.shape[0] > 300 and image.shape[1] > 1000
    assert image.std() > 20  # faces, labels and background, not a blank picture


def test_synth_without_output_is_a_usage_error(capsys):
    try:
        main(["synth"])
    except SystemExit as exc:
        assert "--out" in str(exc)
    else:
        raise AssertionError("expected a usage error")


def test_bench_synth_updates_its_report_section(tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\nkept text\n")
    assert main(["bench", "synth", "--subjects", "2", "--per-subject", "2",
                 "--report", str(report)]) == 0
    assert main(["bench", "synth", "--subjects", "2", "--per-subject", "3",
                 "--report", str(report)]) == 0
    text = report.read_text()
    assert "kept text" in text and text.count("<!-- bench:synth -->") == 1
    assert "2 subjects x 3 = 6 meshes" in text
