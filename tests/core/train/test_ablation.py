"""The ablation benchmark's mechanics on tiny data (its numbers only mean something at scale)."""
import re

import pytest

from faceforge.app.cli import main
from faceforge.core.data.packed import write_packed
from faceforge.core.errors import CheckpointError
from faceforge.core.eval.ablation import report, run_ablation, variants


def test_variants_switch_the_losses(tiny_config):
    v = variants(tiny_config)
    weights = [(c.loss.neu > 0, c.loss.jac > 0, c.loss.mi > 0, c.drop_neutral) for c in v.values()]
    assert weights == [(False, False, False, False), (True, False, False, False),
                       (True, True, False, False), (True, True, True, False), (True, True, True, True)]


def test_every_variant_trains_and_the_report_checks_the_paper(tiny_config, tiny_data, tmp_path):
    seen = set()
    results = run_ablation(tiny_config.replace(steps=3), tiny_data, tmp_path / "runs",
                           lambda name, step, total: seen.add(name))
    assert len(seen) == 5 and list(results) == list(variants(tiny_config))
    text = report(results, 3)
    assert text.count("\n| ") == 7  # header, separator, 5 variants
    assert len(re.findall(r"-> (MET|NOT MET)", text)) == 3
    seen.clear()  # a second call reuses the finished runs and reports their recorded time
    again = run_ablation(tiny_config.replace(steps=3), tiny_data, tmp_path / "runs",
                         lambda name, step, total: seen.add(name))
    assert not seen and again == results
    # a run folder trained with other settings is refused, not reported as this config's variant
    with pytest.raises(CheckpointError, match=r"variant 'baseline \(rec \+ KL\)'.*lr: 0\.001 in the "
                       r"checkpoint, 0\.002 in the config") as caught:
        run_ablation(tiny_config.replace(steps=3, lr=2e-3), tiny_data, tmp_path / "runs")
    assert caught.value.path == tmp_path / "runs" / "0" / "checkpoint" / "trainer.json"


def test_bench_ablation_command_writes_its_section(tiny_model, tiny_data, tmp_path):
    write_packed(tiny_data, tmp_path / "data")
    model = ", ".join(f"{k}: {v}" for k, v in tiny_model.to_dict().items())
    (tmp_path / "cfg.yaml").write_text(f"model: {{{model}}}\nsubjects_per_batch: 2\n"
                                       "samples_per_subject: 3\ntest_fraction: 0.25\n")
    assert main(["bench", "ablation", "--data", str(tmp_path / "data"), "--config",
                 str(tmp_path / "cfg.yaml"), "--steps", "2", "--out", str(tmp_path / "runs"),
                 "--report", str(tmp_path / "B.md")]) == 0
    text = (tmp_path / "B.md").read_text()
    assert "<!-- bench:ablation -->" in text and "full, no neutral scans" in text
    assert (f"`faceforge bench ablation --data {tmp_path / 'data'} --config {tmp_path / 'cfg.yaml'} "
            f"--steps 2 --out {tmp_path / 'runs'}`") in text  # the command reproduces the run
