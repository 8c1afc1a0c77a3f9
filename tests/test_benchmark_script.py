"""The benchmark script runs end to end and its results agree with the cdist baseline (no timing asserted)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "examples" / "benchmark_nearest_code.py"


def test_benchmark_runs_and_reports_no_mismatches():
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--m", "3000", "--n", "64", "100", "--devices", "cpu", "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split() for line in completed.stdout.splitlines() if line.startswith("cpu ")]
    assert len(rows) == 2
    for row in rows:
        assert row[-1] == "0", f"ours disagrees with cdist: {row}"
        assert row[-3].endswith("x") and float(row[-3][:-1]) > 0

