import subprocess
import sys

import pytest

from codephys_plugin.bundle import load_bundle
from codephys_plugin.pretrain import main
from tests.helpers.strict_json import read_strict_json


def test_help_lists_every_option():
    completed = subprocess.run(
        [sys.executable, "-m", "codephys_plugin.pretrain", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--num-codes", "--dim", "--epochs", "--batch-size", "--lr", "--window", "--fs", "--seed",
                   "--format", "--column", "--time-column", "--val", "--skip-bad", "--resume", "--out", "--label-form"):
        assert option in completed.stdout
    assert "default" in completed.stdout


TINY = ["--train-recordings", "4", "--val-recordings", "2", "--duration", "12", "--epochs", "2",
        "--num-codes", "8", "--dim", "8", "--no-progress"]


def test_tiny_synthetic_run_prints_metrics_and_writes_bundle_and_report(capsys, tmp_path):
    code = main([*TINY, "--out", str(tmp_path / "codebook")])
    out = capsys.readouterr().out
    assert code == 0
    assert "epoch  2/2" in out
    assert "waveform Pearson r" in out and "HR MAE" in out and "perplexity" in out
    bundle = load_bundle(tmp_path / "codebook")
    assert bundle.config.num_codes == 8 and bundle.config.window == 160
    report = read_strict_json(tmp_path / "codebook" / "report.json")
    assert len(report["recordings"]) == 2 and report["skipped"] == []
    assert (tmp_path / "codebook" / "report.png").stat().st_size > 10_000


@pytest.mark.slow
def test_default_main_job_reaches_the_fidelity_target(capsys, tmp_path):
    """The README's main job: a 64x64 codebook on synthetic PPG reconstructs held-out recordings
    with waveform r >= 0.99 (fewer epochs than the demo to keep CI short)."""
    assert main(["--epochs", "6", "--no-progress", "--out", str(tmp_path / "codebook.safetensors")]) == 0
    out = capsys.readouterr().out
    r = float(out.split("waveform Pearson r")[1].split()[0])
    mae = float(out.split("HR MAE / RMSE / SD (bpm)")[1].split()[0])
    assert r >= 0.99
    assert mae <= 1.0
