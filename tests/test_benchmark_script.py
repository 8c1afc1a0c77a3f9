"""The benchmark script runs end to end and its results agree with the cdist baseline (no timing asserted)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "examples" / "benchmark_nearest_code.py"


def test_benchmark_runs_and_reports_no_mismatches(capsys):
    spec = importlib.util.spec_from_file_location("benchmark_nearest_code", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--m", "3000", "--n", "64", "100", "--devices", "cpu", "--repeats", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line.split() for line in lines if line.startswith("cpu ")]
    assert len(rows) == 2
    for row in rows:
        assert row[-1] == "0", f"ours disagrees with cdist: {row}"
        assert row[-3].endswith("x") and float(row[-3][:-1]) > 0
