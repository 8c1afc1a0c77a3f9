"""Stage I on real contact PPG (PhysioKit, MIT licence) from ../shared; skipped in a user's checkout.

Train on P11, P12, P21 (finger), validate on P22 (finger) and on the ear channel of every participant
with timestamps: the reconstruction must keep the waveform (r >= 0.99) and the heart rate
(MAE <= 0.2 bpm against the original's).
"""

from pathlib import Path

import pytest

from codephys_plugin.pretrain import main
from tests.helpers.strict_json import read_strict_json

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "physiokit"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/physiokit is not present")


@pytest.mark.slow
def test_codebook_from_finger_ppg_reconstructs_held_out_and_ear_ppg(tmp_path, capsys):
    out = tmp_path / "physiokit.safetensors"
    code = main([
        f"{DATA}/P11_*.csv", f"{DATA}/P12_*.csv", f"{DATA}/P21_*.csv",
        "--column", "PPG Finger", "--time-column", "arduino_ts",
        "--val", f"{DATA}/P22_*.csv", f"{DATA}/P[12][12]_*.csv@PPG Ear",
        "--out", str(out), "--no-progress",
    ])
    assert code == 0, capsys.readouterr().err
    report = read_strict_json(out.with_suffix(".report.json"))
    assert len(report["recordings"]) == 20 and report["skipped"] == []
    assert report["waveform_r"] >= 0.99
    assert report["hr"]["mae"] <= 0.2
    assert all(r["waveform_r"] >= 0.98 for r in report["recordings"])
