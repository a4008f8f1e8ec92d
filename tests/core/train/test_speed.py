"""`faceforge bench train` on a tiny model and dataset: the report has every row, measured."""
import re

from faceforge.core.data.packed import write_packed
from faceforge.core.train.speed import VARIANTS, bench_train


def test_bench_train_reports_every_variant_with_memory_and_latency(tmp_path, tiny_data, tiny_config):
    write_packed(tiny_data, tmp_path / "data")
    text = bench_train(tiny_config, tmp_path / "data", steps=3, warmup=1, threads=1)
    for name in VARIANTS:
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        rate, ratio, peak = re.fullmatch(r"\| .+ \| ([\d.]+) \| ([\d.]+)x \| ([\d.]+) GiB \|", row).groups()
        assert float(rate) > 0 and float(ratio) > 0
        assert 0.1 < float(peak) < 8  # a Python process with torch loaded, far from the machine's 24 GiB
    assert "decode (z_id, z_exp) -> mesh | 1 |" in text and "encode mesh -> (z_id, z_exp) | 1 |" in text
    checks = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(checks) == 3 and all(re.search(r"-> (MET|MISSED)$", line) for line in checks)
    slowest = float(re.search(r"slowest ([\d.]+)", checks[0]).group(1))
    all_losses = next(line for line in text.splitlines() if line.startswith("| all five losses (Jacobian by JVP) |"))
    assert slowest == float(all_losses.split("|")[2])  # the one JVP all-losses row of a given dataset
